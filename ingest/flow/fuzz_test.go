package flow

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	ft "github.com/flowlake/flowlake/ingest/flow/flowtest"
	"github.com/flowlake/flowlake/storage/schema"
)

// fuzzSeeds are synthetic datagrams per fuzz target; TestFuzzSeeds writes
// them to testdata/fuzz/<target>/ (with -update) and checks they are there.
func fuzzSeeds() map[string][][]byte {
	src, dst := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	v9Tmpl := ft.Set(0, ft.TemplateRecord(260, ft.Field{ID: 8, Length: 4}, ft.Field{ID: 12, Length: 4}, ft.Field{ID: 1, Length: 4}, ft.Field{ID: 2, Length: 4}, ft.Field{ID: 48, Length: 1}, ft.Field{ID: 22, Length: 4}, ft.Field{ID: 21, Length: 4}))
	v9Opt := ft.Set(1, ft.V9OptionsTemplateRecord(257, []ft.Field{{ID: 1, Length: 4}}, ft.Field{ID: 48, Length: 1}, ft.Field{ID: 34, Length: 4}))
	v9Data := ft.Set(260, ft.BE32(ft.BE32(append(ft.BE32(ft.BE32(append(append([]byte{}, src[:]...), dst[:]...), 1000), 2), 1), 500), 900))
	ipfixOpt := ft.Set(3, ft.IPFIXOptionsTemplateRecord(300, []ft.Field{{ID: 302, Length: 1}}, ft.Field{ID: 305, Length: 4}, ft.Field{ID: 306, Length: 4}, ft.Field{ID: 160, Length: 8}))
	varTmpl := ft.Set(2, ft.TemplateRecord(258, ft.Field{ID: 27, Length: 16}, ft.Field{ID: 28, Length: 16}, ft.Field{ID: 82, Length: 0xffff}, ft.Field{ID: 154, Length: 8}, ft.Field{ID: 155, Length: 8}, ft.Field{ID: 1000, Length: 4, PEN: 9}))
	varData := ft.Set(258, append(append(append(append(make([]byte, 32), 3, 'e', 't', 'h'), ft.BE64(ft.BE64(nil, 0xe000000000000000), 0xe000000100000000)...), 1, 2, 3, 4), make([]byte, 32)...))
	agent := netip.MustParseAddr("203.0.113.9")
	hdr := ft.EthIPv4TCP(src, dst, 1234, 443, 0x12, 0, 7)
	ipv6Hdr := append([]byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd, 0x60, 0, 0, 0, 0, 8, 17, 64}, make([]byte, 32)...)
	ipv6Hdr = append(ipv6Hdr, 0x13, 0x88, 0, 53, 0, 8, 0, 0)
	sampledIPv4 := ft.SFlowRecord(3, ft.BE32(ft.BE32(ft.BE32(ft.BE32(ft.BE32(ft.BE32(append(append(ft.BE32(ft.BE32(nil, 60), 6), src[:]...), dst[:]...), 1), 2), 0x12), 0), 0), 0))
	// next hop 10.0.0.1, AS 65000, src AS 65001, peer 65002, one AS_SEQUENCE
	// segment [65010 65020], no communities, local pref 100.
	gateway := ft.SFlowRecord(1003, ft.BE32(ft.BE32(ft.BE32(ft.BE32(ft.BE32(ft.BE32(ft.BE32(ft.BE32(ft.BE32(append(ft.BE32(nil, 1), 10, 0, 0, 1), 65000), 65001), 65002), 1), 2), 2), 65010), 65020), 0))
	gateway = append(gateway[:4], ft.BE32(nil, 48)...) // length incl. local pref below
	gateway = append(gateway, ft.BE32(ft.BE32(ft.BE32(ft.BE32(ft.BE32(ft.BE32(ft.BE32(ft.BE32(ft.BE32(append(ft.BE32(nil, 1), 10, 0, 0, 1), 65000), 65001), 65002), 1), 2), 2), 65010), 65020), 0)...)
	gateway = ft.BE32(gateway, 100)
	frames := fuzzFrames()
	varField := func(b []byte) []byte { return append([]byte{byte(len(b))}, b...) }
	frameTmpl := ft.Set(2, ft.TemplateRecord(259, ft.Field{ID: 10, Length: 4}, ft.Field{ID: 312, Length: 2}, ft.Field{ID: 315, Length: 0xffff}))
	var frameRecs [][]byte
	for _, fr := range frames {
		frameRecs = append(frameRecs, append(ft.BE16(ft.BE32(nil, 3), uint16(len(fr))), varField(fr)...))
	}
	outer6 := append(netip.MustParseAddr("2001:db8::1").AsSlice(), netip.MustParseAddr("2001:db8::2").AsSlice()...)
	tunnelTmpl := ft.Set(2, ft.TemplateRecord(260, ft.Field{ID: 27, Length: 16}, ft.Field{ID: 28, Length: 16}, ft.Field{ID: 4, Length: 1}, ft.Field{ID: 8, Length: 4}, ft.Field{ID: 12, Length: 4}, ft.Field{ID: 4, Length: 1}, ft.Field{ID: 7, Length: 2}, ft.Field{ID: 11, Length: 2}, ft.Field{ID: 302, Length: 1}, ft.Field{ID: 152, Length: 8}))
	tunnelRec := append(append(append(append([]byte{}, outer6...), 4), src[:]...), dst[:]...)
	tunnelRec = append(ft.BE16(ft.BE16(append(tunnelRec, 17), 2222), 1111), 9)
	tunnelRec = ft.BE64(tunnelRec, startMs)
	return map[string][][]byte{
		"FuzzDecodeNetFlowV5": {
			ft.V5Packet(5000, exportT, 1, 0, 0, ft.V5Record{Src: src, Dst: dst, Packets: 1, Octets: 60, First: 4000, Last: 4500, Proto: 6}),
			ft.V5Packet(5000, exportT, 1, 9, 1<<14|10, ft.V5Record{Proto: 1, DstPort: 0x0800}, ft.V5Record{Proto: 17}),
		},
		"FuzzDecodeNetFlowV9": {
			ft.V9Packet(60000, exportT, 0, 1, v9Tmpl, v9Opt, ft.Set(257, ft.BE32(append(ft.BE32(nil, 0), 1), 64)), v9Data),
			ft.V9Packet(60000, exportT, 1, 1, v9Data, v9Tmpl),
		},
		"FuzzDecodeIPFIX": {
			ft.IPFIXMessage(exportT, 0, 1, ft.Set(2, ipfixTmpl), ipfixOpt, ft.Set(300, ft.BE64(ft.BE32(ft.BE32([]byte{5}, 1), 9), startMs)), ft.Set(256, ipfixRec(src, dst, 1, 2, 6, 10, 1, startMs, 5, 5))),
			ft.IPFIXMessage(exportT, 7, 2, varTmpl, varData, ft.Set(2, ft.TemplateRecord(258))),
			ft.IPFIXMessage(exportT, 0, 3, frameTmpl, ft.Set(259, frameRecs...)),
			// A tunnel template, its selector's option data after the flow.
			ft.IPFIXMessage(exportT, 0, 4, ipfixOpt, tunnelTmpl, ft.Set(260, tunnelRec), ft.Set(300, ft.BE64(ft.BE32(ft.BE32([]byte{9}, 1), 9), startMs))),
		},
		"FuzzDecodeSFlow": {
			ft.SFlowDatagram(agent, 0, 1, ft.SFlowCounterSample(1), ft.SFlowFlowSample(2, 512, 3, 4, ft.SFlowRawHeader(1514, hdr), ft.SFlowSwitch(7, 7))),
			ft.SFlowDatagram(agent, 1, 2, ft.SFlowFlowSample(3, 1, 3, 0x80000002, sampledIPv4, gateway, ft.SFlowRawHeader(100, ipv6Hdr))),
			ft.SFlowDatagram(agent, 2, 3, ft.SFlowFlowSample(4, 10, 3, 4, ft.SFlowRawHeader(1500, frames[1])), ft.SFlowFlowSample(5, 10, 3, 4, ft.SFlowRawHeader(1500, frames[2]))),
		},
		"FuzzParseFrame": frames,
		"FuzzUnmarshalTemplates": {
			[]byte(`{"version":1,"domains":[{"exporter":"::1","format":"netflow9","domain":4,"last_rate":9,"rates":[{"rate":9}],"templates":[{"id":300,"options":true,"scopes":[{"type":1,"length":4}],"fields":[{"type":34,"length":4}]}]}]}`),
			[]byte(`{"version":1,"domains":[{"exporter":"192.0.2.1","format":"ipfix","domain":3,"templates":[{"id":259,"fields":[{"type":10,"length":4},{"type":312,"length":2},{"type":315,"length":65535}]},{"id":300,"options":true,"scopes":[{"type":302,"length":1}],"fields":[{"type":305,"length":4},{"type":306,"length":4}]}]}]}`),
		},
	}
}

