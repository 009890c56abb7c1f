package meta

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Prefixes of the tunnel's secrets (docs/tunnel.md): an edge's one-time
// enrolment secret, its tunnel credential once bound, and an unbinding
// code.
const (
	EnrollPrefix     = "fle_"
	CredentialPrefix = "flc_"
	UnbindPrefix     = "flu_"
)

// Admission is one serial number of the edge allow-list.
type Admission struct {
	Serial     string    `json:"serial"`
	AdmittedAt time.Time `json:"admitted_at"`
	AdmittedBy string    `json:"admitted_by"`
	// Bound is whether an edge presented the enrolment secret and holds a
	// tunnel credential.
	Bound   bool      `json:"bound"`
	BoundAt time.Time `json:"bound_at,omitzero"`
	// UnbindPending is whether an unbinding code was issued and has not
	// expired.
	UnbindPending bool `json:"unbind_pending"`
}

// AdmitEdge adds serial to the allow-list (or renews the enrolment of an
// admitted, unbound serial) and returns its one-time enrolment secret,
// shown once: the edge presents it with its serial to bind, so the serial,
// printed on the box, is never the only secret. A bound serial is
// ErrConflict: unbind it first.
func (s *Store) AdmitEdge(ctx context.Context, serial, by string) (string, error) {
	if err := ValidEdgeName(serial); err != nil {
		return "", fmt.Errorf("admit edge: %w", err)
	}
	secret, hash, err := newSecret(EnrollPrefix)
	if err != nil {
		return "", err
	}
	now := micros(s.nowTime())
	err = s.inTx(ctx, func(t tx) error {
		var bound sql.NullInt64
		err := t.queryRow(ctx, `SELECT bound_at FROM edge_admissions WHERE serial = ?`, serial).Scan(&bound)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = t.exec(ctx, `INSERT INTO edge_admissions (serial, admitted_at, admitted_by, enroll_hash) VALUES (?, ?, ?, ?)`, serial, now, by, hash)
			return err
		case err != nil:
			return err
		case bound.Valid:
			return fmt.Errorf("%w: edge %q is bound: issue an unbinding code and unbind it first", ErrConflict, serial)
		}
		_, err = t.exec(ctx, `UPDATE edge_admissions SET admitted_at = ?, admitted_by = ?, enroll_hash = ? WHERE serial = ?`, now, by, hash, serial)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("admit edge %q: %w", serial, err)
	}
	return secret, nil
}

// ListAdmissions returns the allow-list, by serial.
func (s *Store) ListAdmissions(ctx context.Context) ([]Admission, error) {
	now := micros(s.nowTime())
	return queryAll(ctx, s, "list edge admissions", func(r scanner) (Admission, error) {
		var a Admission
		var at int64
		var bound, unbind sql.NullInt64
		if err := r.Scan(&a.Serial, &at, &a.AdmittedBy, &bound, &unbind); err != nil {
			return a, err
		}
		a.AdmittedAt, a.BoundAt, a.Bound = fromMicros(at), fromNullMicros(bound), bound.Valid
		a.UnbindPending = unbind.Valid && unbind.Int64 > now
		return a, nil
	}, `SELECT serial, admitted_at, admitted_by, bound_at, unbind_expires FROM edge_admissions ORDER BY serial`)
}

