package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// The production layout of nfdump's store (issue 11). The issue-3 layout
// (nfcapd.go) spreads the flows over 30 days: 8,640 files of a few hundred
// flows each, which measures nfdump's cost per file, not its scan. In
// production nfcapd receives a router's export at tens of thousands of
// flows a second and rotates a file every 5 minutes (-t 300), compressed.
//
// Here the flows are generated at lakeSpec.Rate flows/s or more (a flat
// curve) over whole 5-minute intervals starting at prodStart, so each
// 5-minute file holds Rate × 300 flows or more. Sending them in real time
// would take as long as they span, so they are sent faster, at the
// exporter's -rate: the generator's flows are encoded once as NetFlow v9
// packets into a spool file per interval (by flow start time, as a live
// nfcapd files the flows that arrive in its interval), then for each
// interval one nfcapd (-y: LZ4, the compression nfcapd 1.7.1 as packaged
// by Debian offers besides LZO and BZ2; it has no ZSTD) receives that
// interval's packets over UDP and writes one file, which is checked with
// nfdump -I (every flow and byte sent, or the interval is sent again at
// half the rate) and named nfcapd.YYYYMMDDhhmm for the interval's start in
// <root>/<day>/<hour>/, nfcapd's own name for a 5-minute file.

// prodStart is the start of a production-layout lake: the busiest hour of
// a Tuesday.
var prodStart = time.Date(2026, 1, 20, 14, 0, 0, 0, time.UTC)

// binLen is nfcapd's rotation interval in production.
const binLen = 5 * time.Minute

func (s lakeSpec) production() bool { return s.Rate > 0 }

// prodBins is the number of 5-minute intervals of a production spec: as
// many whole intervals as Flows fill at Rate (at least one), so the rate
// is Rate or a little more.
func (s lakeSpec) prodBins() int {
	return max(1, int(float64(s.Flows)/(s.Rate*binLen.Seconds())))
}

// span describes the time the flows cover, for titles.
func (s lakeSpec) span() string {
	if s.production() {
		return fmt.Sprintf("%d min", int(s.end().Sub(s.start()).Minutes()))
	}
	return fmt.Sprintf("%d days", s.Days)
}

// runGen runs the generator of s into sink. The issue-3 layout is one run
// over s.Days. The production layout is one run per 5-minute interval k:
// the default network with a flat curve (no diurnal or weekly swing) over
// one whole hour of the generator, genBase + k hours, at a twelfth of the
// interval's rate, its start times then mapped linearly into the interval
// (t' = start + k·5 min + (t − hour)/12). The generator draws a whole hour
// per edge at once and sizes its buffers for an hour; at 20 k flows/s an
// hour is 72 M rows, which no buffer of this machine holds, while a
// generator hour of one interval's flows is 6 M. Each interval thus has
// its own random draws over the same network (topology, hosts, apps), and
// the flows' start times are spread evenly, as an exporter's are at a
// steady rate. Durations are kept.
func runGen(ctx context.Context, s lakeSpec, sink gen.Sink) error {
	if !s.production() {
		g, err := gen.New(s.genConfig())
		if err != nil {
			return err
		}
		return g.Run(ctx, sink)
	}
	perSec := float64(s.Flows) / s.end().Sub(s.start()).Seconds()
	for k := range s.prodBins() {
		cfg := gen.DefaultConfig()
		cfg.Seed = s.Seed
		cfg.DiurnalRatio, cfg.WeekendFactor = 1, 1 // a curve of 1 everywhere: the rate is the mean rate
		cfg.Start = genBase.Add(time.Duration(k) * time.Hour)
		cfg.End = cfg.Start.Add(time.Hour)
		cfg.FlowsPerSecond = perSec * binLen.Seconds() / time.Hour.Seconds()
		g, err := gen.New(cfg)
		if err != nil {
			return err
		}
		m := &squeeze{Sink: sink, from: schema.Micros(cfg.Start), to: schema.Micros(s.start().Add(time.Duration(k) * binLen)),
			div: int64(time.Hour / binLen)}
		if err := g.Run(ctx, m); err != nil {
			return fmt.Errorf("interval %d: %w", k, err)
		}
	}
	return nil
}

