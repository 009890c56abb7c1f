package edge

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowlake/flowlake/edge/capture"
	"github.com/flowlake/flowlake/ingest/dhcp"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// dhcpFrame is one DHCP message on its way from a capture reader to the
// DHCP worker.
type dhcpFrame struct {
	payload []byte
	meta    dhcp.Meta
	v6      bool
}

// DHCPStats counts what DHCP snooping did with frames and rows.
type DHCPStats struct {
	// Frames counts frames the capture handed over; NotDHCP those that
	// were not DHCP over UDP after all (later fragments, other ports).
	Frames, NotDHCP atomic.Uint64
	// QueueDrops counts live frames dropped because the worker's queue
	// was full (the kernel's own drops are in the capture's stats).
	QueueDrops atomic.Uint64
	// Decoded counts messages turned into rows; Rejected malformed ones
	// by reason (dhcp.Reason), each kept raw in the quarantine file
	// (Quarantined) or, when it cannot be written, counted in
	// QuarantineLost.
	Decoded                     atomic.Uint64
	Rejected                    [8]atomic.Uint64
	Quarantined, QuarantineLost atomic.Uint64
	// RowsWritten and Segments count dhcp_events rows and segments
	// published (into the lake, or the spool); RowsLost rows of failed
	// writes.
	RowsWritten, Segments, RowsLost atomic.Uint64
	// BindingSaveErrors counts failed saves of the binding table.
	BindingSaveErrors atomic.Uint64
	// LeaseRowsWritten counts dhcp_leases rows published (spans ended,
	// and OPEN rows of spans started or renewed); LeaseRowsLost those of
	// failed writes.
	LeaseRowsWritten, LeaseRowsLost atomic.Uint64
	// LeaseOutOfOrder counts events the lease history left out because
	// they were older than one it had already taken (a frame delayed past
	// leaseLag); they are still dhcp_events rows.
	LeaseOutOfOrder atomic.Uint64
	// OffersNotTracked counts OFFERs not remembered for offer_servers
	// because too many transactions were open (a DISCOVER flood).
	OffersNotTracked atomic.Uint64
}

// maxOpenOffers bounds the transactions whose OFFERs are remembered, and
// offerMemory how long (in the messages' time).
const (
	maxOpenOffers = 100_000
	offerMemory   = 30 * time.Second
)

// offerKey names a transaction: its xid and client.
type offerKey struct {
	xid    uint32
	client string
}

type offerSet struct {
	servers []netip.Addr
	at      int64 // µs of the last OFFER
}

// dhcpSnoop is the edge's DHCP path: capture → decode → signals and
// bindings → dhcp_events segments.
type dhcpSnoop struct {
	e      *Edge
	cfg    DHCPConfig
	replay bool
	cap    *capture.Capture
	queue  chan *dhcpFrame
	frames sync.Pool
	quar   *quarantine
	sig    *signals
	table  *bindingTable
	// leases derives dhcp_leases (the lease history) from the same
	// events, in the worker; spans holds the ended rows not yet written.
	leases *dhcp.LeaseTracker
	spans  []schema.DHCPLease
	stats  DHCPStats
	ended  sync.Map // bindingEnd → *atomic.Uint64
	done   chan struct{}
	failed bool // start failed: nothing to stop

	// worker state
	dec         dhcp.Decoder
	batch       []schema.DHCPEvent
	batchStart  time.Time
	offers      map[offerKey]*offerSet
	lastExpire  int64 // µs, message time
	lastRecount int64
	lastSave    time.Time
}

