package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
)

// IngestPath is the core's upload endpoint; the segment id follows it.
const IngestPath = "/api/v1/ingest/segments/"

// ErrRejected marks an upload the core refused as invalid: retrying the
// same bytes cannot succeed, so the shipper sets the segment aside. An
// Uploader wraps it in such errors.
var ErrRejected = errors.New("rejected by the core")

// Uploader uploads one spooled segment to the core by another way than
// PUT: the edge↔core tunnel (ShipConfig.Tunnel). It returns nil only when
// the core answered that the segment is in the lake (published now, or
// before under the same id or content), an error wrapping ErrRejected when
// the core refused it as invalid, and any other error when the upload may
// succeed later (no tunnel, lost answer, core failure). Uploads must be
// idempotent by id: a lost answer makes the shipper upload again.
type Uploader interface {
	UploadSegment(ctx context.Context, id string, r io.ReaderAt, size int64) error
}

// shipper uploads spooled segments to the core, oldest first, deleting
// each only after the core acknowledged it (PUT: 200 or 201; the tunnel:
// an answer without error). Failures back off exponentially with full
// jitter between BackoffMin and BackoffMax.
type shipper struct {
	cfg    ShipConfig
	base   *url.URL // PUT only
	token  string   // PUT only
	client *http.Client
	up     Uploader // the tunnel; nil: PUT
	spool  *spool
	stats  *Stats
	log    *slog.Logger
	wakeC  chan struct{}
	kickC  chan struct{} // ship now, even while backing off

	mu      sync.Mutex
	lastErr string
	lastOK  time.Time
}

func newShipper(cfg ShipConfig, up Uploader, sp *spool, stats *Stats, log *slog.Logger) (*shipper, error) {
	if cfg.Tunnel {
		if up == nil {
			return nil, errors.New("edge: ship over the tunnel without an uploader (Deps.Uploader)")
		}
		return &shipper{cfg: cfg, up: up, spool: sp, stats: stats, log: log.With("core", "tunnel"), wakeC: make(chan struct{}, 1), kickC: make(chan struct{}, 1)}, nil
	}
	base, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil {
		return nil, fmt.Errorf("edge: ship.url: %w", err)
	}
	token := cfg.Token
	if cfg.TokenFile != "" {
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("edge: ship.token_file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		return nil, errors.New("edge: ship: empty token")
	}
	return &shipper{cfg: cfg, base: base, token: token, client: &http.Client{Timeout: cfg.Timeout},
		spool: sp, stats: stats, log: log.With("core", base.Redacted()), wakeC: make(chan struct{}, 1), kickC: make(chan struct{}, 1)}, nil
}

// where names the core for logs and the status: its URL, or "tunnel".
func (sh *shipper) where() string {
	if sh.base == nil {
		return "tunnel"
	}
	return sh.base.Redacted()
}

// kick makes the shipper scan the spool now, even while it backs off
// after failures: the way to the core is back (the tunnel established).
func (sh *shipper) kick() {
	select {
	case sh.kickC <- struct{}{}:
	default:
	}
}

// wake makes the shipper scan the spool now (unless it is backing off).
func (sh *shipper) wake() {
	select {
	case sh.wakeC <- struct{}{}:
	default:
	}
}

// run ships until ctx is done.
func (sh *shipper) run(ctx context.Context) {
	failures := 0
	for {
		wait := sh.cfg.Interval
		if err := sh.shipAll(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			wait = backoff(sh.cfg.BackoffMin, sh.cfg.BackoffMax, failures)
			if failures == 1 || failures%10 == 0 { // not a line per retry while the core is down
				sh.log.Warn("upload failed; retrying", "in", wait.Round(time.Millisecond), "failures", failures, "err", err)
			}
		} else {
			failures = 0
		}
		t := time.NewTimer(wait)
		wakeC := sh.wakeC
		if failures > 0 {
			wakeC = nil // back off: new segments wait too
		}
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-wakeC:
			t.Stop()
		case <-sh.kickC:
			t.Stop()
			failures = 0
		case <-t.C:
		}
	}
}