// fuzzFrames are sampled frames: Ethernet/802.1Q/IPv4/TCP, IPv4/UDP in
// IPv6 (a tunnel), Ethernet over MPLS with a control word, and IPv6 with an
// SRv6 routing header carrying IPv4/ICMP.
func fuzzFrames() [][]byte {
	eth := ft.EthIPv4TCP([4]byte{192, 0, 2, 1}, [4]byte{198, 51, 100, 2}, 40000, 443, 0x18, 0, 231)
	inner := ft.BE16(ft.BE16(ft.BE16(ft.BE16([]byte{0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 1, 1, 1, 10, 2, 2, 2}, 53), 5353), 8), 0)
	v6 := append(ft.BE16([]byte{0x60, 0, 0, 0}, uint16(len(inner))), 4, 64)
	v6 = append(append(v6, netip.MustParseAddr("2001:db8::a").AsSlice()...), netip.MustParseAddr("2001:db8::b").AsSlice()...)
	tunnel := append(append([]byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd}, v6...), inner...)
	eompls := append([]byte{2, 0, 0, 0, 0, 3, 2, 0, 0, 0, 0, 4, 0x88, 0x47, 0, 0x3e, 0x81, 0xff, 0, 0, 0, 0}, ft.EthIPv4TCP([4]byte{198, 51, 100, 7}, [4]byte{198, 51, 100, 8}, 443, 59706, 0x10, 0, 0)...)
	icmp := []byte{0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 8, 8, 8, 8, 10, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1}
	srh := []byte{4, 2, 4, 0, 0, 0, 0, 0} // next header IPv4, 2×8 more bytes: one segment
	srh = append(srh, netip.MustParseAddr("2001:db8::c").AsSlice()...)
	srv6 := append(ft.BE16([]byte{0x60, 0, 0, 0}, uint16(len(srh)+len(icmp))), 43, 64)
	srv6 = append(append(srv6, netip.MustParseAddr("2001:db8::a").AsSlice()...), netip.MustParseAddr("2001:db8::c").AsSlice()...)
	srv6 = append(append(append([]byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd}, srv6...), srh...), icmp...)
	return [][]byte{eth, tunnel, eompls, srv6}
}