// genBase is the first generator hour of the production layout: a Monday
// at midnight, so the intervals' hours follow on from it (with the flat
// curve only the generator's ±8 % day-to-day noise tells them apart).
var genBase = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// squeeze maps the start times of one generator hour [from, from+1h) into
// one interval [to, to+5min) and passes the flows on; it drops nothing
// else the generator makes, since the production sinks keep only flows.
type squeeze struct {
	gen.Sink
	from, to, div int64
}

// Flows maps rows' times in place (the generator has finished with them)
// and hands them on.
func (m *squeeze) Flows(edge string, rows []schema.Flow) error {
	for i := range rows {
		d := rows[i].Time - m.from
		if d < 0 || d >= int64(time.Hour/time.Microsecond) {
			return fmt.Errorf("flow at %s outside the generator hour", time.UnixMicro(rows[i].Time).UTC())
		}
		rows[i].Time = m.to + d/m.div
	}
	return m.Sink.Flows(edge, rows)
}

// nfBin is one nfcapd file of the production layout.
type nfBin struct {
	Start time.Time `json:"start"`
	Path  string    `json:"path"` // relative to nfInfo.Root
	Flows int64     `json:"flows"`
	Bytes uint64    `json:"bytes"`
	Size  int64     `json:"size"` // bytes on disk
}

// exportProduction writes the flows of s as nfcapd's production store
// under dir/<name>/nfcapd, one LZ4 file per 5 minutes. An existing complete
// export is reused.
func exportProduction(ctx context.Context, dir string, s lakeSpec, rate float64, log *slog.Logger) (*nfInfo, error) {
	base := filepath.Join(dir, s.name())
	root := filepath.Join(base, "nfcapd")
	if b, err := os.ReadFile(filepath.Join(base, nfInfoFile)); err == nil {
		info := &nfInfo{}
		if err := json.Unmarshal(b, info); err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Join(base, nfInfoFile), err)
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
	spoolDir := filepath.Join(base, "spool")
	for _, d := range []string{root, spoolDir} {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	info := &nfInfo{Spec: s, Apps: map[string]uint16{}, Root: root, Rate: rate}
	started := time.Now()
	sp, err := newSpool(spoolDir, s, info.appID)
	if err != nil {
		return nil, err
	}
	err = runGen(ctx, s, sp)
	if err = errors.Join(err, sp.close()); err != nil {
		return nil, fmt.Errorf("spool NetFlow v9 of %s: %w", s.name(), err)
	}
	log.Info("spooled NetFlow v9", "flows", sp.total(), "bins", len(sp.bins), "took", time.Since(started).Round(time.Millisecond))
	resent := 0
	for i := range sp.bins {
		b := &sp.bins[i]
		r := rate
		for attempt := 0; ; attempt++ {
			nb, err := sendBin(ctx, base, b, r)
			if err == nil {
				info.Bins = append(info.Bins, nb)
				info.Flows += nb.Flows
				info.Bytes += nb.Bytes
				log.Info("nfcapd file", "path", nb.Path, "flows", nb.Flows, "bytes_per_flow", float64(nb.Size)/float64(nb.Flows), "rate", r)
				break
			}
			if attempt == 3 || ctx.Err() != nil {
				return nil, fmt.Errorf("interval %s: %w", b.start.Format(time.RFC3339), err)
			}
			log.Warn("interval sent again at half the rate", "interval", b.start, "err", err)
			resent++
			r /= 2
		}
	}
	info.Export = time.Since(started)
	log.Info("exported to nfcapd", "flows", info.Flows, "took", info.Export.Round(time.Millisecond), "resent_intervals", resent)
	if err := os.RemoveAll(spoolDir); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, err
	}
	return info, os.WriteFile(filepath.Join(base, nfInfoFile), b, 0o644)
}

// spoolBin is the NetFlow v9 packets of one 5-minute interval, in a file
// of length-prefixed packets.
type spoolBin struct {
	start   time.Time
	path    string
	f       *os.File
	w       *bufio.Writer
	p       *v9Packer
	open    bool // p holds an unfinished packet
	packets int64
	flows   int64
	bytes   uint64
}

// spool encodes the generator's flows as NetFlow v9 packets, one packer
// (one exporter's sequence) and one spool file per interval.
type spool struct {
	bins  []spoolBin
	start int64 // µs
}

var _ gen.Sink = (*spool)(nil)

