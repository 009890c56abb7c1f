package cloudconn

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/flowlake/flowlake/storage/schema"
)

// labelWidth is the width the display pads its labels to: the longest,
// "Dropped packets after reaching buffer limit".
const labelWidth = 43

// FormatDuration prints seconds as the display does: "00d 00h 02m 01s".
func FormatDuration(s uint32) string {
	return fmt.Sprintf("%02dd %02dh %02dm %02ds", s/86400, s/3600%24, s/60%60, s%60)
}

// Format writes row as `display cloud-management state` prints it, in the
// configuration guide's layout (every field, the guide's labels and
// order), times in loc (nil is UTC). The down reason is printed as the
// device does, first letter in lower case and its details always shown
// ("socket connection error (Details:N/A)").
func Format(w io.Writer, row schema.CloudConn, loc *time.Location) error {
	if loc == nil {
		loc = time.UTC
	}
	ts := func(us int64) string {
		if us == 0 {
			return NA
		}
		return schema.FromMicros(us).In(loc).Format(TimeLayout)
	}
	str := func(s string) string {
		if s == "" {
			return NA
		}
		return s
	}
	port := func(p uint16) string {
		if p == 0 {
			return NA
		}
		return fmt.Sprint(p)
	}
	addr := NA
	if !row.ServerAddr.IsZero() {
		addr = row.ServerAddr.String()
	}
	down := NA
	if row.LastDownReason != "" {
		down = lowerFirst(row.LastDownReason) + " (Details:" + str(row.LastDownDetail) + ")"
	}
	values := [numFields]string{
		fConnState:          str(row.ConnState),
		fDeviceState:        str(row.DeviceState),
		fServerAddr:         addr,
		fDomain:             str(row.ServerDomain),
		fMode:               str(row.ConnMode),
		fAuthPort:           port(row.AuthPort),
		fConnPort:           port(row.ConnPort),
		fConnectedAt:        ts(row.ConnectedAt),
		fDuration:           FormatDuration(row.DurationS),
		fProcessState:       str(row.ProcessState),
		fFailure:            str(row.FailureReason),
		fDownReason:         down,
		fDownAt:             ts(row.LastDownAt),
		fReportFailure:      str(row.LastReportFailureReason),
		fReportFailureAt:    ts(row.LastReportFailureAt),
		fDroppedBufferLimit: fmt.Sprint(row.DroppedBufferLimit),
		fDroppedTotal:       fmt.Sprint(row.DroppedTotal),
		fIncomplete:         str(row.LastReportIncompleteReason),
		fIncompleteAt:       ts(row.LastReportIncompleteAt),
		fBufferFull:         fmt.Sprint(row.BufferFullCount),
	}
	var b strings.Builder
	for _, f := range displayOrder {
		fmt.Fprintf(&b, "%-*s : %s\n", labelWidth, englishLabels[f], values[f])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// displayOrder is the guide's order of the fields ("Local port" is the
// reference's other name of the connection port, not printed twice).
var displayOrder = []field{fConnState, fDeviceState, fServerAddr, fDomain, fMode, fAuthPort, fConnPort,
	fConnectedAt, fDuration, fProcessState, fFailure, fDownReason, fDownAt, fReportFailure, fReportFailureAt,
	fDroppedBufferLimit, fDroppedTotal, fIncomplete, fIncompleteAt, fBufferFull}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

// Columns returns a cloud_conn row by column name, for JSON: the address
// as text, times as RFC 3339 and null when unset, the duration also in
// the display's form. `flowlake edge state --json` and the edge's answer
// to a status pull print it.
func Columns(r schema.CloudConn) map[string]any {
	ts := func(us int64) any {
		if us == 0 {
			return nil
		}
		return schema.FromMicros(us).Format(time.RFC3339Nano)
	}
	var addr any
	if !r.ServerAddr.IsZero() {
		addr = r.ServerAddr.String()
	}
	return map[string]any{
		"time": ts(r.Time), "edge": r.Edge, "device": r.Device, "conn_state": r.ConnState, "device_state": r.DeviceState,
		"server_addr": addr, "server_domain": r.ServerDomain, "conn_mode": r.ConnMode, "auth_port": r.AuthPort, "conn_port": r.ConnPort,
		"connected_at": ts(r.ConnectedAt), "duration_s": r.DurationS, "duration": FormatDuration(r.DurationS),
		"process_state": r.ProcessState, "failure_reason": r.FailureReason, "last_down_reason": r.LastDownReason,
		"last_down_detail": r.LastDownDetail, "last_down_at": ts(r.LastDownAt),
		"last_report_failure_reason": r.LastReportFailureReason, "last_report_failure_at": ts(r.LastReportFailureAt),
		"last_report_incomplete_reason": r.LastReportIncompleteReason, "last_report_incomplete_at": ts(r.LastReportIncompleteAt),
		"dropped_buffer_limit": r.DroppedBufferLimit, "dropped_total": r.DroppedTotal, "buffer_full_count": r.BufferFullCount,
		"backup_server": r.BackupServer, "server_index": r.ServerIndex,
	}
}
