package flow

import (
	"errors"
	"math"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	ft "github.com/flowlake/flowlake/ingest/flow/flowtest"
	"github.com/flowlake/flowlake/storage/schema"
)

var (
	exporterA = netip.MustParseAddrPort("192.0.2.1:40000")
	exporterB = netip.MustParseAddrPort("198.51.100.7:2055")
	recvTime  = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	exportT   = uint32(time.Date(2026, 3, 1, 11, 59, 0, 0, time.UTC).Unix())
)

// ipfixTmpl is a common IPFIX data template (id 256) and ipfixRec a record
// of it.
var ipfixTmpl = ft.TemplateRecord(256,
	ft.Field{ID: 8, Length: 4}, ft.Field{ID: 12, Length: 4}, ft.Field{ID: 7, Length: 2}, ft.Field{ID: 11, Length: 2},
	ft.Field{ID: 4, Length: 1}, ft.Field{ID: 6, Length: 1}, ft.Field{ID: 5, Length: 1},
	ft.Field{ID: 1, Length: 8}, ft.Field{ID: 2, Length: 8},
	ft.Field{ID: 152, Length: 8}, ft.Field{ID: 153, Length: 8},
	ft.Field{ID: 10, Length: 4}, ft.Field{ID: 14, Length: 4}, ft.Field{ID: 48, Length: 1},
)

func ipfixRec(src, dst [4]byte, sport, dport uint16, proto uint8, octets, pkts uint64, startMs uint64, durMs uint64, sampler uint8) []byte {
	b := append(append([]byte{}, src[:]...), dst[:]...)
	b = ft.BE16(ft.BE16(b, sport), dport)
	b = append(b, proto, 0x12, 0x20)
	b = ft.BE64(ft.BE64(b, octets), pkts)
	b = ft.BE64(ft.BE64(b, startMs), startMs+durMs)
	b = ft.BE32(ft.BE32(b, 3), 4)
	return append(b, sampler)
}

var startMs = uint64(time.Date(2026, 3, 1, 11, 58, 30, 250e6, time.UTC).UnixMilli())