func newSpool(dir string, s lakeSpec, appID func(string) uint16) (*spool, error) {
	sp := &spool{start: schema.Micros(s.start())}
	for i := range s.prodBins() {
		t := s.start().Add(time.Duration(i) * binLen)
		path := filepath.Join(dir, t.Format("200601021504")+".v9")
		f, err := os.Create(path)
		if err != nil {
			return nil, errors.Join(err, sp.close())
		}
		sp.bins = append(sp.bins, spoolBin{start: t, path: path, f: f, w: bufio.NewWriterSize(f, 1<<20), p: newV9Packer(appID)})
	}
	return sp, nil
}

// Flows encodes rows into the packets of their intervals.
func (sp *spool) Flows(_ string, rows []schema.Flow) error {
	binUs := int64(binLen / time.Microsecond)
	for i := range rows {
		f := &rows[i]
		k := (f.Time - sp.start) / binUs
		if f.Time < sp.start || k >= int64(len(sp.bins)) {
			return fmt.Errorf("flow at %s outside the intervals", time.UnixMicro(f.Time).UTC())
		}
		b := &sp.bins[k]
		if b.open && !b.p.fits(f) {
			if err := b.flush(); err != nil {
				return err
			}
		}
		if !b.open {
			b.p.begin(f.Time / 1000)
			b.open = true
		}
		b.p.add(f)
		b.flows++
		b.bytes += f.Bytes
	}
	return nil
}

func (b *spoolBin) flush() error {
	pkt := b.p.finish()
	b.open = false
	b.packets++
	var n [2]byte
	binary.BigEndian.PutUint16(n[:], uint16(len(pkt)))
	if _, err := b.w.Write(n[:]); err != nil {
		return fmt.Errorf("spool %s: %w", b.path, err)
	}
	if _, err := b.w.Write(pkt); err != nil {
		return fmt.Errorf("spool %s: %w", b.path, err)
	}
	return nil
}

func (sp *spool) total() int64 {
	var n int64
	for _, b := range sp.bins {
		n += b.flows
	}
	return n
}

// close finishes every interval's last packet and closes the files.
func (sp *spool) close() error {
	var errs []error
	for i := range sp.bins {
		b := &sp.bins[i]
		if b.f == nil {
			continue
		}
		if b.open {
			errs = append(errs, b.flush())
		}
		errs = append(errs, b.w.Flush(), b.f.Close())
		b.f = nil
	}
	return errors.Join(errs...)
}

// TCPConns drops the rows: only flows travel as NetFlow.
func (*spool) TCPConns(string, []schema.TCPConn) error { return nil }

// TCPPackets drops the rows.
func (*spool) TCPPackets(string, []schema.TCPPacket) error { return nil }

// DHCPEvents drops the rows.
func (*spool) DHCPEvents(string, []schema.DHCPEvent) error { return nil }

// CloudConns drops the rows.
func (*spool) CloudConns(string, []schema.CloudConn) error { return nil }

// FlowLoss drops the rows.
func (*spool) FlowLoss(string, []schema.FlowLoss) error { return nil }

