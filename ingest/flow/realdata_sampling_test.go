package flow

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/storage/schema"
)

// TestRealSamplingFromOptionData decodes captures whose exporters state
// their sampling in options data (a v9 sampler with a random interval, an
// IPFIX selector with n-out-of-N sampling): each flow's rate must be the one
// tshark shows in the option data for the sampler/selector the flow names
// (the only one when it names none), and bytes/packets scaled by it.
func TestRealSamplingFromOptionData(t *testing.T) {
	root := realData(t)
	needTool(t, "tshark")
	groups := map[string][]string{
		"akvorado_nfv9": {"netflow/akvorado_nfv9_options-template.pcap", "netflow/akvorado_nfv9_options-data.pcap", "netflow/akvorado_nfv9_template.pcap", "netflow/akvorado_nfv9_data.pcap"},
		"pmacct_104":    {"ipfix/pmacct_104_ipfix_ipv6_sampling_option.pcap"},
	}
	for name, rel := range groups {
		t.Run(name, func(t *testing.T) {
			var files []string
			for _, f := range rel {
				files = append(files, filepath.Join(root, f))
			}
			checkOptionSampling(t, files)
		})
	}
}

// tsharkRate returns the rate an option record states and the sampler or
// selector id it is for.
func tsharkRate(rec *jnode) (id string, rate uint64, ok bool) {
	id, okID := rec.leaf("cflow.sampler_id")
	if !okID {
		id, _ = rec.leaf("cflow.selector_id")
	}
	pop, okP := rec.leaf("cflow.sampling_population")
	size, okS := rec.leaf("cflow.sampling_size")
	switch {
	case okP && okS && parseNum(size) > 0:
		return id, parseNum(pop) / parseNum(size), true
	}
	for _, k := range []string{"cflow.sampler_random_interval", "cflow.sampling_interval"} {
		if v, ok := rec.leaf(k); ok {
			return id, parseNum(v), true
		}
	}
	return "", 0, false
}

func checkOptionSampling(t *testing.T, files []string) {
	dgs, ports := readGroup(t, files)
	frames := tsharkFrames(t, "cflow", ports, files...)
	rates := map[string]uint64{}
	var flows []*jnode
	opts := map[string]bool{}
	for i, fr := range frames {
		cf := fr.child("cflow")
		if cf == nil {
			continue
		}
		recs := tsharkRecords(cf, opts, dgs[i].src.Addr().String())
		for _, set := range cf.kids {
			for _, rec := range set.kids {
				if !strings.HasPrefix(rec.key, "Flow ") || slices.Contains(recs, rec) {
					continue
				}
				if id, rate, ok := tsharkRate(rec); ok {
					rates[id] = rate
				}
			}
		}
		flows = append(flows, recs...)
	}
	if len(rates) == 0 || len(flows) == 0 {
		t.Fatalf("tshark shows %d sampler rates and %d flows; the captures should have both", len(rates), len(flows))
	}
	d := mustDecoder(t, replayConfig())
	var b Batch
	for _, dg := range dgs {
		if err := d.Decode(dg.src, dg.payload, dg.ts, &b); err != nil {
			t.Fatal(err)
		}
	}
	if b.Len() != len(flows) {
		t.Fatalf("%d rows, tshark %d flows", b.Len(), len(flows))
	}
	for i, rec := range flows {
		id, ok := rec.leaf("cflow.sampler_id")
		if !ok {
			id, ok = rec.leaf("cflow.selector_id")
		}
		rate, known := rates[id]
		if !ok && len(rates) == 1 {
			for _, r := range rates {
				rate, known = r, true
			}
		}
		if !known || rate < 2 {
			t.Fatalf("flow %d (sampler %q): no option-data rate above 1 in %v", i+1, id, rates)
		}
		r := &b.Rows[i]
		if uint64(r.SamplingRate) != rate || r.Bytes != parseNum(mustLeaf(rec, "cflow.octets"))*rate || r.Packets != parseNum(mustLeaf(rec, "cflow.packets"))*rate {
			t.Errorf("flow %d: rate %d bytes %d packets %d; tshark: sampler %s rate %d, octets %s, packets %s",
				i+1, r.SamplingRate, r.Bytes, r.Packets, id, rate, mustLeaf(rec, "cflow.octets"), mustLeaf(rec, "cflow.packets"))
		}
	}
	t.Logf("%d flows, sampler rates %v", len(flows), rates)
}

