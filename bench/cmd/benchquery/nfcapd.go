package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/schema"
)

// The nfdump side of the benchmark: the flows of a lakeSpec, generated
// again (the generator is deterministic), exported as NetFlow v9 over UDP
// to nfcapd and stored as nfcapd stores them in production: one file per
// 5-minute interval, in a directory per day and hour. nfcapd names and
// rotates its files by the wall clock, so it cannot bin replayed history
// by flow time by itself; instead one nfcapd runs per hour of data with
// twelve sources (-n), one per 5-minute bin, and each bin's flows are sent
// from their own source address (127.0.0.2 … 127.0.0.13). A file then holds
// exactly the flows that started in its 5 minutes, as a live nfcapd's file
// holds the flows that arrived in its 5 minutes.

const binsPerHour = 12

// nfInfo is what exporting produced; saved beside the files for reuse.
type nfInfo struct {
	Spec     lakeSpec          `json:"spec"`
	Flows    int64             `json:"flows"`
	Bytes    uint64            `json:"bytes"`
	Apps     map[string]uint16 `json:"apps"` // application name → id sent in postVlanId
	Export   time.Duration     `json:"export_ns"`
	Rate     float64           `json:"rate"`           // flows/s paced
	Bins     []nfBin           `json:"bins,omitempty"` // the production layout's files, in time order
	Root     string            `json:"-"`
	appNames map[uint16]string
}

const nfInfoFile = "nfdump.json"

func (n *nfInfo) appID(name string) uint16 {
	id, ok := n.Apps[name]
	if !ok {
		id = uint16(len(n.Apps) + 1)
		n.Apps[name] = id
	}
	return id
}

func (n *nfInfo) appName(id uint16) string {
	if n.appNames == nil {
		n.appNames = map[uint16]string{}
		for k, v := range n.Apps {
			n.appNames[v] = k
		}
	}
	return n.appNames[id]
}

// hourDir is where nfcapd stores the files of the hour starting at h.
func hourDir(root string, h time.Time) string {
	return filepath.Join(root, h.Format("2006-01-02"), h.Format("15"))
}

func dayDir(root string, d time.Time) string { return filepath.Join(root, d.Format("2006-01-02")) }

// exportNfcapd sends the flows of s to nfcapd under dir/<name>/nfcapd at
// about rate flows/s, checking after every hour with nfdump -I that nfcapd
// stored every flow and every byte (an hour that lost packets is sent again
// at half the rate). An existing complete export is reused.
func exportNfcapd(ctx context.Context, dir string, s lakeSpec, rate float64, log *slog.Logger) (*nfInfo, error) {
	if s.production() {
		return exportProduction(ctx, dir, s, rate, log)
	}
	base := filepath.Join(dir, s.name())
	root := filepath.Join(base, "nfcapd")
	if b, err := os.ReadFile(filepath.Join(base, nfInfoFile)); err == nil {
		info := &nfInfo{}
		if err := json.Unmarshal(b, info); err != nil {
			return nil, fmt.Errorf("read %s: %w", nfInfoFile, err)
		}
		info.Root = root
		log.Info("reusing nfcapd files", "root", root, "flows", info.Flows)
		return info, nil
	}
	for _, tool := range []string{"nfcapd", "nfdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s not found (Debian: apt-get install nfdump): %w", tool, err)
		}
	}
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	info := &nfInfo{Spec: s, Apps: map[string]uint16{}, Root: root, Rate: rate}
	ex, err := newExporter(info, rate)
	if err != nil {
		return nil, err
	}
	g, err := gen.New(s.genConfig())
	if err != nil {
		return nil, err
	}
	started := time.Now()
	hs := &hourSink{ctx: ctx, ex: ex, log: log}
	if err := g.Run(ctx, hs); err != nil {
		return nil, fmt.Errorf("export to nfcapd: %w", err)
	}
	if err := hs.flush(); err != nil {
		return nil, fmt.Errorf("export to nfcapd: %w", err)
	}
	info.Export = time.Since(started)
	log.Info("exported to nfcapd", "flows", info.Flows, "took", info.Export.Round(time.Millisecond), "resent_hours", ex.resent)
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, err
	}
	return info, os.WriteFile(filepath.Join(base, nfInfoFile), b, 0o644)
}

// hourSink gathers the generator's flows hour by hour (every edge of an
// hour arrives before the next hour) and exports each hour.
type hourSink struct {
	ctx  context.Context
	ex   *exporter
	log  *slog.Logger
	hour int64 // Unix hour of rows
	rows []schema.Flow
}