// backoff returns the wait after n consecutive failures: a uniformly
// random duration in [min, min·2^(n-1)] capped at max ("full jitter").
func backoff(lo, hi time.Duration, n int) time.Duration {
	ceil := hi
	if n < 32 && lo<<(n-1) < hi && lo<<(n-1) > 0 {
		ceil = lo << (n - 1)
	}
	if ceil <= lo {
		return lo
	}
	return lo + rand.N(ceil-lo+1)
}

// shipAll uploads every spooled segment; it stops at the first failure
// that is not a rejection.
func (sh *shipper) shipAll(ctx context.Context) error {
	segs, err := sh.spool.pending(ctx)
	if err != nil {
		return err
	}
	for _, seg := range segs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !sh.spool.claim(seg) {
			continue // dropped by the quota meanwhile
		}
		err := sh.upload(ctx, seg)
		switch {
		case err == nil:
			if rerr := sh.spool.release(context.WithoutCancel(ctx), seg, true); rerr != nil {
				sh.log.Error("remove shipped segment from the spool", "key", seg.Key, "err", rerr)
			}
			sh.stats.SegmentsShipped.Add(1)
			sh.stats.RowsShipped.Add(uint64(seg.Rows))
			sh.stats.BytesShipped.Add(uint64(seg.Bytes))
			sh.mu.Lock()
			sh.lastOK, sh.lastErr = time.Now(), ""
			sh.mu.Unlock()
		case errors.Is(err, ErrRejected):
			sh.stats.SegmentsRejected.Add(1)
			sh.stats.RowsRejected.Add(uint64(seg.Rows))
			sh.log.Error("the core rejected a segment; set aside in "+rejectedDir, "key", seg.Key, "rows", seg.Rows, "err", err)
			if rerr := sh.spool.reject(context.WithoutCancel(ctx), seg); rerr != nil {
				sh.log.Error("set rejected segment aside", "key", seg.Key, "err", rerr)
			}
		default:
			_ = sh.spool.release(ctx, seg, false)
			if ctx.Err() == nil {
				sh.stats.UploadFailures.Add(1)
				sh.mu.Lock()
				sh.lastErr = err.Error()
				sh.mu.Unlock()
			}
			return err
		}
	}
	return nil
}

// upload ships one segment, over the tunnel or with PUT. nil means the
// core acknowledged it.
func (sh *shipper) upload(ctx context.Context, seg lake.Segment) error {
	obj, err := sh.spool.open(ctx, seg)
	if err != nil {
		return fmt.Errorf("open spooled %s: %w", seg.Key, err)
	}
	defer obj.Close()
	id := lake.SegmentID(seg)
	if sh.up != nil {
		ctx, cancel := context.WithTimeout(ctx, sh.cfg.Timeout)
		defer cancel()
		return sh.up.UploadSegment(ctx, id, obj, obj.Size())
	}
	u := sh.base.JoinPath(IngestPath, id)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), io.NewSectionReader(obj, 0, obj.Size()))
	if err != nil {
		return err
	}
	req.ContentLength = obj.Size()
	req.Header.Set("Authorization", "Bearer "+sh.token)
	req.Header.Set("Content-Type", "application/vnd.apache.parquet")
	resp, err := sh.client.Do(req)
	if err != nil {
		return fmt.Errorf("upload %s: %w", id, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated:
		return nil
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge || resp.StatusCode == http.StatusUnprocessableEntity:
		return fmt.Errorf("%w: upload %s: %s", ErrRejected, id, problemDetail(resp.Status, body))
	}
	return fmt.Errorf("upload %s: %s", id, problemDetail(resp.Status, body))
}

// problemDetail summarises an error answer (a problem document, usually).
func problemDetail(status string, body []byte) string {
	var p struct {
		Code   string `json:"code"`
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &p) == nil && (p.Code != "" || p.Detail != "") {
		return fmt.Sprintf("%s: %s: %s", status, p.Code, p.Detail)
	}
	if len(body) > 200 {
		body = body[:200]
	}
	return fmt.Sprintf("%s: %s", status, strings.TrimSpace(string(body)))
}

// state returns the last upload error (empty after a success) and the
// time of the last acknowledged upload.
func (sh *shipper) state() (string, time.Time) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.lastErr, sh.lastOK
}
