package edge

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowlake/flowlake/ingest/cloudconn"
	"github.com/flowlake/flowlake/ingest/tcptrace"
)

// DropConfig configures the drop folder (docs/edge.md, "Drop folder"):
// device displays saved as files in Dir are parsed by the kind they
// contain and written like the edge's other rows.
type DropConfig struct {
	// Dir is the watched folder; "" turns the drop folder off. Its done/
	// and failed/ subfolders receive the files taken.
	Dir string `yaml:"dir" koanf:"dir"`
	// Interval is how often Dir is listed (default 1s). A file is taken
	// once two listings in a row saw the same size and modification time.
	Interval time.Duration `yaml:"interval" koanf:"interval"`
	// MaxBytes refuses larger files (default 8 MiB): they are moved to
	// failed/ unread, and counted.
	MaxBytes int64 `yaml:"max_bytes" koanf:"max_bytes"`
	// TZ is the IANA zone the devices' clocks keep (default "UTC"): their
	// trace output prints times without one.
	TZ string `yaml:"tz" koanf:"tz"`
}

// DefaultDropConfig returns the drop folder's defaults, off.
func DefaultDropConfig() DropConfig {
	return DropConfig{Interval: time.Second, MaxBytes: 8 << 20, TZ: "UTC"}
}

// Enabled reports whether a drop folder is configured.
func (c DropConfig) Enabled() bool { return c.Dir != "" }

// Validate reports every invalid setting.
func (c DropConfig) Validate() error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	if c.Interval < 10*time.Millisecond || c.Interval > time.Hour {
		errs = append(errs, fmt.Errorf("interval %s is outside 10ms..1h", c.Interval))
	}
	if c.MaxBytes < 1 || c.MaxBytes > 1<<30 {
		errs = append(errs, fmt.Errorf("max_bytes %d is outside 1..1073741824", c.MaxBytes))
	}
	if _, err := time.LoadLocation(c.TZ); err != nil {
		errs = append(errs, fmt.Errorf("tz %q: %w", c.TZ, err))
	}
	return errors.Join(errs...)
}

// Drop folder failure causes, as counted on /metrics and the status.
const (
	dropOversize = "oversize"     // larger than max_bytes
	dropUnknown  = "unknown_kind" // neither tcp trace nor cloud display
	dropParse    = "parse"        // a malformed value (file:line:col)
	dropWrite    = "write"        // the segments could not be written
	dropRead     = "read"         // the file could not be read or moved
)

// dropCauses lists the causes in a stable order.
var dropCauses = []string{dropOversize, dropUnknown, dropParse, dropWrite, dropRead}

// DropStatus is the drop folder's part of the status.
type DropStatus struct {
	Dir string `json:"dir"`
	// Done and Failed count the files moved to done/ and failed/.
	Done   uint64 `json:"files_done"`
	Failed uint64 `json:"files_failed"`
	// FailedBy counts failed files by cause (oversize, unknown_kind,
	// parse, write, read).
	FailedBy map[string]uint64 `json:"files_failed_by_cause"`
	// Rows counts rows written by dataset.
	Rows map[string]uint64 `json:"rows_written"`
	// LinesUnknown counts lines that were no display output, kept out of
	// the rows (their files still go to done/).
	LinesUnknown uint64 `json:"lines_unknown"`
	// ConnsKnown counts traced connections left out, with their packets,
	// because the edge stored their trace_id already (a file dropped
	// twice, overlapping dumps, one dump pasted twice into a file).
	ConnsKnown uint64 `json:"connections_already_imported"`
	// LastError is the last failure's message.
	LastError string `json:"last_error,omitempty"`
}

// fileSeen is what a listing saw of a file.
type fileSeen struct {
	size int64
	mod  time.Time
}

// dropWatcher polls the drop folder and takes complete files.
type dropWatcher struct {
	e    *Edge
	cfg  DropConfig
	seen map[string]fileSeen // only run's goroutine touches it
	// stuck holds files that could not be moved out of the folder: they
	// are not taken again (nor their rows written twice) while unchanged.
	stuck map[string]fileSeen
	loc   *time.Location

	// index is a remote edge's trace index, loaded at the first trace.
	index *traceIndex

	done, failed, linesUnknown, connsKnown atomic.Uint64
	failedBy                               [5]atomic.Uint64 // by dropCauses index
	rowsConns, rowsPackets, rowsCloud      atomic.Uint64
	mu                                     sync.Mutex
	lastErr                                string
	cancel                                 context.CancelFunc
	stopped                                chan struct{}
}

func newDropWatcher(e *Edge) (*dropWatcher, error) {
	loc, err := time.LoadLocation(e.cfg.Drop.TZ)
	if err != nil {
		return nil, fmt.Errorf("edge: drop: tz %q: %w", e.cfg.Drop.TZ, err)
	}
	return &dropWatcher{e: e, cfg: e.cfg.Drop, seen: map[string]fileSeen{}, stuck: map[string]fileSeen{}, loc: loc}, nil
}

