package edge

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/flowlake/flowlake/ingest/flow"
	"github.com/flowlake/flowlake/storage/schema"
)

// quarantineLine is one line of the quarantine file (JSON lines): a row the
// decoder's time window set aside, with what an operator needs to find its
// exporter and judge its clock. Times are integers (µs since the epoch) as
// well as text, because a corrupt time may lie beyond what RFC 3339 can
// write (year 111613).
type quarantineLine struct {
	Reason     string      `json:"reason"`
	Received   time.Time   `json:"received"`
	Exporter   string      `json:"exporter"`
	TimeUs     int64       `json:"time_us"`
	Time       string      `json:"time"`
	Window     [2]string   `json:"window"`
	Row        schema.Flow `json:"row"`
	RowSrcAddr string      `json:"src_addr"`
	RowDstAddr string      `json:"dst_addr"`
}

// quarantine appends quarantined rows to a JSON-lines file, rotating it to
// <file>.1 when it reaches max bytes (the previous .1 is replaced: the
// quarantine is for inspection, bounded on disk). Safe for concurrent use.
type quarantine struct {
	path        string
	max         int64
	past, ahead time.Duration
	stats       *Stats
	log         *slog.Logger

	mu       sync.Mutex
	f        *os.File
	size     int64
	lastWarn time.Time // rate-limits the warning about rows not kept
}

// warnEvery bounds how often rows that cannot be kept are logged (they are
// all counted): a broken exporter must not flood the log.
const warnEvery = time.Minute

func newQuarantine(path string, max int64, fc flow.Config, stats *Stats, log *slog.Logger) *quarantine {
	return &quarantine{path: path, max: max, past: fc.MaxPast, ahead: fc.MaxFuture, stats: stats, log: log}
}

// write appends rows. With no file configured, or when writing fails, the
// rows are counted as lost (QuarantineLost) and logged at warning level:
// they are never dropped without a trace.
func (q *quarantine) write(rows []flow.QuarantinedRow) {
	if len(rows) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.path == "" {
		lost := q.stats.QuarantineLost.Add(uint64(len(rows)))
		if now := time.Now(); now.Sub(q.lastWarn) >= warnEvery {
			q.lastWarn = now
			q.log.Warn("rows outside the time window not kept: no quarantine file (edge.quarantine_file)", "rows", len(rows),
				"lost_total", lost, "exporter", rows[0].Exporter.String(), "time_us", rows[0].Row.Time)
		}
		return
	}
	var buf []byte
	for _, r := range rows {
		b, err := json.Marshal(q.line(r))
		if err != nil { // cannot happen: every field marshals
			q.stats.QuarantineLost.Add(1)
			continue
		}
		buf = append(append(buf, b...), '\n')
	}
	if err := q.append(buf); err != nil {
		lost := q.stats.QuarantineLost.Add(uint64(len(rows)))
		if now := time.Now(); now.Sub(q.lastWarn) >= warnEvery {
			q.lastWarn = now
			q.log.Error("write quarantine file", "file", q.path, "rows_lost", len(rows), "lost_total", lost, "err", err)
		}
		return
	}
	q.stats.QuarantineRows.Add(uint64(len(rows)))
}

func (q *quarantine) line(r flow.QuarantinedRow) quarantineLine {
	lo, hi := r.Received.Add(-q.past), r.Received.Add(q.ahead)
	why := "after"
	if r.Row.Time < schema.Micros(lo) {
		why = "before"
	}
	return quarantineLine{
		Reason:   fmt.Sprintf("flow start %s the window [received−%s, received+%s]", why, q.past, q.ahead),
		Received: r.Received.UTC(), Exporter: r.Exporter.String(),
		TimeUs: r.Row.Time, Time: microsText(r.Row.Time),
		Window: [2]string{lo.UTC().Format(time.RFC3339Nano), hi.UTC().Format(time.RFC3339Nano)},
		Row:    r.Row, RowSrcAddr: r.Row.SrcAddr.String(), RowDstAddr: r.Row.DstAddr.String(),
	}
}

// microsText writes µs since the epoch as a UTC date, including years
// beyond 9999 (which RFC 3339 cannot hold).
func microsText(us int64) string {
	t := time.UnixMicro(us).UTC()
	return fmt.Sprintf("%d-%02d-%02dT%02d:%02d:%02d.%06dZ", t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1000)
}

// append writes b, opening and rotating the file as needed.
func (q *quarantine) append(b []byte) error {
	if q.f != nil && q.size > 0 && q.size+int64(len(b)) > q.max {
		err := q.f.Close()
		q.f = nil
		if err2 := os.Rename(q.path, q.path+".1"); err2 != nil {
			return errors.Join(err, fmt.Errorf("rotate quarantine file: %w", err2))
		}
		q.stats.QuarantineRotations.Add(1)
	}
	if q.f == nil {
		if err := os.MkdirAll(filepath.Dir(q.path), 0o755); err != nil {
			return fmt.Errorf("quarantine directory: %w", err)
		}
		f, err := os.OpenFile(q.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("open quarantine file: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			return errors.Join(fmt.Errorf("stat quarantine file: %w", err), f.Close())
		}
		q.f, q.size = f, st.Size()
	}
	n, err := q.f.Write(b)
	q.size += int64(n)
	if err != nil {
		return fmt.Errorf("append to quarantine file: %w", err)
	}
	return nil
}

// close closes the file.
func (q *quarantine) close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.f == nil {
		return nil
	}
	err := q.f.Close()
	q.f = nil
	if err != nil {
		return fmt.Errorf("close quarantine file: %w", err)
	}
	return nil
}