func newDHCPSnoop(e *Edge) (*dhcpSnoop, error) {
	cfg := e.cfg.DHCP
	sig, err := newSignals(cfg)
	if err != nil {
		return nil, fmt.Errorf("edge: dhcp: %w", err)
	}
	d := &dhcpSnoop{
		e: e, cfg: cfg, replay: cfg.Pcap != "", sig: sig, table: newBindingTable(e.cfg.bindingsFile()),
		leases: dhcp.NewLeaseTracker(schema.LeaseSourceWire, e.cfg.ID),
		queue:  make(chan *dhcpFrame, cfg.QueueFrames), done: make(chan struct{}), offers: map[offerKey]*offerSet{},
		quar: &quarantine{path: e.cfg.dhcpQuarantineFile(), max: e.cfg.QuarantineMaxBytes, stats: &e.stats, log: e.log},
	}
	d.frames.New = func() any { return &dhcpFrame{} }
	cc := capture.DefaultConfig()
	cc.Interfaces, cc.File, cc.InboundOnly, cc.Netns = cfg.Interfaces, cfg.Pcap, cfg.InboundOnly, cfg.Netns
	cc.Filter = capture.DHCPFilter()
	// The kernel hands a block over when it is full or after
	// BlockTimeout: at DHCP's rates blocks retire by time, nearly empty,
	// so the ring holds NumBlocks × BlockTimeout of traffic. Small blocks
	// make the same memory hold 8 times longer a stall of the reader
	// (640 ms with the default 8 MiB, rather than 80 ms).
	cc.BlockSize, cc.NumBlocks = dhcpRingBlockSize, cfg.RingBlocks*(1<<20)/dhcpRingBlockSize
	d.cap, err = capture.New(cc, d.handle, e.log.With("component", "dhcp-capture"))
	if err != nil {
		return nil, fmt.Errorf("edge: dhcp: %w", err)
	}
	return d, nil
}

// start restores the binding table and starts the worker and capture.
func (d *dhcpSnoop) start(ctx context.Context) error {
	n, spans, err := d.table.load()
	if err != nil {
		d.e.log.Warn("dhcp bindings not restored; starting with an empty table", "err", err)
	} else if n > 0 || len(spans) > 0 {
		resumed := d.leases.Resume(spans)
		d.e.log.Info("dhcp bindings restored", "file", d.table.path, "bindings", n, "lease_spans", resumed)
	}
	d.lastSave = d.e.now()
	go d.run(context.WithoutCancel(ctx))
	if err := d.cap.Start(ctx); err != nil {
		close(d.queue)
		<-d.done
		d.failed = true
		return fmt.Errorf("edge: dhcp: %w", err)
	}
	return nil
}

// stop stops the capture, lets the worker write what is queued and saves
// the binding table.
func (d *dhcpSnoop) stop() error {
	if d.failed {
		return nil // start failed and cleaned up
	}
	err := d.cap.Stop()
	close(d.queue)
	<-d.done
	if serr := d.table.save(d.e.now(), true, d.leases.Open); serr != nil {
		d.stats.BindingSaveErrors.Add(1)
		err = errors.Join(err, serr)
	}
	return errors.Join(err, d.quar.close())
}

// handle runs on a capture reader: it finds the DHCP payload and queues
// it (a replay waits for room; live frames are dropped and counted when
// the queue is full).
func (d *dhcpSnoop) handle(p capture.Packet) {
	d.stats.Frames.Add(1)
	iface := p.Interface
	if d.replay {
		iface = filepath.Base(d.cfg.Pcap)
	}
	m := dhcp.Meta{Time: p.Time.UnixMicro(), Edge: d.e.cfg.ID, Device: d.e.cfg.ID, Interface: iface}
	payload, v6, ok := dhcp.FramePayload(p.Data, p.LinkType, &m)
	if !ok {
		d.stats.NotDHCP.Add(1)
		return
	}
	f := d.frames.Get().(*dhcpFrame)
	f.payload, f.meta, f.v6 = append(f.payload[:0], payload...), m, v6
	if d.replay {
		d.queue <- f
		return
	}
	select {
	case d.queue <- f:
	default:
		d.stats.QueueDrops.Add(1)
		d.frames.Put(f)
	}
}

// dhcpRingBlockSize is the size of the blocks of the DHCP capture ring.
const dhcpRingBlockSize = 128 << 10

// dhcpReorder is how long live frames wait in the worker before they are
// processed in time order: each interface's ring hands frames over in
// blocks (retired after capture.Config.BlockTimeout), so the OFFER seen
// on the server's port may reach the worker after the REQUEST seen on
// the client's. Frames older than this are processed at once.
const dhcpReorder = 100 * time.Millisecond

