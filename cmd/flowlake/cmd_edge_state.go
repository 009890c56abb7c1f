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
				return a.printJSON(cloudconn.Columns(row))
			}
			return cloudconn.Format(a.stdout, row, loc)
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "the state file (default: edge.spool.dir/_cloud_state.json)")
	cmd.Flags().StringVar(&zone, "tz", "Local", "zone to print times in")
	return cmd
}
