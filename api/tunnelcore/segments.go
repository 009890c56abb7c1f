package tunnelcore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"strconv"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
	wire "github.com/flowlake/flowlake/tunnel"
)

// MaxSegmentBytes bounds a segment uploaded over the tunnel, like the PUT
// path's limit.
const MaxSegmentBytes = 1 << 30

// Ledger remembers the content hash of every uploaded segment, so the
// same bytes under another id publish nothing (the PUT path's ledger,
// api.IngestLedger). *meta.Store implements it.
type Ledger interface {
	ClaimContent(ctx context.Context, hash, id, source string, keep time.Duration) (owner string, err error)
	ReleaseContent(ctx context.Context, hash, id string) error
}

// inStream is an edge-opened subconnection being received: a segment
// upload, spooled to a temporary file and hashed as it comes.
type inStream struct {
	service string
	id      string
	file    *os.File
	sum     hash.Hash
	size    int64
	err     string
}

// data takes one piece of a segment upload: the first is its id.
func (st *inStream) data(p []byte) error {
	if st.id == "" {
		if len(p) == 0 || len(p) > 200 {
			return errors.New("segment upload without an id")
		}
		st.id = string(p)
		return nil
	}
	if st.size+int64(len(p)) > MaxSegmentBytes {
		return fmt.Errorf("segment %s larger than %d bytes", st.id, MaxSegmentBytes)
	}
	st.size += int64(len(p))
	if st.err != "" {
		return nil
	}
	if st.file == nil {
		f, err := os.CreateTemp("", "flowlake-tunnel-*.parquet")
		if err != nil {
			st.err = "core: temporary file: " + err.Error()
			return nil
		}
		st.file, st.sum = f, sha256.New()
	}
	if _, err := st.file.Write(p); err != nil {
		st.err = "core: temporary file: " + err.Error()
		return nil
	}
	st.sum.Write(p)
	return nil
}

func (st *inStream) discard() {
	if st.file != nil {
		_ = st.file.Close()
		_ = os.Remove(st.file.Name())
		st.file = nil
	}
}

// SegmentResult is the answer to a segment upload over the tunnel. An
// answer without Error means the segment is in the lake: published now
// (Created), by an earlier upload of the same id (a retry), or under
// another id with the same bytes (DuplicateOf). Invalid marks an error
// that retrying the same bytes cannot cure (the edge sets the segment
// aside); any other error is worth a retry.
type SegmentResult struct {
	ID          string `json:"id"`
	Rows        int64  `json:"rows,omitempty"`
	Created     bool   `json:"created"`
	DuplicateOf string `json:"duplicate_of,omitempty"`
	Error       string `json:"error,omitempty"`
	Invalid     bool   `json:"invalid,omitempty"`
}

// finishSegment publishes a received segment and answers on its stream.
func (s *Server) finishSegment(ctx context.Context, ss *session, stream uint32, st *inStream) {
	defer st.discard()
	res := s.publishSegment(ctx, ss.serial, st)
	switch {
	case res.Error != "":
		s.log.Warn("segment upload over the tunnel refused", "serial", ss.serial, "id", st.id, "invalid", res.Invalid, "err", res.Error)
	case res.DuplicateOf != "":
		s.log.Info("segment upload over the tunnel: the same bytes are in the lake under another id; nothing written", "serial", ss.serial, "id", st.id, "duplicate_of", res.DuplicateOf)
	case !res.Created:
		s.log.Info("segment upload over the tunnel: already in the lake (a retry); nothing written", "serial", ss.serial, "id", st.id)
	}
	body, _ := json.Marshal(res)
	if ss.send(ctx, wire.Frame{Kind: wire.KindData, Stream: stream, Payload: body}) == nil {
		_ = ss.send(ctx, wire.Frame{Kind: wire.KindClose, Stream: stream})
	}
}