// sendBin runs one nfcapd (LZ4), sends it the interval's spooled packets
// at about rate flows/s, stops it, checks its one file with nfdump -I and
// moves the file to <root>/<day>/<hour>/nfcapd.<interval start>.
func sendBin(ctx context.Context, base string, b *spoolBin, rate float64) (nb nfBin, err error) {
	incoming := filepath.Join(base, "incoming")
	if err := os.RemoveAll(incoming); err != nil {
		return nb, err
	}
	if err := os.MkdirAll(incoming, 0o755); err != nil {
		return nb, err
	}
	port, err := freeUDPPort()
	if err != nil {
		return nb, err
	}
	// -t 86400: nfcapd rotates on wall-clock multiples of -t; a day keeps
	// the interval's flows in one file unless the send crosses midnight
	// UTC (then the check below fails and the interval is sent again).
	args := []string{"-b", "127.0.0.1", "-p", strconv.Itoa(port), "-w", incoming, "-t", "86400", "-y", "-B", "4194304"}
	cmd := exec.Command("nfcapd", args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nb, fmt.Errorf("start nfcapd: %w", err)
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
		return nb, fmt.Errorf("nfcapd did not bind port %d: %w", port, err)
	}
	f, err := os.Open(b.path)
	if err != nil {
		return nb, err
	}
	defer f.Close()
	c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		return nb, err
	}
	defer c.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	buf := make([]byte, 1<<16)
	paceStart := time.Now()
	var records int64
	for {
		var n [2]byte
		if _, err := io.ReadFull(r, n[:]); err == io.EOF {
			break
		} else if err != nil {
			return nb, fmt.Errorf("read spool %s: %w", b.path, err)
		}
		pkt := buf[:binary.BigEndian.Uint16(n[:])]
		if _, err := io.ReadFull(r, pkt); err != nil {
			return nb, fmt.Errorf("read spool %s: %w", b.path, err)
		}
		if _, err := c.Write(pkt); err != nil {
			return nb, fmt.Errorf("send to nfcapd: %w", err)
		}
		records += int64(binary.BigEndian.Uint16(pkt[2:]))
		if ahead := time.Duration(float64(records)/rate*float64(time.Second)) - time.Since(paceStart); ahead > time.Millisecond {
			time.Sleep(ahead)
		}
		if records%(1<<16) < 32 && ctx.Err() != nil {
			return nb, ctx.Err()
		}
	}
	if err := waitUDP(ctx, port, func(found bool, rx int) bool { return found && rx == 0 }); err != nil {
		return nb, err
	}
	time.Sleep(20 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return nb, err
	}
	if err := cmd.Wait(); err != nil {
		return nb, fmt.Errorf("nfcapd: %w", err)
	}
	files, err := filepath.Glob(filepath.Join(incoming, "nfcapd.*"))
	if err != nil {
		return nb, err
	}
	files = slices.DeleteFunc(files, func(p string) bool { return strings.Contains(filepath.Base(p), "current") })
	if len(files) != 1 {
		return nb, fmt.Errorf("nfcapd wrote %d files for one interval (%q), want 1", len(files), files)
	}
	st, err := nfdumpSummary(ctx, "-r", files[0])
	if err != nil {
		return nb, err
	}
	if st.flows != b.flows || st.bytes != b.bytes {
		return nb, fmt.Errorf("nfcapd stored %d flows, %d bytes; sent %d flows, %d bytes", st.flows, st.bytes, b.flows, b.bytes)
	}
	root := filepath.Join(base, "nfcapd")
	dst := filepath.Join(hourDir(root, b.start), "nfcapd."+b.start.Format("200601021504"))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nb, err
	}
	if err := os.Rename(files[0], dst); err != nil {
		return nb, err
	}
	size, err := fileSize(dst)
	if err != nil {
		return nb, err
	}
	rel, err := filepath.Rel(root, dst)
	if err != nil {
		return nb, err
	}
	return nfBin{Start: b.start, Path: rel, Flows: st.flows, Bytes: st.bytes, Size: size}, nil
}

// flowsBytes sums the sizes of the flows Parquet files of a lake.
func flowsBytes(root string) (int64, error) {
	files, err := filepath.Glob(filepath.Join(root, schema.Flows, "dt=*", "hr=*", "*.parquet"))
	if err != nil {
		return 0, err
	}
	var n int64
	for _, f := range files {
		s, err := fileSize(f)
		if err != nil {
			return 0, err
		}
		n += s
	}
	return n, nil
}

// reportProduction describes the production store: its files and how full
// they are.
func reportProduction(w io.Writer, nf *nfInfo) {
	lo, hi := nf.Bins[0].Flows, nf.Bins[0].Flows
	var size int64
	for _, b := range nf.Bins {
		lo, hi = min(lo, b.Flows), max(hi, b.Flows)
		size += b.Size
	}
	fmt.Fprintf(w, "nfdump: the production layout: the same flows as NetFlow v9 to nfcapd 1.7.1 (-y: LZ4), one nfcapd run and one file per 5 minutes of flow time, "+
		"%d files of %s to %s flows (%.0f to %.0f flows/s of flow time), %.1f MiB, %.1f bytes/flow; sent at ≤ %.0f flows/s, %.0f s with the spooling.\n\n",
		len(nf.Bins), thousands(lo), thousands(hi), float64(lo)/binLen.Seconds(), float64(hi)/binLen.Seconds(),
		float64(size)/(1<<20), float64(size)/float64(nf.Flows), nf.Rate, nf.Export.Seconds())
}