// frameHeap orders held frames by capture time.
type frameHeap []*dhcpFrame

func (h frameHeap) Len() int           { return len(h) }
func (h frameHeap) Less(i, j int) bool { return h[i].meta.Time < h[j].meta.Time }
func (h frameHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *frameHeap) Push(x any)        { *h = append(*h, x.(*dhcpFrame)) }
func (h *frameHeap) Pop() any {
	old := *h
	f := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return f
}

// run is the DHCP worker: it decodes, enriches and batches until the
// queue is closed, then writes the last batch. Live frames are processed
// in capture-time order across interfaces (dhcpReorder); a replay's are
// in file order.
func (d *dhcpSnoop) run(ctx context.Context) {
	defer close(d.done)
	tick := time.NewTicker(min(d.cfg.BatchAge/4, time.Second))
	defer tick.Stop()
	drainTick := time.NewTicker(dhcpReorder / 4)
	defer drainTick.Stop()
	var held frameHeap
	drain := func(all bool) {
		limit := d.e.now().Add(-dhcpReorder).UnixMicro()
		for held.Len() > 0 && (all || held[0].meta.Time <= limit) {
			d.processOne(ctx, heap.Pop(&held).(*dhcpFrame))
		}
	}
	for {
		select {
		case f, ok := <-d.queue:
			if !ok {
				drain(true)
				d.flush(ctx)
				return
			}
			if d.replay {
				d.processOne(ctx, f)
				continue
			}
			heap.Push(&held, f)
			drain(false)
		case <-drainTick.C:
			drain(false)
		case <-tick.C:
			now := d.e.now()
			if !d.replay {
				if n := d.table.expire(now); n > 0 {
					d.countEnded(endExpiry, n)
					d.sig.recount(d.table)
				}
				// The lease history expires in message time too; frames
				// reach the worker up to dhcpReorder late, so the
				// tracker is advanced leaseLag behind the clock: a late
				// frame is never older than the tracker's time.
				if len(d.batch) == 0 && len(d.spans) == 0 {
					d.batchStart = now
				}
				d.spans = d.leases.Advance(now.Add(-leaseLag).UnixMicro(), d.spans)
			}
			if (len(d.batch) > 0 || len(d.spans) > 0) && now.Sub(d.batchStart) >= d.cfg.BatchAge {
				d.flush(ctx)
			}
			if now.Sub(d.lastSave) >= d.cfg.BindingsInterval {
				d.lastSave = now
				if err := d.table.save(now, false, d.leases.Open); err != nil {
					d.stats.BindingSaveErrors.Add(1)
					d.e.log.Error("save dhcp bindings", "err", err)
				}
			}
		}
	}
}

// leaseLag is how far behind the wall clock a live edge expires the
// lease history: more than any frame waits before the worker takes it.
const leaseLag = time.Second

// processOne processes f, returns it to the pool, and writes the batch
// when it is full.
func (d *dhcpSnoop) processOne(ctx context.Context, f *dhcpFrame) {
	d.process(f)
	d.frames.Put(f)
	if len(d.batch) >= d.cfg.BatchRows || len(d.spans) >= d.cfg.BatchRows {
		d.flush(ctx)
	}
}

// process decodes one message into the batch, or quarantines it.
func (d *dhcpSnoop) process(f *dhcpFrame) {
	if len(d.batch) == 0 {
		d.batchStart = d.e.now()
	}
	d.batch = append(d.batch, schema.DHCPEvent{})
	row := &d.batch[len(d.batch)-1]
	var err error
	if f.v6 {
		err = d.dec.DecodeV6(f.payload, &f.meta, row)
	} else {
		err = d.dec.Decode(f.payload, &f.meta, row)
	}
	if err != nil {
		d.batch = d.batch[:len(d.batch)-1]
		d.reject(f, err)
		return
	}
	d.stats.Decoded.Add(1)
	d.enrich(row)
}