// start creates the folders and starts polling.
func (d *dropWatcher) start(ctx context.Context) error {
	for _, dir := range []string{d.cfg.Dir, filepath.Join(d.cfg.Dir, "done"), filepath.Join(d.cfg.Dir, "failed")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("edge: drop folder: %w", err)
		}
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel, d.stopped = cancel, make(chan struct{})
	go d.run(rctx)
	return nil
}

// stop stops polling; a file being taken is finished first. Files not
// yet complete stay in the folder for the next start.
func (d *dropWatcher) stop() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	<-d.stopped
}

func (d *dropWatcher) run(ctx context.Context) {
	defer close(d.stopped)
	tick := time.NewTicker(d.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			d.scan(ctx)
		}
	}
}

// scan lists the folder once and takes every file whose size and
// modification time did not change since the previous listing. Names
// starting with "." or ending in ".tmp" are being written and left alone;
// done and failed are the folder's own.
func (d *dropWatcher) scan(ctx context.Context) {
	ents, err := os.ReadDir(d.cfg.Dir)
	if err != nil {
		d.fail("", dropRead, fmt.Errorf("list %s: %w", d.cfg.Dir, err))
		return
	}
	present := map[string]bool{}
	for _, ent := range ents {
		name := ent.Name()
		if !ent.Type().IsRegular() || name == "done" || name == "failed" || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, ".error") {
			continue
		}
		info, err := ent.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			continue // listed again next time
		}
		present[name] = true
		now := fileSeen{size: info.Size(), mod: info.ModTime()}
		if s, ok := d.stuck[name]; ok && s == now {
			continue
		}
		delete(d.stuck, name)
		if prev, ok := d.seen[name]; !ok || prev != now {
			d.seen[name] = now
			continue
		}
		delete(d.seen, name)
		d.take(ctx, name, info.Size())
		if _, err := os.Lstat(filepath.Join(d.cfg.Dir, name)); err == nil {
			d.stuck[name] = now // neither in done/ nor in failed/
		}
		if ctx.Err() != nil {
			return
		}
	}
	for _, m := range []map[string]fileSeen{d.seen, d.stuck} {
		for name := range m {
			if !present[name] {
				delete(m, name)
			}
		}
	}
}

// take reads, parses and writes one complete file, then moves it to
// done/ or (with a NAME.error file saying why) to failed/.
func (d *dropWatcher) take(ctx context.Context, name string, size int64) {
	path := filepath.Join(d.cfg.Dir, name)
	if size > d.cfg.MaxBytes {
		d.fail(name, dropOversize, fmt.Errorf("%s: %d bytes exceed drop.max_bytes %d; not read", name, size, d.cfg.MaxBytes))
		return
	}
	body, err := os.ReadFile(path)
	if err != nil {
		d.fail(name, dropRead, fmt.Errorf("read %s: %w", name, err))
		return
	}
	if int64(len(body)) > d.cfg.MaxBytes { // grew after the listing
		d.fail(name, dropOversize, fmt.Errorf("%s: %d bytes exceed drop.max_bytes %d; not read", name, len(body), d.cfg.MaxBytes))
		return
	}
	switch kind := sniffDrop(body); kind {
	case dropTCPTrace:
		res, err := tcptrace.Parse(bytes.NewReader(body), tcptrace.Options{File: name, Edge: d.e.cfg.ID, Location: d.loc})
		if err != nil {
			d.fail(name, dropParse, err) // names file:line:col
			return
		}
		d.linesUnknown.Add(uint64(len(res.Unknown)))
		// Connections stored already (the same output dropped again, an
		// overlapping dump) are left out by trace_id and counted, as the
		// core's import and push leave them out.
		known, err := d.knownTraces(ctx, res.Conns)
		if err != nil {
			d.fail(name, dropWrite, fmt.Errorf("%s: %w", name, err))
			return
		}
		d.connsKnown.Add(uint64(res.LeaveOut(known)))
		nc, err1 := writeRows(ctx, d.e.lake, d.e.cfg.ID, res.Conns)
		d.rowsConns.Add(uint64(nc))
		var err3 error
		if err1 == nil {
			err3 = d.remember(res.Conns)
		}
		np, err2 := writeRows(ctx, d.e.lake, d.e.cfg.ID, res.Packets)
		d.rowsPackets.Add(uint64(np))
		if err := errors.Join(err1, err2); err != nil {
			d.fail(name, dropWrite, fmt.Errorf("%s: write tcp_conns/tcp_packets: %w", name, err))
			return
		}
		if err3 != nil {
			d.fail(name, dropWrite, fmt.Errorf("%s: rows written, but not remembered (dropped again, they would be written again): %w", name, err3))
			return
		}
	case dropCloud:
		info, err := os.Stat(path)
		if err != nil {
			d.fail(name, dropRead, fmt.Errorf("stat %s: %w", name, err))
			return
		}
		// The display prints no time: the file's modification time, when
		// it was saved, is the observation's.
		res, err := cloudconn.Parse(bytes.NewReader(body), cloudconn.Options{File: name, Edge: d.e.cfg.ID, Observed: info.ModTime(), Location: d.loc})
		if err != nil {
			d.fail(name, dropParse, err)
			return
		}
		d.linesUnknown.Add(uint64(len(res.Unknown)))
		n, err := writeRows(ctx, d.e.lake, d.e.cfg.ID, res.Rows)
		d.rowsCloud.Add(uint64(n))
		if err != nil {
			d.fail(name, dropWrite, fmt.Errorf("%s: write cloud_conn: %w", name, err))
			return
		}
	default:
		d.fail(name, dropUnknown, fmt.Errorf("%s:1:1: neither 'display tcp trace' nor 'display cloud-management state' output (no prompt naming the command and no line of either in the first %d lines)", name, sniffLines))
		return
	}
	if d.e.spool != nil {
		d.e.spool.enforce(ctx)
		d.e.shipper.wake()
	}
	if err := moveInto(path, filepath.Join(d.cfg.Dir, "done")); err != nil {
		d.fail(name, dropRead, err)
		return
	}
	d.done.Add(1)
	d.e.log.Info("drop folder file taken", "file", name)
}