var _ gen.Sink = (*hourSink)(nil)

// Flows gathers rows into the hour they belong to, exporting the previous
// hour when a new one starts.
func (h *hourSink) Flows(_ string, rows []schema.Flow) error {
	if len(rows) == 0 {
		return nil
	}
	hr := rows[0].Time / int64(time.Hour/time.Microsecond)
	if len(h.rows) > 0 && hr != h.hour {
		if err := h.flush(); err != nil {
			return err
		}
	}
	h.hour = hr
	h.rows = append(h.rows, rows...)
	return nil
}

func (h *hourSink) flush() error {
	if len(h.rows) == 0 {
		return nil
	}
	t := time.Unix(h.hour*3600, 0).UTC()
	if t.Hour() == 0 {
		h.log.Info("exporting day", "day", t.Format(time.DateOnly))
	}
	err := h.ex.exportHour(h.ctx, t, h.rows)
	h.rows = h.rows[:0]
	return err
}

// TCPConns drops the rows: only flows travel as NetFlow.
func (*hourSink) TCPConns(string, []schema.TCPConn) error { return nil }

// TCPPackets drops the rows.
func (*hourSink) TCPPackets(string, []schema.TCPPacket) error { return nil }

// DHCPEvents drops the rows.
func (*hourSink) DHCPEvents(string, []schema.DHCPEvent) error { return nil }

// CloudConns drops the rows.
func (*hourSink) CloudConns(string, []schema.CloudConn) error { return nil }

// FlowLoss drops the rows.
func (*hourSink) FlowLoss(string, []schema.FlowLoss) error { return nil }

// exporter owns the UDP sources, one per 5-minute bin.
type exporter struct {
	info    *nfInfo
	rate    float64
	packers [binsPerHour]*v9Packer
	resent  int
}

func newExporter(info *nfInfo, rate float64) (*exporter, error) {
	ex := &exporter{info: info, rate: rate}
	for i := range binsPerHour {
		ex.packers[i] = newV9Packer(info.appID)
	}
	return ex, nil
}

func binSource(i int) string { return fmt.Sprintf("127.0.0.%d", 2+i) }

// exportHour runs one nfcapd for hour h, sends rows (all inside h) from
// the twelve bin sources, stops nfcapd and checks what it stored.
func (ex *exporter) exportHour(ctx context.Context, h time.Time, rows []schema.Flow) error {
	slices.SortFunc(rows, func(a, b schema.Flow) int { return int(a.Time - b.Time) }) // spans an hour: no overflow
	var bins [binsPerHour][]schema.Flow
	var want [binsPerHour]struct {
		flows int64
		bytes uint64
	}
	h0 := schema.Micros(h)
	binUs := int64(5 * time.Minute / time.Microsecond)
	for lo := 0; lo < len(rows); {
		b := int((rows[lo].Time - h0) / binUs)
		hi := lo
		for hi < len(rows) && int((rows[hi].Time-h0)/binUs) == b {
			want[b].flows++
			want[b].bytes += rows[hi].Bytes
			hi++
		}
		bins[b] = rows[lo:hi]
		lo = hi
	}
	rate := ex.rate
	for attempt := 0; ; attempt++ {
		err := ex.sendHour(ctx, h, &bins, rate)
		if err == nil {
			err = checkHour(ctx, h, ex.info.Root, &want)
		}
		if err == nil {
			break
		}
		if attempt == 3 || ctx.Err() != nil {
			return fmt.Errorf("hour %s: %w", h.Format(time.RFC3339), err)
		}
		ex.resent++
		rate /= 2
	}
	for _, w := range want {
		ex.info.Flows += w.flows
		ex.info.Bytes += w.bytes
	}
	return nil
}

