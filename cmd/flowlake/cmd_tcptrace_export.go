package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowlake/flowlake/api"
	"github.com/flowlake/flowlake/ingest/tcptrace"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// errNoTrace is a trace_id the lake holds no connection for.
var errNoTrace = errors.New("no such connection")

// loadTrace reads one connection and its packets (by idx) from the lake.
func loadTrace(ctx context.Context, l *lake.Lake, id uint64) (schema.TCPConn, []schema.TCPPacket, error) {
	segs, err := l.Segments(ctx, schema.TCPConns, time.Time{}, time.Time{})
	if err != nil {
		return schema.TCPConn{}, nil, fmt.Errorf("list tcp_conns: %w", err)
	}
	var conn *schema.TCPConn
	for _, seg := range segs {
		rows, err := lake.Read[schema.TCPConn](ctx, l, seg)
		if err != nil {
			return schema.TCPConn{}, nil, fmt.Errorf("read tcp_conns: %w", err)
		}
		for i := range rows {
			if rows[i].TraceID == id {
				conn = &rows[i]
			}
		}
	}
	if conn == nil {
		return schema.TCPConn{}, nil, fmt.Errorf("trace_id %d: %w in tcp_conns", id, errNoTrace)
	}
	segs, err = l.Segments(ctx, schema.TCPPackets, time.Time{}, time.Time{})
	if err != nil {
		return *conn, nil, fmt.Errorf("list tcp_packets: %w", err)
	}
	var pkts []schema.TCPPacket
	for _, seg := range segs {
		rows, err := lake.Read[schema.TCPPacket](ctx, l, seg)
		if err != nil {
			return *conn, nil, fmt.Errorf("read tcp_packets: %w", err)
		}
		for _, r := range rows {
			if r.TraceID == id {
				pkts = append(pkts, r)
			}
		}
	}
	slices.SortStableFunc(pkts, func(a, b schema.TCPPacket) int { return int(a.Index) - int(b.Index) })
	return *conn, pkts, nil
}

func parseTraceID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, usageError{fmt.Errorf("trace id %q: want the tcp_conns trace_id, a decimal number", s)}
	}
	return id, nil
}

func (a *app) tcptraceExportCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export TRACE_ID",
		Short: "Write a traced connection's kept packets as a pcap file",
		Long: `Write the packets tcp_packets keeps for the connection TRACE_ID (a
tcp_conns trace_id), oldest first, as a pcap file (link type RAW) that
tshark and Wireshark open: the device's 'wireshark' keyword. Packets the
passive tracer captured are written as captured (cut at its snap length);
packets from a device's output get headers built from their fields.`,
		Example: `  flowlake tcptrace export 1234567890123 --out conn.pcap
  flowlake tcptrace export 1234567890123 --out - | tshark -r -`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("want one TRACE_ID")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseTraceID(args[0])
			if err != nil {
				return err
			}
			if out == "" {
				return usageError{errors.New("--out FILE is required (- for standard output)")}
			}
			l, err := a.openLake()
			if err != nil {
				return err
			}
			conn, pkts, err := loadTrace(cmd.Context(), l, id)
			if err = joinClose(err, l); err != nil {
				return err
			}
			var w io.Writer = a.stdout
			if out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return fmt.Errorf("export: %w", err)
				}
				defer f.Close()
				w = f
			}
			if err := tcptrace.WritePcap(w, conn, pkts); err != nil {
				return fmt.Errorf("export trace %d: %w", id, err)
			}
			if out != "-" {
				a.logger.Info("connection exported", "trace_id", id, "packets", len(pkts), "file", out)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "pcap file to write (- for standard output)")
	return cmd
}