// fail counts a failed file and moves it, with NAME.error holding err, to
// failed/. name "" is a failure of the folder itself.
func (d *dropWatcher) fail(name, cause string, err error) {
	for i, c := range dropCauses {
		if c == cause {
			d.failedBy[i].Add(1)
		}
	}
	d.mu.Lock()
	d.lastErr = err.Error()
	d.mu.Unlock()
	d.e.log.Warn("drop folder file failed", "file", name, "cause", cause, "err", err)
	if name == "" {
		return
	}
	d.failed.Add(1)
	failed := filepath.Join(d.cfg.Dir, "failed")
	dst, merr := moveTarget(failed, name)
	if merr == nil {
		merr = os.Rename(filepath.Join(d.cfg.Dir, name), dst)
	}
	if merr == nil {
		merr = os.WriteFile(dst+".error", []byte(err.Error()+"\n"), 0o644)
	}
	if merr != nil {
		d.e.log.Error("drop folder: cannot move a failed file aside", "file", name, "err", merr)
	}
}

// moveInto moves path into dir, under a free name.
func moveInto(path, dir string) error {
	dst, err := moveTarget(dir, filepath.Base(path))
	if err != nil {
		return err
	}
	if err := os.Rename(path, dst); err != nil {
		return fmt.Errorf("move %s to %s: %w", path, dir, err)
	}
	return nil
}

// moveTarget returns dir/name, or dir/name.N for the first N free: a file
// dropped twice under the same name keeps both copies.
func moveTarget(dir, name string) (string, error) {
	dst := filepath.Join(dir, name)
	for n := 1; n < 10000; n++ {
		_, err := os.Lstat(dst)
		if errors.Is(err, fs.ErrNotExist) {
			return dst, nil
		}
		if err != nil {
			return "", fmt.Errorf("move %s into %s: %w", name, dir, err)
		}
		dst = filepath.Join(dir, fmt.Sprintf("%s.%d", name, n))
	}
	return "", fmt.Errorf("no free name for %s in %s", name, dir)
}

// status reads the counters.
func (d *dropWatcher) status() *DropStatus {
	st := &DropStatus{Dir: d.cfg.Dir, Done: d.done.Load(), Failed: d.failed.Load(), FailedBy: map[string]uint64{},
		Rows:         map[string]uint64{"tcp_conns": d.rowsConns.Load(), "tcp_packets": d.rowsPackets.Load(), "cloud_conn": d.rowsCloud.Load()},
		LinesUnknown: d.linesUnknown.Load(), ConnsKnown: d.connsKnown.Load()}
	for i, c := range dropCauses {
		st.FailedBy[c] = d.failedBy[i].Load()
	}
	d.mu.Lock()
	st.LastError = d.lastErr
	d.mu.Unlock()
	return st
}

// The kinds of file the drop folder takes.
const (
	dropNone = iota
	dropTCPTrace
	dropCloud
)

// sniffLines is how many lines sniffDrop reads.
const sniffLines = 64

// sniffDrop tells the kind of display in body from its first lines: the
// prompt's command when there is one ("<sw1> display tcp trace ...",
// "<sw1> display cloud-management state"), else a line only that output
// prints.
func sniffDrop(body []byte) int {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for i := 0; i < sniffLines && sc.Scan(); i++ {
		l := strings.ToLower(sc.Text())
		switch {
		case strings.Contains(l, "display tcp trace"):
			return dropTCPTrace
		case strings.Contains(l, "display cloud-management"):
			return dropCloud
		case strings.Contains(l, "mdc id:") || strings.Contains(l, "local addr:port") || strings.Contains(l, "r (reason):"):
			return dropTCPTrace
		case strings.Contains(l, "cloud connection state") || strings.Contains(sc.Text(), "云平台连接状态"):
			return dropCloud
		}
	}
	return dropNone
}
