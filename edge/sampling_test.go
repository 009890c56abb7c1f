package edge

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowlake/flowlake/ingest/flow"
	ft "github.com/flowlake/flowlake/ingest/flow/flowtest"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestOptionDataAfterFlowsOverUDP: an exporter with two samplers (1 in
// 2000 and unsampled) whose option data arrives after its first flows.
// Those flows are not taken for unsampled: they carry sampling_rate 0 with
// bytes and packets as exported, and are counted in the edge's status and
// metrics; flows after the option data get their sampler's rate, never
// the other sampler's.
func TestOptionDataAfterFlowsOverUDP(t *testing.T) {
	now := uint32(time.Now().Unix())
	tmpls := ft.Set(2, ft.TemplateRecord(700, ft.Field{ID: 8, Length: 4}, ft.Field{ID: 12, Length: 4}, ft.Field{ID: 1, Length: 4}, ft.Field{ID: 2, Length: 4}, ft.Field{ID: 302, Length: 1}))
	optTmpl := ft.Set(3, ft.IPFIXOptionsTemplateRecord(701, []ft.Field{{ID: 302, Length: 1}}, ft.Field{ID: 305, Length: 4}, ft.Field{ID: 306, Length: 4}))
	rec := func(host, selector byte) []byte {
		return append(ft.BE32(ft.BE32([]byte{10, 3, 0, host, 10, 4, 0, 1}, 1500), 1), selector)
	}
	optData := ft.Set(701, ft.BE32(ft.BE32([]byte{1}, 1), 1999), ft.BE32(ft.BE32([]byte{2}, 1), 0))
	rows, e := ipfixOverUDP(t,
		ft.IPFIXMessage(now, 0, 1, tmpls, optTmpl, ft.Set(700, rec(1, 1), rec(2, 2))), // before the option data
		ft.IPFIXMessage(now, 2, 1, optData),
		ft.IPFIXMessage(now, 2, 1, ft.Set(700, rec(3, 1), rec(4, 2), rec(5, 3))), // selector 3 never described
	)
	type got struct {
		rate           uint32
		bytes, packets uint64
	}
	want := map[byte]got{1: {0, 1500, 1}, 2: {0, 1500, 1}, 3: {2000, 3_000_000, 2000}, 4: {1, 1500, 1}, 5: {0, 1500, 1}}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for _, r := range rows {
		host := r.SrcAddr[15]
		if g := (got{r.SamplingRate, r.Bytes, r.Packets}); g != want[host] {
			t.Errorf("flow from 10.3.0.%d: rate %d bytes %d packets %d, want %+v", host, g.rate, g.bytes, g.packets, want[host])
		}
	}
	if st := e.Status(t.Context()); st.SamplingUnknown != 3 {
		t.Errorf("status sampling_unknown %d, want 3", st.SamplingUnknown)
	}
	if m := gatherMetrics(t, e); m["flowlake_edge_decoder_events_total/sampling_unknown"] != 3 {
		t.Errorf("metric sampling_unknown %v, want 3", m["flowlake_edge_decoder_events_total/sampling_unknown"])
	}
}

// syncBuffer is a log sink safe for the edge's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSamplingRuleShadowedOverUDP: softflowd's NetFlow v9/IPFIX send an
// options template with SAMPLING_INTERVAL=1, so a sampling rule without
// force does not apply to them; the edge says so (status, metrics, one
// warning naming the fix) instead of silently ignoring the rule, and a
// forced rule applies.
func TestSamplingRuleShadowedOverUDP(t *testing.T) {
	now := uint32(time.Now().Unix())
	// As softflowd sends it: options template 256, scope system (1),
	// options SAMPLING_INTERVAL (34) and its algorithm (35); then flows.
	opts := ft.Set(3, ft.IPFIXOptionsTemplateRecord(256, []ft.Field{{ID: 1, Length: 4}}, ft.Field{ID: 34, Length: 4}, ft.Field{ID: 35, Length: 1}))
	optData := ft.Set(256, append(ft.BE32(ft.BE32(nil, 0), 1), 1))
	tmpl := ft.Set(2, ft.TemplateRecord(1024, ft.Field{ID: 8, Length: 4}, ft.Field{ID: 12, Length: 4}, ft.Field{ID: 1, Length: 4}, ft.Field{ID: 2, Length: 4}))
	data := ft.Set(1024, ft.BE32(ft.BE32([]byte{10, 5, 0, 1, 10, 6, 0, 1}, 100), 1), ft.BE32(ft.BE32([]byte{10, 5, 0, 2, 10, 6, 0, 1}, 100), 1))
	for _, force := range []bool{false, true} {
		t.Run(map[bool]string{false: "fallback rule", true: "forced rule"}[force], func(t *testing.T) {
			l := openLake(t)
			cfg := testConfig(t)
			cfg.Flow.Sampling = []flow.SamplingRule{{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Rate: 1000, Force: force}}
			var logs syncBuffer
			e, err := New(cfg, Deps{Lake: l, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = e.Stop() })
			send(t, e, e.Addrs()["ipfix"][0], ft.IPFIXMessage(now, 0, 1, opts, optData, tmpl), ft.IPFIXMessage(now, 1, 1, data), ft.IPFIXMessage(now, 3, 1, data))
			if err := e.Stop(); err != nil {
				t.Fatal(err)
			}
			rows := readFlows(t, l)
			wantRate, wantShadowed := uint32(1), uint64(1)
			if force {
				wantRate, wantShadowed = 1000, 0
			}
			if len(rows) != 4 {
				t.Fatalf("%d rows, want 4", len(rows))
			}
			for _, r := range rows {
				if r.SamplingRate != wantRate || r.Bytes != 100*uint64(wantRate) {
					t.Errorf("row %s: rate %d bytes %d, want rate %d", schema.Addr(r.SrcAddr), r.SamplingRate, r.Bytes, wantRate)
				}
			}
			if st := e.Status(t.Context()); st.SamplingRulesShadowed != wantShadowed {
				t.Errorf("status sampling_rules_shadowed %d, want %d", st.SamplingRulesShadowed, wantShadowed)
			}
			if m := gatherMetrics(t, e); m["flowlake_edge_decoder_events_total/sampling_rules_shadowed"] != float64(wantShadowed) {
				t.Errorf("metric sampling_rules_shadowed %v, want %d", m["flowlake_edge_decoder_events_total/sampling_rules_shadowed"], wantShadowed)
			}
			warnings := strings.Count(logs.String(), "sampling rule not applied")
			if warnings != int(wantShadowed) || force == strings.Contains(logs.String(), "force: true") {
				t.Errorf("%d warnings, want %d naming force: true:\n%s", warnings, wantShadowed, logs.String())
			}
		})
	}
}