// TestSoftflowdSamplingRules decodes real softflowd exports with a
// sampling rule for their exporter: softflowd's NetFlow v9 and IPFIX state
// SAMPLING_INTERVAL=1 in option data (options template 256), so only a
// forced rule applies to them, and the shadowed fallback rule is counted;
// its NetFlow v5 header says 0, so a fallback rule applies there.
func TestSoftflowdSamplingRules(t *testing.T) {
	root := realData(t)
	tests := []struct {
		capture  string
		force    bool
		rate     uint32
		shadowed uint64
	}{
		{"softflowd_v9_from_zeek_echo-connections", false, 1, 1},
		{"softflowd_v9_from_zeek_echo-connections", true, 100, 0},
		{"softflowd_ipfix_milli_from_zeek_echo-connections", false, 1, 1},
		{"softflowd_ipfix_milli_from_zeek_echo-connections", true, 100, 0},
		{"softflowd_v5_from_zeek_echo-connections", false, 100, 0},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/force=%v", tc.capture, tc.force), func(t *testing.T) {
			dgs := readCapture(t, filepath.Join(root, "generated", tc.capture+".pcap"))
			cfg := replayConfig()
			cfg.Sampling = []SamplingRule{{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Rate: 100, Force: tc.force}}
			d := mustDecoder(t, cfg)
			var b Batch
			for _, dg := range dgs {
				if err := d.Decode(dg.src, dg.payload, dg.ts, &b); err != nil {
					t.Fatal(err)
				}
			}
			if b.Len() < 100 {
				t.Fatalf("%d rows: the capture should hold about 1000 flows", b.Len())
			}
			rates := map[uint32]int{}
			for _, r := range b.Rows {
				rates[r.SamplingRate]++
			}
			if len(rates) != 1 || rates[tc.rate] != b.Len() {
				t.Errorf("sampling rates %v, want all %d", rates, tc.rate)
			}
			c := d.Counters().Snapshot()
			if c.SamplingRulesShadowed != tc.shadowed || c.SamplingUnknown != 0 {
				t.Errorf("rules shadowed %d, rates unknown %d; want %d, 0", c.SamplingRulesShadowed, c.SamplingUnknown, tc.shadowed)
			}
			if tc.capture != "softflowd_v5_from_zeek_echo-connections" && c.OptionRecords == 0 {
				t.Error("no option records: softflowd sends SAMPLING_INTERVAL in option data")
			}
		})
	}
}

// TestRealOptionDataAfterFlows replays a real exporter's capture with its
// option data after its flows (data, then options, then the same data
// again): the flows decoded before the option data must not pass for
// unsampled — they carry sampling_rate 0, bytes and packets as exported,
// and are counted — and the same flows after it get their sampler's rate.
func TestRealOptionDataAfterFlows(t *testing.T) {
	root := realData(t)
	read := func(name string) []datagram { return readCapture(t, filepath.Join(root, "netflow", name)) }
	tmpl, data := read("akvorado_nfv9_template.pcap"), read("akvorado_nfv9_data.pcap")
	opts := append(read("akvorado_nfv9_options-template.pcap"), read("akvorado_nfv9_options-data.pcap")...)
	d := mustDecoder(t, replayConfig())
	decode := func(dgs []datagram) []schema.Flow {
		var b Batch
		for _, dg := range dgs {
			if err := d.Decode(dg.src, dg.payload, dg.ts, &b); err != nil {
				t.Fatal(err)
			}
		}
		return b.Rows
	}
	decode(tmpl)
	before := decode(data)
	if len(decode(opts)) != 0 {
		t.Fatal("option data decoded into rows")
	}
	after := decode(data)
	if len(before) == 0 || len(before) != len(after) {
		t.Fatalf("%d rows before the option data, %d after: want the same, more than 0", len(before), len(after))
	}
	for i := range before {
		b, a := before[i], after[i]
		if b.SamplingRate != 0 || a.SamplingRate < 2 || a.Bytes != b.Bytes*uint64(a.SamplingRate) || a.Packets != b.Packets*uint64(a.SamplingRate) {
			t.Errorf("flow %d: before the option data rate %d bytes %d packets %d, after rate %d bytes %d packets %d",
				i+1, b.SamplingRate, b.Bytes, b.Packets, a.SamplingRate, a.Bytes, a.Packets)
		}
	}
	if c := d.Counters().Snapshot(); c.SamplingUnknown != uint64(len(before)) {
		t.Errorf("sampling_unknown %d, want %d", c.SamplingUnknown, len(before))
	}
}