func mustDecoder(t testing.TB, cfg Config) *Decoder {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// decodeAll decodes the datagrams in order and returns rows and the last
// error.
func decodeAll(t testing.TB, d *Decoder, from netip.AddrPort, dgs ...[]byte) ([]schema.Flow, error) {
	t.Helper()
	var b Batch
	var last error
	for _, p := range dgs {
		if err := d.Decode(from, p, recvTime, &b); err != nil {
			last = err
		}
	}
	return b.Rows, last
}

func TestDecodeIPFIXRecord(t *testing.T) {
	d := mustDecoder(t, Config{Edge: "edge-1", MaxDomains: 10, MaxTemplatesPerDomain: 10, MaxPast: DefaultMaxPast, MaxFuture: DefaultMaxFuture})
	msg := ft.IPFIXMessage(exportT, 0, 7, ft.Set(2, ipfixTmpl), ft.Set(256, ipfixRec([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 51000, 443, 6, 1500, 3, startMs, 2500, 0)))
	rows, err := decodeAll(t, d, exporterA, msg)
	if err != nil {
		t.Fatal(err)
	}
	want := []schema.Flow{{
		Time: int64(startMs) * 1000, DurationMS: 2500, Edge: "edge-1", Device: "192.0.2.1",
		SrcAddr: schema.MustParseAddr("10.0.0.1"), DstAddr: schema.MustParseAddr("10.0.0.2"),
		SrcPort: 51000, DstPort: 443, Proto: 6, TCPFlags: 0x12, ToS: 0x20, InIf: 3, OutIf: 4,
		Bytes: 1500, Packets: 3, SamplingRate: 1,
	}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestSampling(t *testing.T) {
	src, dst := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	// Options template 300: scope selectorId (302), option samplingPacketInterval/Space.
	ipfixOpt := ft.Set(3, ft.IPFIXOptionsTemplateRecord(300, []ft.Field{{ID: 302, Length: 1}}, ft.Field{ID: 305, Length: 4}, ft.Field{ID: 306, Length: 4}))
	ipfixOptData := func(sel uint8, interval, space uint32) []byte {
		return ft.Set(300, ft.BE32(ft.BE32([]byte{sel}, interval), space))
	}
	// v9: options template 257 with scope system (1), options sampler id 48, interval 34.
	v9Opt := ft.Set(1, ft.V9OptionsTemplateRecord(257, []ft.Field{{ID: 1, Length: 4}}, ft.Field{ID: 48, Length: 1}, ft.Field{ID: 34, Length: 4}))
	v9OptData := func(sampler uint8, interval uint32) []byte {
		return ft.Set(257, ft.BE32(append(ft.BE32(nil, 0), sampler), interval))
	}
	v9Tmpl := ft.Set(0, ft.TemplateRecord(260, ft.Field{ID: 8, Length: 4}, ft.Field{ID: 12, Length: 4}, ft.Field{ID: 1, Length: 4}, ft.Field{ID: 2, Length: 4}, ft.Field{ID: 48, Length: 1}))
	v9Data := func(sampler uint8) []byte {
		return ft.Set(260, append(ft.BE32(ft.BE32(append(append([]byte{}, src[:]...), dst[:]...), 1000), 2), sampler))
	}
	hdr := ft.EthIPv4TCP(src, dst, 1234, 80, 0x18, 0, 0)
	agent := netip.MustParseAddr("203.0.113.9")
	prefix := func(s string) netip.Prefix { return netip.MustParsePrefix(s) }

	tests := []struct {
		name      string
		rules     []SamplingRule
		from      netip.AddrPort
		dgs       [][]byte
		wantRate  uint32
		wantBytes uint64
		wantPkts  uint64
		moreRates []uint32 // rates of rows after the first
	}{
		{
			name: "ipfix option data selector rate",
			dgs: [][]byte{ft.IPFIXMessage(exportT, 0, 1, ft.Set(2, ipfixTmpl), ipfixOpt, ipfixOptData(5, 1, 99),
				ft.Set(256, ipfixRec(src, dst, 1, 2, 17, 100, 1, startMs, 0, 5)))},
			wantRate: 100, wantBytes: 10000, wantPkts: 100,
		},
		{
			// Another selector's rate would be off by their ratio: the row is
			// marked (rate 0, counts as exported), not scaled.
			name: "ipfix record names a selector not described yet: rate unknown",
			dgs: [][]byte{ft.IPFIXMessage(exportT, 0, 1, ft.Set(2, ipfixTmpl), ipfixOpt, ipfixOptData(5, 1, 9),
				ft.Set(256, ipfixRec(src, dst, 1, 2, 17, 100, 1, startMs, 0, 6)))},
			wantRate: 0, wantBytes: 100, wantPkts: 1,
		},
		{
			name: "ipfix n-out-of-N (309/310) and probability (311) option data",
			dgs: [][]byte{ft.IPFIXMessage(exportT, 0, 1, ft.Set(2, ipfixTmpl),
				ft.Set(3, ft.IPFIXOptionsTemplateRecord(301, []ft.Field{{ID: 302, Length: 1}}, ft.Field{ID: 309, Length: 4}, ft.Field{ID: 310, Length: 4}),
					ft.IPFIXOptionsTemplateRecord(302, []ft.Field{{ID: 302, Length: 1}}, ft.Field{ID: 311, Length: 8})),
				ft.Set(301, ft.BE32(ft.BE32([]byte{7}, 2), 512)),
				ft.Set(302, ft.BE64([]byte{8}, math.Float64bits(0.001))),
				ft.Set(256, ipfixRec(src, dst, 1, 2, 17, 100, 1, startMs, 0, 7), ipfixRec(src, dst, 1, 2, 17, 100, 1, startMs, 0, 8)))},
			wantRate: 256, wantBytes: 25600, wantPkts: 256, moreRates: []uint32{1000},
		},
		{
			name:     "no option data (softflowd): rate 1",
			dgs:      [][]byte{ft.IPFIXMessage(exportT, 0, 1, ft.Set(2, ipfixTmpl), ft.Set(256, ipfixRec(src, dst, 1, 2, 17, 100, 1, startMs, 0, 0)))},
			wantRate: 1, wantBytes: 100, wantPkts: 1,
		},
		{
			name:     "v9 options sampler id",
			dgs:      [][]byte{ft.V9Packet(1000, exportT, 0, 0, v9Tmpl, v9Opt, v9OptData(1, 64), v9OptData(2, 512), v9Data(2))},
			wantRate: 512, wantBytes: 512000, wantPkts: 1024,
		},
		{
			name:     "v9 option data in an earlier datagram",
			dgs:      [][]byte{ft.V9Packet(1000, exportT, 0, 0, v9Opt, v9OptData(1, 64)), ft.V9Packet(1000, exportT, 1, 0, v9Tmpl, v9Data(1))},
			wantRate: 64, wantBytes: 64000, wantPkts: 128,
		},
		{
			name:     "unforced rule fills in when nothing reported",
			rules:    []SamplingRule{{Prefix: prefix("192.0.2.0/24"), Rate: 1000}},
			dgs:      [][]byte{ft.IPFIXMessage(exportT, 0, 1, ft.Set(2, ipfixTmpl), ft.Set(256, ipfixRec(src, dst, 1, 2, 17, 100, 1, startMs, 0, 0)))},
			wantRate: 1000, wantBytes: 100000, wantPkts: 1000,
		},
		{
			name:  "unforced rule loses to reported rate",
			rules: []SamplingRule{{Prefix: prefix("192.0.2.0/24"), Rate: 1000}},
			dgs: [][]byte{ft.IPFIXMessage(exportT, 0, 1, ft.Set(2, ipfixTmpl), ipfixOpt, ipfixOptData(5, 1, 1),
				ft.Set(256, ipfixRec(src, dst, 1, 2, 17, 100, 1, startMs, 0, 5)))},
			wantRate: 2, wantBytes: 200, wantPkts: 2,
		},
		{
			name:  "forced rule wins; longest prefix chosen",
			rules: []SamplingRule{{Prefix: prefix("192.0.0.0/8"), Rate: 7, Force: true}, {Prefix: prefix("192.0.2.1/32"), Rate: 50, Force: true}},
			dgs: [][]byte{ft.IPFIXMessage(exportT, 0, 1, ft.Set(2, ipfixTmpl), ipfixOpt, ipfixOptData(5, 1, 1),
				ft.Set(256, ipfixRec(src, dst, 1, 2, 17, 100, 1, startMs, 0, 5)))},
			wantRate: 50, wantBytes: 5000, wantPkts: 50,
		},
		{
			name:     "rule for another exporter does not apply",
			rules:    []SamplingRule{{Prefix: prefix("2001:db8::/32"), Rate: 9, Force: true}},
			dgs:      [][]byte{ft.IPFIXMessage(exportT, 0, 1, ft.Set(2, ipfixTmpl), ft.Set(256, ipfixRec(src, dst, 1, 2, 17, 100, 1, startMs, 0, 0)))},
			wantRate: 1, wantBytes: 100, wantPkts: 1,
		},
		{
			name:     "v5 header sampling interval (mode bits masked)",
			dgs:      [][]byte{ft.V5Packet(10000, exportT, 0, 0, 1<<14|100, ft.V5Record{Src: src, Dst: dst, Packets: 2, Octets: 300, First: 9000, Last: 9500, Proto: 6})},
			wantRate: 100, wantBytes: 30000, wantPkts: 200,
		},
		{
			name:     "v5 interval 0 means 1",
			dgs:      [][]byte{ft.V5Packet(10000, exportT, 0, 0, 0, ft.V5Record{Src: src, Dst: dst, Packets: 2, Octets: 300, First: 9000, Last: 9500, Proto: 6})},
			wantRate: 1, wantBytes: 300, wantPkts: 2,
		},
		{
			name:     "sflow header rate: frame length and one packet scaled",
			from:     exporterB,
			dgs:      [][]byte{ft.SFlowDatagram(agent, 0, 1, ft.SFlowFlowSample(1, 2048, 5, 6, ft.SFlowRawHeader(1514, hdr)))},
			wantRate: 2048, wantBytes: 1514 * 2048, wantPkts: 2048,
		},
		{
			name:     "sflow rate 0 means 1",
			from:     exporterB,
			dgs:      [][]byte{ft.SFlowDatagram(agent, 0, 1, ft.SFlowFlowSample(1, 0, 5, 6, ft.SFlowRawHeader(60, hdr)))},
			wantRate: 1, wantBytes: 60, wantPkts: 1,
		},
		{
			name:     "sflow rule matches the agent address, not the UDP source",
			from:     exporterB,
			rules:    []SamplingRule{{Prefix: prefix("203.0.113.0/24"), Rate: 4, Force: true}, {Prefix: prefix("198.51.100.7/32"), Rate: 8, Force: true}},
			dgs:      [][]byte{ft.SFlowDatagram(agent, 0, 1, ft.SFlowFlowSample(1, 2048, 5, 6, ft.SFlowRawHeader(100, hdr)))},
			wantRate: 4, wantBytes: 400, wantPkts: 4,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Sampling = tc.rules
			d := mustDecoder(t, cfg)
			from := tc.from
			if !from.IsValid() {
				from = exporterA
			}
			rows, err := decodeAll(t, d, from, tc.dgs...)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1+len(tc.moreRates) {
				t.Fatalf("%d rows, want %d", len(rows), 1+len(tc.moreRates))
			}
			for i, want := range tc.moreRates {
				if got := rows[1+i].SamplingRate; got != want {
					t.Errorf("row %d: rate %d, want %d", i+2, got, want)
				}
			}
			r := rows[0]
			if r.SamplingRate != tc.wantRate || r.Bytes != tc.wantBytes || r.Packets != tc.wantPkts {
				t.Errorf("rate %d bytes %d packets %d; want %d %d %d", r.SamplingRate, r.Bytes, r.Packets, tc.wantRate, tc.wantBytes, tc.wantPkts)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	goodV5 := ft.V5Packet(1, 2, 3, 4, 0, ft.V5Record{Proto: 6})
	hdr := ft.EthIPv4TCP([4]byte{1, 2, 3, 4}, [4]byte{5, 6, 7, 8}, 1, 2, 2, 0, 0)
	agent := netip.MustParseAddr("203.0.113.9")
	tests := []struct {
		name     string
		dgs      [][]byte // all but the last must decode cleanly
		kind     ErrKind
		contains string
		rows     int // rows kept from the failing datagram and before
	}{
		{name: "empty", dgs: [][]byte{{}}, kind: ErrUnknownVersion, contains: "0 bytes"},
		{name: "unknown version", dgs: [][]byte{{0, 7, 0, 0, 1, 2}}, kind: ErrUnknownVersion, contains: "version 7"},
		{name: "v5 short header", dgs: [][]byte{goodV5[:20]}, kind: ErrTruncated, contains: "header"},
		{name: "v5 count beyond datagram", dgs: [][]byte{goodV5[:len(goodV5)-1]}, kind: ErrTruncated, contains: "announces 1 records"},
		{name: "v5 zero count", dgs: [][]byte{append([]byte{0, 5, 0, 0}, goodV5[4:24]...)}, kind: ErrBadLength, contains: "0 records"},
		{name: "v9 short header", dgs: [][]byte{{0, 9, 0, 1, 0, 0}}, kind: ErrTruncated, contains: "need 20"},
		{name: "ipfix length beyond datagram", dgs: [][]byte{ft.IPFIXMessage(1, 0, 0, ft.Set(2, ipfixTmpl))[:30]}, kind: ErrTruncated, contains: "announces"},
		{name: "ipfix length below header", dgs: [][]byte{{0, 10, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}, kind: ErrBadLength, contains: "below the header"},
		{name: "set length below 4", dgs: [][]byte{ft.IPFIXMessage(1, 0, 0, []byte{1, 0, 0, 2})}, kind: ErrBadLength, contains: "below the 4-byte set header"},
		{name: "set overruns message", dgs: [][]byte{ft.IPFIXMessage(1, 0, 0, []byte{1, 0, 0, 40, 0, 0, 0, 0})}, kind: ErrTruncated, contains: "overruns the message"},
		{name: "template field too short", dgs: [][]byte{ft.IPFIXMessage(1, 0, 0, ft.Set(2, []byte{1, 0, 0, 2, 0, 8, 0, 4}))}, kind: ErrBadTemplate, contains: "template set"},
		{name: "address element with wrong length", dgs: [][]byte{ft.IPFIXMessage(1, 0, 0, ft.Set(2, ft.TemplateRecord(256, ft.Field{ID: 8, Length: 5})))}, kind: ErrBadTemplate, contains: "element 8 has length 5"},
		{name: "reserved template id", dgs: [][]byte{ft.IPFIXMessage(1, 0, 0, ft.Set(2, ft.TemplateRecord(200, ft.Field{ID: 8, Length: 4})))}, kind: ErrBadTemplate, contains: "reserved"},
		{name: "zero-length records", dgs: [][]byte{ft.IPFIXMessage(1, 0, 0, ft.Set(2, ft.TemplateRecord(256, ft.Field{ID: 8, Length: 0})))}, kind: ErrBadTemplate, contains: "zero-length"},
		{name: "options template without scope", dgs: [][]byte{ft.IPFIXMessage(1, 0, 0, ft.Set(3, ft.IPFIXOptionsTemplateRecord(300, nil, ft.Field{ID: 305, Length: 4})))}, kind: ErrBadTemplate, contains: "scope field count is 0"},
		{
			name: "truncated variable-length record after a good one",
			dgs: [][]byte{ft.IPFIXMessage(exportT, 0, 0,
				ft.Set(2, ft.TemplateRecord(256, ft.Field{ID: 8, Length: 4}, ft.Field{ID: 82, Length: 0xffff})),
				ft.Set(256, []byte{10, 0, 0, 1, 2, 'a', 'b', 10, 0, 0, 2, 9, 'x'}))},
			kind: ErrTruncated, contains: "set 256 record 2", rows: 1,
		},
		{name: "sflow bad agent address type", dgs: [][]byte{{0, 0, 0, 5, 0, 0, 0, 3, 1, 2, 3, 4}}, kind: ErrTruncated, contains: "agent address"},
		{name: "sflow too many samples", dgs: [][]byte{ft.BE32(ft.SFlowDatagram(agent, 0, 1)[:24], 1000)}, kind: ErrBadLength, contains: "1000 samples"},
		{
			name: "sflow sample overruns",
			dgs: [][]byte{func() []byte {
				b := ft.SFlowDatagram(agent, 0, 1, ft.SFlowFlowSample(1, 1, 1, 1, ft.SFlowRawHeader(60, hdr)))
				return b[:len(b)-8]
			}()},
			kind: ErrTruncated, contains: "sample 1",
		},
		{
			name: "sflow record count beyond sample",
			dgs:  [][]byte{ft.SFlowDatagram(agent, 0, 1, append(ft.BE32(ft.BE32(nil, 1), 32), ft.BE32(make([]byte, 28), 99)...))},
			kind: ErrBadLength, contains: "99 records",
		},
		{
			name: "sflow raw header longer than record",
			dgs:  [][]byte{ft.SFlowDatagram(agent, 0, 1, ft.SFlowFlowSample(1, 1, 1, 1, ft.SFlowRecord(1, ft.BE32(ft.BE32(ft.BE32(ft.BE32(nil, 1), 60), 0), 500))))},
			kind: ErrBadSample, contains: "header length 500",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := mustDecoder(t, DefaultConfig())
			var b Batch
			for i, p := range tc.dgs {
				err := d.Decode(exporterA, p, recvTime, &b)
				if i < len(tc.dgs)-1 {
					if err != nil {
						t.Fatalf("datagram %d: %v", i+1, err)
					}
					continue
				}
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("error %v (%T), want *DecodeError", err, err)
				}
				if de.Kind != tc.kind || !strings.Contains(err.Error(), tc.contains) {
					t.Errorf("error %q (kind %s), want kind %s containing %q", err, de.Kind, tc.kind, tc.contains)
				}
				if !strings.Contains(err.Error(), exporterA.String()) {
					t.Errorf("error %q does not say which exporter", err)
				}
			}
			if b.Len() != tc.rows {
				t.Errorf("%d rows kept, want %d", b.Len(), tc.rows)
			}
			c := d.Counters().Snapshot()
			if c.Errors[tc.kind.String()] != 1 || c.TotalErrors() != 1 {
				t.Errorf("error counters %v, want one %s", c.Errors, tc.kind)
			}
			if c.TotalFlows() != uint64(b.Len()) {
				t.Errorf("flow counter %d, rows %d", c.TotalFlows(), b.Len())
			}
		})
	}
}

func TestTemplateMissAndWithdrawal(t *testing.T) {
	d := mustDecoder(t, DefaultConfig())
	data := ft.Set(256, ipfixRec([4]byte{1, 1, 1, 1}, [4]byte{2, 2, 2, 2}, 1, 2, 6, 10, 1, startMs, 0, 0))
	rows, err := decodeAll(t, d, exporterA,
		ft.IPFIXMessage(exportT, 0, 1, data),                              // no template yet: miss
		ft.IPFIXMessage(exportT, 1, 1, ft.Set(2, ipfixTmpl), data),        // learned: 1 row
		ft.IPFIXMessage(exportT, 2, 2, data),                              // other domain: miss
		ft.IPFIXMessage(exportT, 3, 1, ft.Set(2, ft.TemplateRecord(256))), // withdrawn
		ft.IPFIXMessage(exportT, 4, 1, data),                              // miss again
	)
	if err != nil {
		t.Fatal(err)
	}
	c := d.Counters().Snapshot()
	if len(rows) != 1 || c.TemplateMisses != 3 || c.TemplatesLearned != 1 || c.TemplatesWithdrawn != 1 {
		t.Errorf("rows %d, misses %d, learned %d, withdrawn %d; want 1, 3, 1, 1", len(rows), c.TemplateMisses, c.TemplatesLearned, c.TemplatesWithdrawn)
	}
	if c.TemplateMissBytes != 3*uint64(len(data)-4) {
		t.Errorf("template miss bytes %d, want %d", c.TemplateMissBytes, 3*(len(data)-4))
	}
}

func TestSequenceAccounting(t *testing.T) {
	rec := func(n int) [][]byte {
		var out [][]byte
		for range n {
			out = append(out, ipfixRec([4]byte{1, 1, 1, 1}, [4]byte{2, 2, 2, 2}, 1, 2, 6, 10, 1, startMs, 0, 0))
		}
		return out
	}
	ipfix := func(seq uint32, n int) []byte {
		return ft.IPFIXMessage(exportT, seq, 1, ft.Set(2, ipfixTmpl), ft.Set(256, rec(n)...))
	}
	v5 := func(seq uint32, n int) []byte {
		recs := make([]ft.V5Record, n)
		return ft.V5Packet(100, exportT, 0, seq, 0, recs...)
	}
	v9 := func(seq uint32) []byte {
		return ft.V9Packet(100, exportT, seq, 0, ft.Set(0, ft.TemplateRecord(300, ft.Field{ID: 8, Length: 4})))
	}
	type want struct{ gaps, lostFlows, lostDgs, resets uint64 }
	tests := []struct {
		name string
		dgs  [][]byte
		want want
	}{
		{"ipfix rfc numbering, no loss", [][]byte{ipfix(0, 3), ipfix(3, 5), ipfix(8, 1), ipfix(9, 2)}, want{}},
		{"ipfix softflowd numbering (counts current message), no loss", [][]byte{ipfix(3, 3), ipfix(8, 5), ipfix(9, 1), ipfix(11, 2)}, want{}},
		{"ipfix rfc numbering, 4 records lost", [][]byte{ipfix(0, 3), ipfix(3, 5), ipfix(12, 1)}, want{gaps: 1, lostFlows: 4}},
		{"ipfix softflowd numbering, 6 records lost", [][]byte{ipfix(3, 3), ipfix(8, 5), ipfix(15, 1), ipfix(17, 2)}, want{gaps: 1, lostFlows: 6}},
		{"ipfix restart", [][]byte{ipfix(5000, 3), ipfix(0, 3), ipfix(3, 3)}, want{resets: 1}},
		{"v5 counts records", [][]byte{v5(0, 2), v5(2, 2), v5(10, 1), v5(11, 1)}, want{gaps: 1, lostFlows: 6}},
		{"v9 counts datagrams", [][]byte{v9(7), v9(8), v9(11), v9(12)}, want{gaps: 1, lostDgs: 2}},
		{"v9 wrap-around is not loss", [][]byte{v9(0xffffffff), v9(0), v9(1)}, want{}},
		{
			"sflow counts datagrams",
			[][]byte{ft.SFlowDatagram(netip.MustParseAddr("203.0.113.1"), 0, 1, ft.SFlowCounterSample(1)), ft.SFlowDatagram(netip.MustParseAddr("203.0.113.1"), 0, 4, ft.SFlowCounterSample(2))},
			want{gaps: 1, lostDgs: 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := mustDecoder(t, DefaultConfig())
			if _, err := decodeAll(t, d, exporterA, tc.dgs...); err != nil {
				t.Fatal(err)
			}
			c := d.Counters().Snapshot()
			got := want{c.SequenceGaps, c.LostFlows, c.LostDatagrams, c.SequenceResets}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeV5AndSFlowFields(t *testing.T) {
	d := mustDecoder(t, Config{Edge: "e", MaxDomains: 8, MaxTemplatesPerDomain: 8, MaxPast: DefaultMaxPast, MaxFuture: DefaultMaxFuture})
	exportNs := uint32(250e6)
	v5 := ft.V5Packet(100000, exportT, exportNs, 0, 0, ft.V5Record{
		Src: [4]byte{10, 1, 1, 1}, Dst: [4]byte{10, 2, 2, 2}, NextHop: [4]byte{10, 0, 0, 254}, In: 7, Out: 8,
		Packets: 5, Octets: 4000, First: 90000, Last: 99000, SrcPort: 5353, DstPort: 53, Flags: 0, Proto: 17, ToS: 0xb8, SrcAS: 65001, DstAS: 65002,
	})
	hdr := ft.EthIPv4TCP([4]byte{172, 16, 0, 1}, [4]byte{172, 16, 0, 2}, 40000, 22, 0x02, 0x10, 42)
	sf := ft.SFlowDatagram(netip.MustParseAddr("203.0.113.9"), 3, 77, ft.SFlowCounterSample(1),
		ft.SFlowFlowSample(9, 1, 11, 0x40000001, ft.SFlowRawHeader(74, hdr), ft.SFlowSwitch(43, 43)))
	var b Batch
	for _, p := range [][]byte{v5, sf} {
		if err := d.Decode(exporterA, p, recvTime, &b); err != nil {
			t.Fatal(err)
		}
	}
	exportMs := int64(exportT)*1000 + 250
	want := []schema.Flow{
		{
			Time: (exportMs - 10000) * 1000, DurationMS: 9000, Edge: "e", Device: "192.0.2.1",
			SrcAddr: schema.MustParseAddr("10.1.1.1"), DstAddr: schema.MustParseAddr("10.2.2.2"), NextHop: schema.MustParseAddr("10.0.0.254"),
			SrcPort: 5353, DstPort: 53, Proto: 17, ToS: 0xb8, InIf: 7, OutIf: 8, SrcAS: 65001, DstAS: 65002, Bytes: 4000, Packets: 5, SamplingRate: 1,
		},
		{
			Time: recvTime.UnixMicro(), Edge: "e", Device: "203.0.113.9",
			SrcAddr: schema.MustParseAddr("172.16.0.1"), DstAddr: schema.MustParseAddr("172.16.0.2"),
			SrcPort: 40000, DstPort: 22, Proto: 6, TCPFlags: 0x02, ToS: 0x10, InIf: 11, OutIf: 0, VLAN: 43,
			SrcMAC: schema.MAC{2, 0, 0, 0, 0, 0xaa}, DstMAC: schema.MAC{2, 0, 0, 0, 0, 0xbb},
			Bytes: 74, Packets: 1, SamplingRate: 1,
		},
	}
	if diff := cmp.Diff(want, b.Rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if c := d.Counters().Snapshot(); c.SFlowCounterSamples != 1 || c.Flows["netflow5"] != 1 || c.Flows["sflow"] != 1 {
		t.Errorf("counters %+v", c)
	}
}

func TestLimits(t *testing.T) {
	d := mustDecoder(t, Config{MaxDomains: 1, MaxTemplatesPerDomain: 1, MaxPast: DefaultMaxPast, MaxFuture: DefaultMaxFuture})
	if _, err := decodeAll(t, d, exporterA, ft.IPFIXMessage(exportT, 0, 1, ft.Set(2, ipfixTmpl))); err != nil {
		t.Fatal(err)
	}
	_, err := decodeAll(t, d, exporterA, ft.IPFIXMessage(exportT, 0, 1, ft.Set(2, ft.TemplateRecord(257, ft.Field{ID: 8, Length: 4}))))
	if de := new(DecodeError); !errors.As(err, &de) || de.Kind != ErrLimit {
		t.Errorf("second template: %v, want ErrLimit", err)
	}
	_, err = decodeAll(t, d, exporterB, ft.IPFIXMessage(exportT, 0, 1, ft.Set(2, ipfixTmpl)))
	if de := new(DecodeError); !errors.As(err, &de) || de.Kind != ErrLimit {
		t.Errorf("second domain: %v, want ErrLimit", err)
	}
	if _, err := New(Config{}); err == nil {
		t.Error("zero Config accepted")
	}
	if _, err := New(Config{MaxDomains: 1, MaxTemplatesPerDomain: 1, Sampling: []SamplingRule{{Rate: 0}}}); err == nil {
		t.Error("sampling rule without prefix and rate accepted")
	}
}

// TestConcurrentDecode decodes from several exporters at once while
// snapshots are taken and the enricher swapped (run with -race).
func TestConcurrentDecode(t *testing.T) {
	d := mustDecoder(t, DefaultConfig())
	e, err := NewEnricher(EnrichConfig{IPGroups: []IPGroup{{Name: "lan", Addresses: []string{"10.0.0.0/8"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(g + 1)}), 9)
			var b Batch
			for i := range 200 {
				msg := ft.IPFIXMessage(exportT, uint32(i), 1, ft.Set(2, ipfixTmpl), ft.Set(256, ipfixRec([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 1, 2, 6, 10, 1, startMs, 0, 0)))
				if err := d.Decode(from, msg, recvTime, &b); err != nil {
					t.Error(err)
					return
				}
			}
			if b.Len() != 200 {
				t.Errorf("exporter %d: %d rows", g, b.Len())
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			if _, err := d.MarshalTemplates(); err != nil {
				t.Error(err)
			}
			d.SetEnricher(e)
			_ = d.Counters().Snapshot()
		}
	})
	wg.Wait()
	if c := d.Counters().Snapshot(); c.Flows["ipfix"] != 800 || c.SequenceGaps != 0 {
		t.Errorf("flows %d, gaps %d; want 800, 0", c.Flows["ipfix"], c.SequenceGaps)
	}
}
