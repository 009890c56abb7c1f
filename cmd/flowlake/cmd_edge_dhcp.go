package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowlake/flowlake/edge"
)

func (a *app) edgeDHCPCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dhcp",
		Short: "DHCP snooping at the edge",
		Args:  noArgs,
	}
	cmd.AddCommand(a.edgeDHCPBindingsCommand())
	return cmd
}

func (a *app) edgeDHCPBindingsCommand() *cobra.Command {
	var url, file string
	cmd := &cobra.Command{
		Use:   "bindings",
		Short: "Print the edge's DHCP binding table (the snooping table)",
		Long: `Print which client holds which address: client (client identifier, else
MAC), MAC, address, host name, server, where it was seen, relay, lease start,
last renewal and expiry. Asks the edge at --url (default: http:// +
edge.status_listen), or reads the table an edge saved in --file
(edge.dhcp.bindings_file) when it is not running. --json prints the list as
JSON.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var bs []edge.Binding
			var err error
			if file != "" {
				var raw []byte
				if raw, err = os.ReadFile(file); err != nil {
					return err
				}
				if bs, err = edge.ReadBindings(raw); err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
			} else {
				if url == "" {
					url = "http://" + a.cfg.Edge.StatusListen
				}
				if bs, err = edge.FetchDHCPBindings(cmd.Context(), url); err != nil {
					if cmd.Context().Err() == nil {
						err = fmt.Errorf("%w (is `flowlake edge` running? --file reads a saved table)", err)
					}
					return err
				}
			}
			if a.json {
				if bs == nil {
					bs = []edge.Binding{}
				}
				return a.printJSON(bs)
			}
			return printBindings(a.stdout, bs)
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "the edge's status URL (default http://<edge.status_listen>)")
	cmd.Flags().StringVar(&file, "file", "", "read a saved binding table (edge.dhcp.bindings_file) instead of asking the edge")
	return cmd
}

func printBindings(w io.Writer, bs []edge.Binding) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IP\tMAC\tCLIENT\tHOSTNAME\tSERVER\tINTERFACE\tVLAN\tRELAY\tSTART\tRENEWED\tEXPIRES")
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	for _, b := range bs {
		relay := "-"
		if b.GIAddr.IsValid() {
			relay = b.GIAddr.String()
			if b.CircuitID != "" || b.RemoteID != "" {
				relay += " " + b.CircuitID + "/" + b.RemoteID
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", b.IP, dash(b.MAC), b.Client, dash(b.Hostname), b.Server,
			dash(b.Interface), b.VLAN, relay, ts(b.Start), ts(b.Renewed), ts(b.Expires))
	}
	fmt.Fprintf(tw, "%d bindings\n", len(bs))
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