// publishSegment makes the checks and the idempotence of the PUT path
// (api's ingestSegment): only segments of the edge's own source (its
// serial), rows inside the accepted time window, a content already
// claimed under another id answered as its duplicate, and otherwise the
// segment validated and published under its id, which publishes nothing
// for an id already in the lake.
func (s *Server) publishSegment(ctx context.Context, serial string, st *inStream) SegmentResult {
	res := SegmentResult{ID: st.id}
	invalid := func(format string, a ...any) SegmentResult {
		res.Error, res.Invalid = fmt.Sprintf(format, a...), true
		return res
	}
	source, _, err := lake.ParseSegmentID(st.id)
	switch {
	case st.err != "":
		res.Error = st.err
		return res
	case err != nil:
		return invalid("%v", err)
	case source != serial:
		return invalid("segment %s: an edge uploads only its own segments (source %q)", st.id, serial)
	case s.deps.Publisher == nil:
		res.Error = "this core does not accept segments"
		return res
	case st.file == nil:
		return invalid("segment %s: no bytes", st.id)
	}
	minT, maxT, err := segmentTimes(st.file, st.size)
	if err != nil {
		return invalid("segment %s: %v", st.id, err)
	}
	if err := s.inWindow(minT, maxT); err != nil {
		return invalid("segment %s: %v", st.id, err)
	}
	sum := hex.EncodeToString(st.sum.Sum(nil))
	if s.deps.Ledger != nil {
		owner, err := s.deps.Ledger.ClaimContent(ctx, sum, st.id, source, s.cfg.IngestMaxAge+s.cfg.IngestMaxFuture)
		if err != nil {
			res.Error = fmt.Sprintf("ingest %s: %v", st.id, err)
			return res
		}
		if owner != st.id {
			res.DuplicateOf = owner
			return res
		}
	}
	pub, err := s.deps.Publisher.Publish(ctx, st.id, st.file, st.size)
	if err != nil {
		// Not in the lake: a corrected upload of the same content under
		// another id must not be taken for a duplicate.
		if s.deps.Ledger != nil {
			if rerr := s.deps.Ledger.ReleaseContent(context.WithoutCancel(ctx), sum, st.id); rerr != nil {
				s.log.Error("release ingest content claim", "id", st.id, "err", rerr)
			}
		}
		res.Error = err.Error()
		res.Invalid = errors.Is(err, lake.ErrCorrupt) || errors.Is(err, lake.ErrSegmentID)
		return res
	}
	res.Rows, res.Created = pub.Rows, pub.Created
	if pub.Created {
		s.segments.Add(1)
	}
	return res
}

// segmentTimes reads the time range a segment's footer declares (Publish
// checks every row against it).
func segmentTimes(f *os.File, size int64) (minT, maxT time.Time, err error) {
	pf, _, err := lake.OpenFile(f, size)
	if err != nil {
		return minT, maxT, err
	}
	for _, m := range []struct {
		key string
		t   *time.Time
	}{{schema.MetaMinTime, &minT}, {schema.MetaMaxTime, &maxT}} {
		v, _ := pf.Lookup(m.key)
		us, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return minT, maxT, fmt.Errorf("%w: metadata %s=%q is not an integer", lake.ErrCorrupt, m.key, v)
		}
		*m.t = schema.FromMicros(us).UTC()
	}
	return minT, maxT, nil
}

// inWindow checks a segment's rows against the accepted window around the
// core's clock (Config.IngestMaxAge and IngestMaxFuture; 0 is no bound).
func (s *Server) inWindow(minT, maxT time.Time) error {
	now := s.deps.Now()
	const layout = time.RFC3339
	if a := s.cfg.IngestMaxAge; a > 0 && minT.Before(now.Add(-a)) {
		return fmt.Errorf("rows from %s are older than the accepted window (%s before the core's clock %s: serve.ingest_max_age)",
			minT.Format(layout), a, now.UTC().Format(layout))
	}
	if f := s.cfg.IngestMaxFuture; f > 0 && maxT.After(now.Add(f)) {
		return fmt.Errorf("rows up to %s lie in the future beyond the accepted window (%s after the core's clock %s: serve.ingest_max_future)",
			maxT.Format(layout), f, now.UTC().Format(layout))
	}
	return nil
}