// FuzzParseFrame checks the sampled-frame parser shared by sFlow headers
// and IPFIX 315 frame sections: never a panic, a length within what the
// headers can state, and a tunnel only where an IP header was found.
func FuzzParseFrame(f *testing.F) {
	for _, s := range fuzzSeeds()["FuzzParseFrame"] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r schema.Flow
		var fi frameInfo
		ok := parseEthernet(data, &r, &fi)
		if fi.length < 0 || fi.length > len(data)+0x10000+40 {
			t.Fatalf("frame length %d from %d bytes", fi.length, len(data))
		}
		if fi.tunnel && !ok {
			t.Fatal("tunnel reported without an IP header")
		}
		if !ok && (!r.SrcAddr.IsZero() || r.SrcPort != 0) && len(data) < 34 {
			t.Fatalf("no IP header, yet addresses or ports set: %+v", r)
		}
	})
}

// fuzzStringSeeds are the seeds of the fuzz targets that take a string.
func fuzzStringSeeds() map[string][]string {
	return map[string][]string{
		"FuzzParseAddrSpec": {"10.0.0.0/8", "2001:db8::/32", "192.0.2.1", "10.0.0.1-10.0.0.9", "::1-::ffff", "::ffff:10.0.0.0/104", "0.0.0.0/0"},
	}
}

