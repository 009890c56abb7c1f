package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// ValidEdgeName checks an edge name a token may be bound to. It is the
// rule segment sources follow (storage/lake): 1 to 64 letters, digits,
// '-', '_' or '.', not starting with a dot.
func ValidEdgeName(s string) error {
	if s == "" || len(s) > 64 || s != path.Base(s) || strings.HasPrefix(s, ".") {
		return fmt.Errorf("%w: edge %q: want 1-64 characters, no slash, not starting with a dot", ErrInvalid, s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("%w: edge %q: character %q not allowed (letters, digits, - _ .)", ErrInvalid, s, r)
		}
	}
	return nil
}

// normalizeEdges validates, sorts and deduplicates a token's edge list.
func normalizeEdges(edges []string) ([]string, error) {
	if len(edges) > 1000 {
		return nil, fmt.Errorf("%w: %d edges: at most 1000 per token", ErrInvalid, len(edges))
	}
	out := make([]string, 0, len(edges))
	for _, e := range edges {
		if err := ValidEdgeName(e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// MayWriteFor reports whether a caller may upload segments of source: a
// token bound to edges may write for those edges only; any other
// credential (an unbound token, a session) only for the source named like
// its user, so an edge's user and its edge id are one name. The
// ingest.write permission is checked apart.
func (p Principal) MayWriteFor(source string) bool {
	if len(p.Edges) > 0 {
		return slices.Contains(p.Edges, source)
	}
	return source == p.User.Name
}

// ClaimContent records that the uploaded content with the given hash is
// the segment id of source, unless that content was claimed before: then
// it returns the id it was first claimed under (which may be id itself, a
// retry) and records nothing. Claims are taken before a segment is
// published, so two concurrent uploads of one content under two ids
// publish it once. Claims older than keep are dropped on the way (none
// when keep is 0): the caller passes the age past which no content can be
// uploaded again anyway (its rows would be outside the accepted time
// window), so the ledger stays as small as the window.
func (s *Store) ClaimContent(ctx context.Context, hash, id, source string, keep time.Duration) (owner string, err error) {
	err = s.inTx(ctx, func(t tx) error {
		if keep > 0 {
			if _, err := t.exec(ctx, `DELETE FROM ingest_contents WHERE created_at < ?`, micros(s.nowTime().Add(-keep))); err != nil {
				return err
			}
		}
		err := t.queryRow(ctx, `SELECT segment_id FROM ingest_contents WHERE content_hash = ?`, hash).Scan(&owner)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		owner = id
		_, err = t.exec(ctx, `INSERT INTO ingest_contents (content_hash, segment_id, source, created_at) VALUES (?, ?, ?, ?)`,
			hash, id, source, micros(s.nowTime()))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("claim content of segment %s: %w", id, err)
	}
	return owner, nil
}

// ReleaseContent drops the claim of id on a content hash, when publishing
// the segment failed, so that a corrected upload under another id is not
// taken for a duplicate of nothing.
func (s *Store) ReleaseContent(ctx context.Context, hash, id string) error {
	if _, err := s.exec(ctx, `DELETE FROM ingest_contents WHERE content_hash = ? AND segment_id = ?`, hash, id); err != nil {
		return fmt.Errorf("release content of segment %s: %w", id, err)
	}
	return nil
}
