package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowlake/flowlake/ingest/cloudconn"
	"github.com/flowlake/flowlake/storage/schema"
)

// cloudStateFile is where a running edge keeps its tunnel's current state
// (a cloud_conn row as JSON), in its spool directory.
const cloudStateFile = "_cloud_state.json"

func (a *app) edgeStateCommand() *cobra.Command {
	var file, zone string
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Print the edge's tunnel state as 'display cloud-management state' does",
		Long: `Print the state of the edge's management tunnel with every field, name, value
and format of the device command 'display cloud-management state'
(docs/tunnel.md): connection and device state, server address and domain,
mode, ports, connected at, duration, process state, failure reason, last
down reason with details, last down at, report failure and incomplete
reasons and times, drop counters. --json prints the cloud_conn row.

The running edge keeps the state in --file (default: _cloud_state.json in
edge.spool.dir) at every transition; times print in --tz.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			loc, err := time.LoadLocation(zone)
			if err != nil {
				return usageError{fmt.Errorf("--tz %q: %w", zone, err)}
			}
			if file == "" {
				file = filepath.Join(a.cfg.Edge.Spool.Dir, cloudStateFile)
			}
			b, err := os.ReadFile(file)
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("no tunnel state in %s: is the edge's tunnel configured and has the edge run?", file)
			} else if err != nil {
				return fmt.Errorf("read tunnel state: %w", err)
			}
			var row schema.CloudConn
			if err := json.Unmarshal(b, &row); err != nil {
				return fmt.Errorf("tunnel state %s: %w", file, err)
			}
			if a.json {
				return a.printJSON(cloudRowJSON(row))
			}
			return cloudconn.Format(a.stdout, row, loc)
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "the state file (default: edge.spool.dir/_cloud_state.json)")
	cmd.Flags().StringVar(&zone, "tz", "Local", "zone to print times in")
	return cmd
}

// cloudRowJSON is a cloud_conn row as JSON: its columns by name, the
// address as text, times as RFC 3339 and null when unset.
func cloudRowJSON(r schema.CloudConn) map[string]any {
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
		"connected_at": ts(r.ConnectedAt), "duration_s": r.DurationS, "duration": cloudconn.FormatDuration(r.DurationS),
		"process_state": r.ProcessState, "failure_reason": r.FailureReason, "last_down_reason": r.LastDownReason,
		"last_down_detail": r.LastDownDetail, "last_down_at": ts(r.LastDownAt),
		"last_report_failure_reason": r.LastReportFailureReason, "last_report_failure_at": ts(r.LastReportFailureAt),
		"last_report_incomplete_reason": r.LastReportIncompleteReason, "last_report_incomplete_at": ts(r.LastReportIncompleteAt),
		"dropped_buffer_limit": r.DroppedBufferLimit, "dropped_total": r.DroppedTotal, "buffer_full_count": r.BufferFullCount,
		"backup_server": r.BackupServer, "server_index": r.ServerIndex,
	}
}