// enrich sets trusted, rogue_server, offer_servers and signals, and
// updates the binding table.
func (d *dhcpSnoop) enrich(r *schema.DHCPEvent) {
	sigs := d.sig.observe(r)
	client := d.table.learn(r)
	key := offerKey{xid: r.XID, client: client}
	switch {
	case r.MsgType == schema.DHCPOffer || r.MsgType == "ADVERTISE":
		o := d.offers[key]
		if o == nil {
			if len(d.offers) >= maxOpenOffers {
				d.pruneOffers(r.Time)
			}
			if len(d.offers) >= maxOpenOffers {
				d.stats.OffersNotTracked.Add(1)
				break
			}
			o = &offerSet{}
			d.offers[key] = o
		}
		srv := serverOf(r)
		if !containsAddr(o.servers, srv) {
			o.servers = append(o.servers, srv)
		}
		o.at = r.Time
	case r.MsgType == schema.DHCPRequest || r.MsgType == schema.DHCPAck || r.MsgType == schema.DHCPNak || r.DHCPv6 && (r.MsgType == "REQUEST" || r.MsgType == "REPLY"):
		if o := d.offers[key]; o != nil {
			s := make([]string, len(o.servers))
			for i, a := range o.servers {
				s[i] = a.String()
			}
			r.OfferServers = strings.Join(s, ",")
			if (r.MsgType == schema.DHCPAck || r.MsgType == "REPLY") && !r.RogueServer {
				delete(d.offers, key) // the transaction is over; a NAK may be a rogue's
			}
		}
	}
	d.observeLease(r, client)
	changed := false
	if !r.RogueServer {
		for why, n := range d.table.apply(r, client, time.UnixMicro(r.Time)) {
			d.countEnded(why, n)
		}
		changed = r.MsgType == schema.DHCPAck || r.MsgType == "REPLY" || r.MsgType == schema.DHCPRelease ||
			r.MsgType == schema.DHCPDecline || r.MsgType == schema.DHCPNak || r.MsgType == "RELEASE" || r.MsgType == "DECLINE"
	}
	if r.Time-d.lastExpire >= int64(time.Second/time.Microsecond) {
		d.lastExpire = r.Time
		if n := d.table.expire(time.UnixMicro(r.Time)); n > 0 {
			d.countEnded(endExpiry, n)
			changed = true
		}
		if len(d.offers) > 0 {
			d.pruneOffers(r.Time)
		}
	}
	// Recounting walks the table: on every change while it is small, at
	// most every 100 ms of message time once it is large (an ACK flood).
	if changed && len(d.sig.pools) > 0 && (d.table.size() <= 10_000 || r.Time-d.lastRecount >= int64(100*time.Millisecond/time.Microsecond) || r.Time < d.lastRecount) {
		d.lastRecount = r.Time
		sigs = append(sigs, d.sig.recount(d.table)...)
	}
	if len(sigs) > 0 {
		r.Signals = strings.Join(sigs, ",")
	}
}

// observeLease feeds r to the lease history. A server need not echo the
// client identifier: a reply without one is keyed, as in the binding
// table, by the identifier its client last sent from that MAC (client,
// from learn), so both name the binding alike.
func (d *dhcpSnoop) observeLease(r *schema.DHCPEvent, client string) {
	ev := r
	if id, ok := strings.CutPrefix(client, "id:"); ok && r.ClientID == "" {
		cp := *r
		cp.ClientID = id
		ev = &cp
	}
	d.spans = d.leases.Observe(ev, d.spans)
	d.stats.LeaseOutOfOrder.Store(d.leases.Counters.OutOfOrder)
}

// pruneOffers forgets transactions whose last OFFER is older than
// offerMemory.
func (d *dhcpSnoop) pruneOffers(now int64) {
	for k, o := range d.offers {
		if now-o.at > int64(offerMemory/time.Microsecond) {
			delete(d.offers, k)
		}
	}
}

func containsAddr(list []netip.Addr, a netip.Addr) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

// countEnded counts n bindings ended for why.
func (d *dhcpSnoop) countEnded(why bindingEnd, n int) {
	c, _ := d.ended.LoadOrStore(why, new(atomic.Uint64))
	c.(*atomic.Uint64).Add(uint64(n))
}