func fuzzDecode(f *testing.F, name string, version []byte) {
	for _, s := range fuzzSeeds()[name] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= len(version) {
			copy(data, version)
		}
		d := mustDecoder(t, Config{Edge: "fuzz", MaxDomains: 4, MaxTemplatesPerDomain: 16, MaxPast: DefaultMaxPast, MaxFuture: DefaultMaxFuture, Sampling: []SamplingRule{{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Rate: 3}}})
		var b Batch
		// Twice: templates learned in the first pass decode data sets that
		// came before them in the second.
		for range 2 {
			err := d.Decode(exporterA, data, recvTime, &b)
			var de *DecodeError
			if err != nil && (!errors.As(err, &de) || de.Kind >= numErrKinds || de.Error() == "") {
				t.Fatalf("error %v (%T) is not a classified *DecodeError", err, err)
			}
		}
		c := d.Counters().Snapshot()
		if c.TotalFlows() != uint64(b.Len()) {
			t.Fatalf("counters say %d flows, batch has %d", c.TotalFlows(), b.Len())
		}
		var dgs uint64
		for _, v := range c.Datagrams {
			dgs += v
		}
		if dgs+c.Errors[ErrUnknownVersion.String()] != 2 {
			t.Fatalf("2 datagrams counted as %d received + %d unknown", dgs, c.Errors[ErrUnknownVersion.String()])
		}
		unknown := uint64(0)
		for i, r := range b.Rows {
			if r.Edge != "fuzz" || r.Device == "" {
				t.Fatalf("row %d: edge %q device %q", i, r.Edge, r.Device)
			}
			if r.SamplingRate == 0 {
				unknown++
			}
		}
		for _, q := range b.Quarantined {
			if q.Row.SamplingRate == 0 {
				unknown++
			}
		}
		if unknown != c.SamplingUnknown {
			t.Fatalf("%d rows with sampling rate 0, %d counted as unknown", unknown, c.SamplingUnknown)
		}
		if n := uint64(len(b.Quarantined)); n != c.TimeQuarantined {
			t.Fatalf("%d rows quarantined, %d counted", n, c.TimeQuarantined)
		}
		lo, hi := schema.Micros(recvTime.Add(-DefaultMaxPast)), schema.Micros(recvTime.Add(DefaultMaxFuture))
		for i, r := range b.Rows {
			if r.Time < lo || r.Time > hi {
				t.Fatalf("row %d: time %d outside the window [%d, %d]", i, r.Time, lo, hi)
			}
		}
		snap, err := d.MarshalTemplates()
		if err != nil {
			t.Fatal(err)
		}
		d2 := mustDecoder(t, DefaultConfig())
		if _, err := d2.UnmarshalTemplates(snap); err != nil {
			t.Fatalf("snapshot of a live decoder does not restore: %v\n%s", err, snap)
		}
		again, err := d2.MarshalTemplates()
		if err != nil || !bytes.Equal(again, snap) {
			t.Fatalf("snapshot round trip differs (%v):\n%s\n%s", err, snap, again)
		}
	})
}

func FuzzDecodeNetFlowV5(f *testing.F) { fuzzDecode(f, "FuzzDecodeNetFlowV5", []byte{0, 5}) }
func FuzzDecodeNetFlowV9(f *testing.F) { fuzzDecode(f, "FuzzDecodeNetFlowV9", []byte{0, 9}) }
func FuzzDecodeIPFIX(f *testing.F)     { fuzzDecode(f, "FuzzDecodeIPFIX", []byte{0, 10}) }
func FuzzDecodeSFlow(f *testing.F)     { fuzzDecode(f, "FuzzDecodeSFlow", []byte{0, 0, 0, 5}) }

