package gen

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// Sink receives generated rows: one call per dataset per edge per hour,
// with source = the edge id. The slices are reused after a call returns, so
// a Sink must copy the rows or finish with them before returning. Rows of a
// call are not sorted; they all lie inside the hour (and inside [Start,
// End)). An error stops Run.
type Sink interface {
	Flows(edge string, rows []schema.Flow) error
	TCPConns(edge string, rows []schema.TCPConn) error
	TCPPackets(edge string, rows []schema.TCPPacket) error
	DHCPEvents(edge string, rows []schema.DHCPEvent) error
	CloudConns(edge string, rows []schema.CloudConn) error
	FlowLoss(edge string, rows []schema.FlowLoss) error
}

// Generator produces the telemetry a Config describes. It holds the
// topology built by New and the state (leases, cloud connections) that one
// Run carries from hour to hour; it is not safe for concurrent use.
type Generator struct {
	cfg    Config
	top    *topology
	season season
	share  []float64 // each edge's share of the flow rate
}

// New validates cfg and builds the topology: sites, edges, exporters,
// hosts, external destinations, DHCP clients and cloud devices.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new generator: %w", err)
	}
	cfg.Start, cfg.End = cfg.Start.UTC(), cfg.End.UTC()
	g := &Generator{cfg: cfg, top: buildTopology(&cfg), season: newSeason(cfg.DiurnalRatio, cfg.WeekendFactor)}
	// Sites shrink with their rank (head office first); a site's edges
	// share its traffic equally.
	var sum float64
	for _, ed := range g.top.edges {
		w := 1 / math.Pow(float64(ed.site.index+1), 0.8)
		g.share = append(g.share, w)
		sum += w
	}
	for i := range g.share {
		g.share[i] /= sum
	}
	return g, nil
}

// Config returns the configuration the generator runs with (times in UTC).
func (g *Generator) Config() Config { return g.cfg }

// Edges returns the edge ids in the order Run visits them.
func (g *Generator) Edges() []string {
	ids := make([]string, len(g.top.edges))
	for i, ed := range g.top.edges {
		ids[i] = ed.id
	}
	return ids
}

// edgeRun is one edge's generators for the length of a Run.
type edgeRun struct {
	ed    *edge
	flows *flowGen
	tcp   *tcpGen
	dhcp  *dhcpGen
	cloud *cloudGen
	loss  *lossGen
}

// Run generates [Start, End) hour by hour in time order and hands each
// hour's rows to sink, one call per dataset per edge per hour (source = edge
// id). Slices passed to the sink are reused after it returns: the sink must
// copy or finish with them before returning. Run stops early with ctx.Err()
// on cancel. Each Run starts from the same initial state, so two Runs of
// one Generator produce the same rows.
func (g *Generator) Run(ctx context.Context, sink Sink) error {
	cfg := &g.cfg
	start, end := cfg.Start.UnixMicro(), cfg.End.UnixMicro()
	runs := make([]edgeRun, len(g.top.edges))
	for i, ed := range g.top.edges {
		runs[i] = edgeRun{
			ed:    ed,
			flows: newFlowGen(g.top, ed, cfg),
			tcp:   newTCPGen(g.top, ed, cfg),
			dhcp:  newDHCPGen(ed, cfg, start),
			cloud: newCloudGen(ed, cfg, start),
			loss:  newLossGen(ed, cfg.Seed),
		}
		// Size the flow buffer for the busiest hour once: regrowing a
		// buffer of pointer-holding rows through the morning ramp costs
		// allocations and GC scans.
		peak := cfg.FlowsPerSecond * 3600 * g.season.peak() * g.share[i] * 1.08
		runs[i].flows.rows = make([]schema.Flow, 0, int(peak+6*math.Sqrt(peak))+64)
	}
	const hourUs = int64(time.Hour / time.Microsecond)
	for h := start - start%hourUs; h < end; h += hourUs {
		if err := ctx.Err(); err != nil {
			return err
		}
		lo, hi := max(h, start), min(h+hourUs, end)
		t := time.UnixMicro(h).UTC()
		frac := float64(hi-lo) / float64(hourUs)
		season := g.season.factor(t)
		abs := h / hourUs
		for i := range runs {
			r := &runs[i]
			id := r.ed.id
			mean := cfg.FlowsPerSecond * 3600 * frac * season * g.share[i] * dayNoise(cfg.Seed, i, t)
			r.flows.g.reseed(cfg.Seed, streamFlows, uint64(i), uint64(abs), 1)
			n := r.flows.g.poisson(mean)
			flows := r.flows.hour(cfg.Seed, abs, lo, hi, n)
			loss := r.loss.hour(cfg.Seed, abs, lo, hi, flows)
			if err := sink.Flows(id, flows); err != nil {
				return fmt.Errorf("sink flows of %s at %s: %w", id, t.Format(time.RFC3339), err)
			}
			conns, pkts := r.tcp.hour(cfg.Seed, abs, lo, hi, cfg.TCPClosesPerHour*frac*math.Sqrt(season))
			if err := sink.TCPConns(id, conns); err != nil {
				return fmt.Errorf("sink tcp conns of %s at %s: %w", id, t.Format(time.RFC3339), err)
			}
			if err := sink.TCPPackets(id, pkts); err != nil {
				return fmt.Errorf("sink tcp packets of %s at %s: %w", id, t.Format(time.RFC3339), err)
			}
			if err := sink.DHCPEvents(id, r.dhcp.hour(cfg.Seed, abs, lo, hi)); err != nil {
				return fmt.Errorf("sink dhcp events of %s at %s: %w", id, t.Format(time.RFC3339), err)
			}
			if err := sink.CloudConns(id, r.cloud.hour(cfg.Seed, abs, lo, hi)); err != nil {
				return fmt.Errorf("sink cloud conns of %s at %s: %w", id, t.Format(time.RFC3339), err)
			}
			if err := sink.FlowLoss(id, loss); err != nil {
				return fmt.Errorf("sink flow loss of %s at %s: %w", id, t.Format(time.RFC3339), err)
			}
		}
	}
	return nil
}