// dhcpQuarantineLine is one line of the DHCP quarantine file: a message
// the decoder rejected, raw, with where and why.
type dhcpQuarantineLine struct {
	Reason    string    `json:"reason"`
	Error     string    `json:"error"`
	Time      time.Time `json:"time"`
	Edge      string    `json:"edge"`
	Interface string    `json:"interface"`
	VLAN      uint16    `json:"vlan,omitempty"`
	SrcAddr   string    `json:"src_addr"`
	DstAddr   string    `json:"dst_addr"`
	SrcPort   uint16    `json:"src_port"`
	DstPort   uint16    `json:"dst_port"`
	DHCPv6    bool      `json:"dhcpv6"`
	Payload   []byte    `json:"payload"` // base64
}

// reject counts a malformed message by reason and quarantines it raw.
func (d *dhcpSnoop) reject(f *dhcpFrame, err error) {
	var de *dhcp.DecodeError
	reason := "unknown"
	if errors.As(err, &de) {
		reason = de.Reason.String()
		if int(de.Reason) < len(d.stats.Rejected) {
			d.stats.Rejected[de.Reason].Add(1)
		}
	}
	m := f.meta
	line := dhcpQuarantineLine{Reason: reason, Error: err.Error(), Time: time.UnixMicro(m.Time).UTC(), Edge: m.Edge, Interface: m.Interface,
		VLAN: m.VLAN, SrcAddr: m.SrcAddr.String(), DstAddr: m.DstAddr.String(), SrcPort: m.SrcPort, DstPort: m.DstPort, DHCPv6: f.v6, Payload: f.payload}
	if werr := d.quar.appendLine(line); werr != nil {
		d.stats.QuarantineLost.Add(1)
		d.e.log.Debug("dhcp message not quarantined", "reason", reason, "err", werr)
		return
	}
	d.stats.Quarantined.Add(1)
}

// appendLine appends v as one JSON line. With no file configured it
// fails: the caller counts the line as lost.
func (q *quarantine) appendLine(v any) error {
	if q.path == "" {
		return errors.New("no quarantine file")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode quarantine line: %w", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.append(append(b, '\n'))
}

// flush writes the batch as dhcp_events segments (the lake, or the
// spool, which the shipper then uploads).
func (d *dhcpSnoop) flush(ctx context.Context) {
	d.flushEvents(ctx)
	d.flushLeases(ctx)
}

// flushLeases writes the lease spans ended since the last flush and the
// open ones started or renewed since (OPEN rows) as dhcp_leases segments.
func (d *dhcpSnoop) flushLeases(ctx context.Context) {
	rows := append(d.spans, d.leases.Changed()...)
	d.spans = rows[:0]
	if len(rows) == 0 {
		return
	}
	segs, err := lake.Write(ctx, d.e.lake, d.e.cfg.ID, rows)
	var written int64
	for _, s := range segs {
		written += s.Rows
	}
	d.stats.LeaseRowsWritten.Add(uint64(written))
	if err != nil {
		lost := uint64(len(rows)) - uint64(written)
		d.stats.LeaseRowsLost.Add(lost)
		d.e.log.Error("write dhcp_leases segments", "rows_lost", lost, "err", err)
	}
	if d.e.spool != nil && len(segs) > 0 {
		d.e.spool.enforce(ctx)
		d.e.shipper.wake()
	}
}

// flushEvents writes the batch of dhcp_events.
func (d *dhcpSnoop) flushEvents(ctx context.Context) {
	if len(d.batch) == 0 {
		return
	}
	rows := len(d.batch)
	segs, err := lake.Write(ctx, d.e.lake, d.e.cfg.ID, d.batch)
	d.batch = d.batch[:0]
	var written int64
	for _, s := range segs {
		written += s.Rows
	}
	d.stats.Segments.Add(uint64(len(segs)))
	d.stats.RowsWritten.Add(uint64(written))
	if err != nil {
		lost := uint64(rows) - uint64(written)
		d.stats.RowsLost.Add(lost)
		d.e.log.Error("write dhcp_events segments", "rows_lost", lost, "err", err)
	}
	if d.e.spool != nil && len(segs) > 0 {
		d.e.spool.enforce(ctx)
		d.e.shipper.wake()
	}
}