func (ex *exporter) sendHour(ctx context.Context, h time.Time, bins *[binsPerHour][]schema.Flow, rate float64) (err error) {
	hd := hourDir(ex.info.Root, h)
	if err := os.RemoveAll(hd); err != nil {
		return err
	}
	port, err := freeUDPPort()
	if err != nil {
		return err
	}
	args := []string{"-b", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "3600", "-B", "4194304"}
	for i := range binsPerHour {
		d := filepath.Join(hd, fmt.Sprintf("%02d", 5*i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		args = append(args, "-n", fmt.Sprintf("b%02d,%s,%s", 5*i, binSource(i), d))
	}
	var conns [binsPerHour]*net.UDPConn
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	cmd := exec.Command("nfcapd", args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start nfcapd: %w", err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if err != nil {
			err = fmt.Errorf("%w\nnfcapd %s:\n%s", err, strings.Join(args, " "), out.String())
		}
	}()
	if err := waitUDP(ctx, port, func(found bool, _ int) bool { return found }); err != nil {
		return fmt.Errorf("nfcapd did not bind port %d: %w", port, err)
	}
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	paceStart := time.Now()
	var sent int64
	for i := range binsPerHour {
		c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(binSource(i))}, dst)
		if err != nil {
			return fmt.Errorf("exporter socket %s: %w", binSource(i), err)
		}
		conns[i] = c
		// nfcapd forgets templates when it stops: every hour starts with them.
		p := ex.packers[i]
		p.packets = 0
		rows := (*bins)[i]
		for lo := 0; lo < len(rows); {
			p.begin(time.Now().UnixMilli())
			hi := lo
			for hi < len(rows) && p.fits(&rows[hi]) {
				p.add(&rows[hi])
				hi++
			}
			if _, err := c.Write(p.finish()); err != nil {
				return fmt.Errorf("send from %s: %w", binSource(i), err)
			}
			sent += int64(hi - lo)
			lo = hi
			if ahead := time.Duration(float64(sent)/rate*float64(time.Second)) - time.Since(paceStart); ahead > time.Millisecond {
				time.Sleep(ahead)
			}
		}
	}
	// Let nfcapd drain its socket, then stop it: it closes and renames its files.
	if err := waitUDP(ctx, port, func(found bool, rx int) bool { return found && rx == 0 }); err != nil {
		return err
	}
	time.Sleep(20 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("nfcapd: %w", err)
	}
	return nil
}

// checkHour compares each bin's flows and bytes with nfdump -I.
func checkHour(ctx context.Context, h time.Time, root string, want *[binsPerHour]struct {
	flows int64
	bytes uint64
}) error {
	for i := range binsPerHour {
		d := filepath.Join(hourDir(root, h), fmt.Sprintf("%02d", 5*i))
		st, err := nfdumpSummary(ctx, "-R", d)
		if err != nil {
			return err
		}
		if st.flows != want[i].flows || st.bytes != want[i].bytes {
			return fmt.Errorf("nfcapd stored %d flows, %d bytes in %s; sent %d flows, %d bytes", st.flows, st.bytes, d, want[i].flows, want[i].bytes)
		}
	}
	return nil
}

type nfSummary struct {
	flows int64
	bytes uint64
}

// nfdumpSummary runs nfdump -I over the files args name and reads the
// totals of their statistics records.
func nfdumpSummary(ctx context.Context, args ...string) (nfSummary, error) {
	var st nfSummary
	out, err := runNfdump(ctx, append(args, "-I")...)
	if err != nil {
		return st, err
	}
	seen := 0
	for line := range strings.Lines(string(out)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "Flows":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return st, fmt.Errorf("nfdump -I: flows %q: %w", v, err)
			}
			st.flows += n
			seen++
		case "Bytes":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return st, fmt.Errorf("nfdump -I: bytes %q: %w", v, err)
			}
			st.bytes += n
		}
	}
	if seen == 0 {
		return st, fmt.Errorf("nfdump %s -I printed no totals:\n%s", strings.Join(args, " "), out)
	}
	return st, nil
}

// runNfdump runs nfdump with times in UTC.
func runNfdump(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "nfdump", args...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out, fmt.Errorf("nfdump %s: %w: %s", strings.Join(args, " "), err, ee.Stderr)
		}
		return out, fmt.Errorf("nfdump %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}

func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// waitUDP polls /proc/net/udp until ok(bound, rx_queue) holds for the
// socket bound to 127.0.0.1:port, for up to 10 s.
func waitUDP(ctx context.Context, port int, ok func(found bool, rx int) bool) error {
	deadline := time.Now().Add(10 * time.Second)
	want := fmt.Sprintf("0100007F:%04X", port)
	for {
		found, rx, err := udpSocket(want)
		if err != nil {
			return err
		}
		if ok(found, rx) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("udp socket 127.0.0.1:%d: found %v, rx queue %d after 10 s", port, found, rx)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func udpSocket(local string) (found bool, rx int, err error) {
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return false, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 5 || fs[1] != local {
			continue
		}
		_, q, _ := strings.Cut(fs[4], ":")
		n, err := strconv.ParseInt(q, 16, 64)
		if err != nil {
			return false, 0, fmt.Errorf("/proc/net/udp: rx queue %q: %w", q, err)
		}
		return true, int(n), nil
	}
	return false, 0, sc.Err()
}