func (a *app) tcptraceShowCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show TRACE_ID",
		Short: "Print a traced connection and its packets like the device's verbose output",
		Long: `Print the connection TRACE_ID (a tcp_conns trace_id) and its kept
packets in the layout of the device's 'display tcp trace cache-packet ...
verbose' (docs/tcptrace.md), with the passive tracer's Zeek conn_state and
history when it has them.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("want one TRACE_ID")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseTraceID(args[0])
			if err != nil {
				return err
			}
			l, err := a.openLake()
			if err != nil {
				return err
			}
			conn, pkts, err := loadTrace(cmd.Context(), l, id)
			if err = joinClose(err, l); err != nil {
				return err
			}
			_, err = io.WriteString(a.stdout, renderTrace(conn, pkts))
			return err
		},
	}
	return cmd
}

// reasonLong are the device's long names of the reasons.
var reasonLong = map[string]string{
	"PN": "Peer normal close", "RR": "Received reset", "SR": "Sent reset", "AN": "Application normal close",
	"AA": "Application abnormal close", "KT": "Keepalive timeout", "PT": "Persist timeout",
	"RT": "Retransmit timeout", "BD": "Backup drop",
}

// devTime formats t as the device does: "Sep 18 15:38:58:503 2019".
func devTime(us int64) string {
	t := schema.FromMicros(us)
	return fmt.Sprintf("%s %d %s:%03d %d", t.Format("Jan"), t.Day(), t.Format("15:04:05"), t.Nanosecond()/1e6, t.Year())
}

// flagNames spells a flags byte as the device does ("ACK PSH").
func flagNames(f uint8) string {
	var n []string
	for i, name := range []string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"} {
		if f&(1<<i) != 0 {
			n = append(n, name)
		}
	}
	if len(n) == 0 {
		return "N/A"
	}
	return strings.Join(n, " ")
}

// renderTrace prints a connection like the device's verbose block.
func renderTrace(c schema.TCPConn, pkts []schema.TCPPacket) string {
	var b strings.Builder
	vpn := c.VPN
	if vpn == "" {
		vpn = "N/A"
	}
	reason := reasonLong[c.Reason]
	if reason == "" {
		reason = "N/A (" + c.End + ")"
	}
	fmt.Fprintf(&b, "MDC ID: %d, %s, VPN name: %s\n", c.MDCID, devTime(c.Time), vpn)
	fmt.Fprintf(&b, "Connection: %s:%d -> %s:%d\n", c.LocalAddr, c.LocalPort, c.ForeignAddr, c.ForeignPort)
	fmt.Fprintf(&b, "Reason: %s\n", reason)
	fmt.Fprintf(&b, "sndmax/localackmax/scale/mss: %d/%d/%d/%d\n", c.SndMax, c.LocalAckMax, c.SndScale, c.SndMSS)
	fmt.Fprintf(&b, "rcvmax/peerackmax/scale/mss: %d/%d/%d/%d\n", c.RcvMax, c.PeerAckMax, c.RcvScale, c.RcvMSS)
	fmt.Fprintf(&b, "iss %d, irs %d, in %d (drop %d), out %d, retrans %d\n", c.ISS, c.IRS, c.InPackets, c.InDropped, c.OutPackets, c.RetransPackets)
	if c.ConnectedAt != 0 {
		fmt.Fprintf(&b, "connection time: %s\n", devTime(c.ConnectedAt))
	}
	if c.Source == "passive" {
		fmt.Fprintf(&b, "Zeek conn_state: %s, history: %s, end: %s, trace_id: %d\n", c.ConnState, c.History, c.End, c.TraceID)
	}
	for _, p := range pkts {
		rs, ra := p.Seq-c.IRS, p.Ack-c.ISS
		if p.Direction == "out" {
			rs, ra = p.Seq-c.ISS, p.Ack-c.IRS
		}
		if p.Flags&tcptrace.FlagACK == 0 {
			ra = 0
		}
		fmt.Fprintf(&b, "(%d) %s %s\n", p.Index, devTime(p.Time), p.Event)
		fmt.Fprintf(&b, "  seq %d(%d), ack %d(%d), data %d\n", p.Seq, rs, p.Ack, ra, p.DataLen)
		fmt.Fprintf(&b, "  flag %s, status %s, win: %d, csum: %d, ID: %d\n", flagNames(p.Flags), p.State, p.Window, p.Checksum, p.IPID)
		fmt.Fprintf(&b, "  iss/unack/next/wnd: %d/%d/%d/%d\n", c.ISS, p.SndUna, p.SndNxt, p.SndWnd)
		fmt.Fprintf(&b, "  irs/next/wnd: %d/%d/%d\n", c.IRS, p.RcvNxt, p.RcvWnd)
	}
	return b.String()
}

// lakeTraces writes traced connections as pcap files for the API
// (GET /api/v1/tcptrace/{id}/pcap), from the lake.
type lakeTraces struct{ l *lake.Lake }

var _ api.TracePcapWriter = lakeTraces{}

// WriteTracePcap implements api.TracePcapWriter.
func (t lakeTraces) WriteTracePcap(ctx context.Context, id uint64, w io.Writer) error {
	conn, pkts, err := loadTrace(ctx, t.l, id)
	if errors.Is(err, errNoTrace) {
		return fmt.Errorf("%w: %w", api.ErrNoTrace, err)
	}
	if err != nil {
		return err
	}
	return tcptrace.WritePcap(w, conn, pkts)
}
