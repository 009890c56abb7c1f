package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/flowlake/flowlake/storage/query"
)

// newTable returns a tab-aligned writer; Flush it when done.
func newTable(w io.Writer, header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	return tw
}

// humanBytes formats a size with binary units: 512 B, 1.5 KiB, 45.2 MiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// humanCount formats a count compactly: 950, 12.3k, 4.56M.
func humanCount(n int64) string {
	switch {
	case n < 10_000:
		return fmt.Sprint(n)
	case n < 1_000_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	case n < 1_000_000_000:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2fG", float64(n)/1e9)
}

// tableTime formats a time for tables (UTC, to the second); "-" for zero.
func tableTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// timeFlag is a flag holding a UTC instant, accepting RFC 3339 and the
// shorter 2006-01-02T15:04, 2006-01-02T15 and 2006-01-02 (all UTC).
type timeFlag struct{ t time.Time }

var _ pflag.Value = (*timeFlag)(nil)

// Set parses s.
func (f *timeFlag) Set(s string) error {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02T15", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			f.t = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("time %q: want RFC 3339 (2026-11-03T10:00:00Z) or 2026-11-03[T10[:00]] in UTC", s)
}

// String formats the time as RFC 3339, empty when unset.
func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

// Type names the flag's type in help.
func (f *timeFlag) Type() string { return "time" }

// writeJSONLines writes res as one JSON object per row and line, its keys
// in the order of the result's columns (--columns, or group-by then
// metrics), where encoding a map would sort them.
func writeJSONLines(w io.Writer, res *query.Result) error {
	fields := res.Schema.Fields()
	keys := make([][]byte, len(fields))
	for i, f := range fields {
		k, err := json.Marshal(f.Name)
		if err != nil {
			return fmt.Errorf("write json: column %q: %w", f.Name, err)
		}
		keys[i] = k
	}
	bw := bufio.NewWriter(w)
	var line bytes.Buffer
	err := res.EachRow(func(obj map[string]any) error {
		line.Reset()
		line.WriteByte('{')
		for i, f := range fields {
			if i > 0 {
				line.WriteByte(',')
			}
			line.Write(keys[i])
			line.WriteByte(':')
			v, err := json.Marshal(obj[f.Name])
			if err != nil {
				return fmt.Errorf("write json: column %s: %w", f.Name, err)
			}
			line.Write(v)
		}
		line.WriteString("}\n")
		_, err := bw.Write(line.Bytes())
		return err
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}