// RevokeAdmission removes serial from the allow-list, bound or not: its
// credential stops working at the edge's next authentication.
func (s *Store) RevokeAdmission(ctx context.Context, serial string) error {
	res, err := s.exec(ctx, `DELETE FROM edge_admissions WHERE serial = ?`, serial)
	if err != nil {
		return fmt.Errorf("revoke edge %q: %w", serial, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("revoke edge %q: %w", serial, errors.Join(err, ErrNotFound))
	}
	return nil
}

// AuthenticateEdge checks an edge's serial and secret: its enrolment
// secret while unbound, its credential once bound. It returns whether the
// edge is bound. Any mismatch, an unknown serial included, is
// ErrUnauthenticated without saying which.
func (s *Store) AuthenticateEdge(ctx context.Context, serial, secret string) (bool, error) {
	if !wellFormed(secret, EnrollPrefix) && !wellFormed(secret, CredentialPrefix) {
		return false, fmt.Errorf("edge %q: %w", serial, ErrUnauthenticated)
	}
	var enroll, cred sql.NullString
	err := s.queryRow(ctx, `SELECT enroll_hash, credential_hash FROM edge_admissions WHERE serial = ?`, serial).Scan(&enroll, &cred)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("edge %q: %w", serial, ErrUnauthenticated)
	} else if err != nil {
		return false, fmt.Errorf("edge %q: %w", serial, s.closedErr(err))
	}
	h := hashSecret(secret)
	switch {
	case cred.Valid && equalHash(cred.String, h):
		return true, nil
	case !cred.Valid && enroll.Valid && equalHash(enroll.String, h):
		return false, nil
	}
	return false, fmt.Errorf("edge %q: %w", serial, ErrUnauthenticated)
}

// BindEdge consumes serial's enrolment secret and returns the edge's new
// tunnel credential, shown once. A second use of the same secret (a
// replayed registration) is ErrUnauthenticated.
func (s *Store) BindEdge(ctx context.Context, serial, enrollSecret string) (string, error) {
	if !wellFormed(enrollSecret, EnrollPrefix) {
		return "", fmt.Errorf("bind edge %q: %w", serial, ErrUnauthenticated)
	}
	cred, hash, err := newSecret(CredentialPrefix)
	if err != nil {
		return "", err
	}
	res, err := s.exec(ctx, `UPDATE edge_admissions SET credential_hash = ?, bound_at = ?, enroll_hash = NULL
		WHERE serial = ? AND enroll_hash = ? AND credential_hash IS NULL`, hash, micros(s.nowTime()), serial, hashSecret(enrollSecret))
	if err != nil {
		return "", fmt.Errorf("bind edge %q: %w", serial, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return "", fmt.Errorf("bind edge %q: %w", serial, errors.Join(err, ErrUnauthenticated))
	}
	return cred, nil
}

// IssueUnbindCode returns a code that unbinds the bound edge serial when
// the edge presents it within ttl (shown once; a new code replaces one not
// yet used).
func (s *Store) IssueUnbindCode(ctx context.Context, serial string, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", fmt.Errorf("%w: unbinding code lifetime %v: want more than 0", ErrInvalid, ttl)
	}
	code, hash, err := newSecret(UnbindPrefix)
	if err != nil {
		return "", err
	}
	res, err := s.exec(ctx, `UPDATE edge_admissions SET unbind_hash = ?, unbind_expires = ? WHERE serial = ? AND credential_hash IS NOT NULL`,
		hash, micros(s.nowTime().Add(ttl)), serial)
	if err != nil {
		return "", fmt.Errorf("unbinding code for %q: %w", serial, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return "", fmt.Errorf("unbinding code for %q: not an admitted, bound edge: %w", serial, errors.Join(err, ErrNotFound))
	}
	return code, nil
}

// UnbindEdge removes the binding of serial, and its admission with it,
// when the edge proves itself with its credential and presents the
// unbinding code the core issued; it must be admitted again. A wrong or
// expired code is ErrUnauthenticated and changes nothing.
func (s *Store) UnbindEdge(ctx context.Context, serial, credential, code string) error {
	if !wellFormed(code, UnbindPrefix) || !wellFormed(credential, CredentialPrefix) {
		return fmt.Errorf("unbind edge %q: %w", serial, ErrUnauthenticated)
	}
	res, err := s.exec(ctx, `DELETE FROM edge_admissions WHERE serial = ? AND credential_hash = ? AND unbind_hash = ? AND unbind_expires > ?`,
		serial, hashSecret(credential), hashSecret(code), micros(s.nowTime()))
	if err != nil {
		return fmt.Errorf("unbind edge %q: %w", serial, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("unbind edge %q: wrong or expired code: %w", serial, errors.Join(err, ErrUnauthenticated))
	}
	return nil
}

// equalHash compares two stored hashes in constant time.
func equalHash(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