// FuzzUnmarshalTemplates feeds arbitrary snapshots to UnmarshalTemplates.
func FuzzUnmarshalTemplates(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "templates.golden.json"))
	if err == nil {
		f.Add(golden)
	}
	for _, s := range fuzzSeeds()["FuzzUnmarshalTemplates"] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := mustDecoder(t, Config{MaxDomains: 8, MaxTemplatesPerDomain: 8, MaxPast: DefaultMaxPast, MaxFuture: DefaultMaxFuture})
		if _, err := d.UnmarshalTemplates(data); err != nil {
			return
		}
		snap, err := d.MarshalTemplates()
		if err != nil {
			t.Fatal(err)
		}
		d2 := mustDecoder(t, Config{MaxDomains: 8, MaxTemplatesPerDomain: 8, MaxPast: DefaultMaxPast, MaxFuture: DefaultMaxFuture})
		if _, err := d2.UnmarshalTemplates(snap); err != nil {
			t.Fatalf("re-restoring a snapshot failed: %v\n%s", err, snap)
		}
		if again, _ := d2.MarshalTemplates(); !bytes.Equal(again, snap) {
			t.Fatalf("snapshot not stable:\n%s\n%s", snap, again)
		}
	})
}

// FuzzParseAddrSpec checks address/prefix/range parsing of enrichment
// configuration.
func FuzzParseAddrSpec(f *testing.F) {
	for _, s := range fuzzStringSeeds()["FuzzParseAddrSpec"] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseAddrSpec(s)
		if err != nil {
			return
		}
		if r.lo.cmp(r.hi) > 0 {
			t.Fatalf("%q: range %v > %v", s, r.lo, r.hi)
		}
		tbl := buildRangeTable([]tableEntry{{r: r, val: 0}})
		var lo [16]byte
		for i := range 8 {
			lo[i] = byte(r.lo.hi >> (56 - 8*i))
			lo[8+i] = byte(r.lo.lo >> (56 - 8*i))
		}
		if tbl.lookup(lo) != 0 {
			t.Fatalf("%q: table does not contain its own first address", s)
		}
	})
}

// TestFuzzSeedsDecode checks the seeds are valid datagrams, so fuzzing
// starts from the interesting paths rather than from errors.
func TestFuzzSeedsDecode(t *testing.T) {
	for name, seeds := range fuzzSeeds() {
		if name == "FuzzUnmarshalTemplates" {
			for i, s := range seeds {
				if _, err := mustDecoder(t, DefaultConfig()).UnmarshalTemplates(s); err != nil {
					t.Errorf("%s seed %d: %v", name, i, err)
				}
			}
			continue
		}
		if name == "FuzzParseFrame" {
			for i, s := range seeds {
				var r schema.Flow
				var fi frameInfo
				if !parseEthernet(s, &r, &fi) || fi.length == 0 || r.SrcAddr.IsZero() {
					t.Errorf("%s seed %d: no IP header found (length %d, %+v)", name, i, fi.length, r)
				}
			}
			continue
		}
		d := mustDecoder(t, DefaultConfig())
		var b Batch
		for i, s := range seeds {
			if err := d.Decode(exporterA, s, recvTime, &b); err != nil {
				t.Errorf("%s seed %d: %v", name, i, err)
			}
		}
		if b.Len() == 0 {
			t.Errorf("%s: seeds decode to no rows", name)
		}
		t.Logf("%s: %d rows: %+v", name, b.Len(), b.Rows[len(b.Rows)-1])
	}
}

// TestFuzzSeeds keeps testdata/fuzz/<target>/ in step with fuzzSeeds
// (rewritten with -update), so `go test` runs every seed even without -fuzz.
func TestFuzzSeeds(t *testing.T) {
	corpus := map[string][]string{} // target → file contents
	for name, seeds := range fuzzSeeds() {
		for _, s := range seeds {
			corpus[name] = append(corpus[name], "go test fuzz v1\n[]byte("+strconv.Quote(string(s))+")\n")
		}
	}
	for name, seeds := range fuzzStringSeeds() {
		for _, s := range seeds {
			corpus[name] = append(corpus[name], "go test fuzz v1\nstring("+strconv.Quote(s)+")\n")
		}
	}
	for name, contents := range corpus {
		dir := filepath.Join("testdata", "fuzz", name)
		for i, content := range contents {
			path := filepath.Join(dir, fmt.Sprintf("seed-%d", i))
			if *update {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestFuzzSeeds -update)", err)
			}
			if string(got) != content {
				t.Errorf("%s is stale (run go test -run TestFuzzSeeds -update)", path)
			}
		}
	}
}
