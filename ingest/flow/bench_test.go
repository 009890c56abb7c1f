package flow

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
	"github.com/netsampler/goflow2/v2/decoders/netflowlegacy"
	"github.com/netsampler/goflow2/v2/decoders/sflow"

	ft "github.com/flowlake/flowlake/ingest/flow/flowtest"
)

// benchDatagram is one synthetic datagram per format, with the templates it
// needs sent first (warm) and the rows it yields.
type benchDatagram struct {
	name  string
	warm  [][]byte
	data  []byte
	flows int
}

func benchDatagrams() []benchDatagram {
	var ipfixRecs, v9Recs [][]byte
	var v5Recs []ft.V5Record
	var samples [][]byte
	for i := range 30 {
		src, dst := [4]byte{10, 0, byte(i), 1}, [4]byte{192, 168, 1, byte(i)}
		ipfixRecs = append(ipfixRecs, ipfixRec(src, dst, uint16(40000+i), 443, 6, 1500, 3, startMs, 1200, 0))
		v9Recs = append(v9Recs, ft.BE32(ft.BE32(append(append([]byte{}, src[:]...), dst[:]...), 1000), 2))
		v5Recs = append(v5Recs, ft.V5Record{Src: src, Dst: dst, Packets: 3, Octets: 1500, First: 1000, Last: 2000, SrcPort: uint16(40000 + i), DstPort: 443, Proto: 6})
	}
	for i := range 8 {
		hdr := ft.EthIPv4TCP([4]byte{10, 0, 0, byte(i)}, [4]byte{10, 0, 1, byte(i)}, 40000, 443, 0x10, 0, 100)
		samples = append(samples, ft.SFlowFlowSample(uint32(i), 1024, 3, 4, ft.SFlowRawHeader(1514, hdr), ft.SFlowSwitch(100, 100)))
	}
	v9Tmpl := ft.Set(0, ft.TemplateRecord(260, ft.Field{ID: 8, Length: 4}, ft.Field{ID: 12, Length: 4}, ft.Field{ID: 1, Length: 4}, ft.Field{ID: 2, Length: 4}))
	return []benchDatagram{
		{"netflow5", nil, ft.V5Packet(5000, exportT, 0, 0, 0, v5Recs...), 30},
		{"netflow9", [][]byte{ft.V9Packet(5000, exportT, 0, 0, v9Tmpl)}, ft.V9Packet(5000, exportT, 1, 0, ft.Set(260, v9Recs...)), 30},
		{"ipfix", [][]byte{ft.IPFIXMessage(exportT, 0, 1, ft.Set(2, ipfixTmpl))}, ft.IPFIXMessage(exportT, 0, 1, ft.Set(256, ipfixRecs...)), 30},
		{"sflow", nil, ft.SFlowDatagram(netip.MustParseAddr("203.0.113.9"), 0, 1, samples...), 8},
	}
}

// TestDecodeAllocatesNothing pins the hot path: once templates are known
// and the batch has capacity, decoding (with enrichment) allocates nothing.
func TestDecodeAllocatesNothing(t *testing.T) {
	e, err := NewEnricher(EnrichConfig{
		Applications: []Application{{Name: "web", Addresses: []string{"192.168.0.0/16"}, Ports: []string{"443"}}},
		IPGroups:     []IPGroup{{Name: "lan", Addresses: []string{"10.0.0.0/8"}}},
		Exporters:    []Exporter{{Address: exporterA.Addr(), Name: "r1", Interfaces: map[uint32]string{3: "xe-0"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, bd := range benchDatagrams() {
		t.Run(bd.name, func(t *testing.T) {
			d := mustDecoder(t, DefaultConfig())
			d.SetEnricher(e)
			var b Batch
			for _, w := range append(bd.warm, bd.data) {
				if err := d.Decode(exporterA, w, recvTime, &b); err != nil {
					t.Fatal(err)
				}
			}
			allocs := testing.AllocsPerRun(200, func() {
				b.Reset()
				if err := d.Decode(exporterA, bd.data, recvTime, &b); err != nil {
					t.Fatal(err)
				}
			})
			if b.Len() != bd.flows {
				t.Fatalf("%d rows, want %d", b.Len(), bd.flows)
			}
			if allocs != 0 {
				t.Errorf("%v allocations per datagram of %d flows, want 0", allocs, bd.flows)
			}
		})
	}
}

// BenchmarkDecode measures Decode per format on synthetic datagrams, with
// and without enrichment; run with -benchmem.
func BenchmarkDecode(b *testing.B) {
	e, err := NewEnricher(EnrichConfig{
		Applications: []Application{{Name: "web", Addresses: []string{"192.168.0.0/16"}, Ports: []string{"443"}}},
		IPGroups:     []IPGroup{{Name: "lan", Addresses: []string{"10.0.0.0/8"}}, {Name: "dc", Addresses: []string{"192.168.0.0/16"}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, bd := range benchDatagrams() {
		for _, enrich := range []bool{false, true} {
			name := bd.name
			if enrich {
				name += "+enrich"
			}
			b.Run(name, func(b *testing.B) {
				d := mustDecoder(b, replayConfig())
				if enrich {
					d.SetEnricher(e)
				}
				var batch Batch
				for _, w := range bd.warm {
					if err := d.Decode(exporterA, w, recvTime, &batch); err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(int64(len(bd.data)))
				b.ReportAllocs()
				for b.Loop() {
					batch.Reset()
					if err := d.Decode(exporterA, bd.data, recvTime, &batch); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*bd.flows)/b.Elapsed().Seconds(), "flows/s")
			})
		}
	}
}

// BenchmarkDecodeCaptures decodes softflowd's exports of a real capture
// (the 1000-flow zeek echo-connections trace, as v5, v9 and IPFIX) from the
// shared data, datagram after datagram with one decoder.
func BenchmarkDecodeCaptures(b *testing.B) {
	root := realData(b)
	for _, name := range []string{"softflowd_v5_from_zeek_echo-connections", "softflowd_v9_from_zeek_echo-connections", "softflowd_ipfix_milli_from_zeek_echo-connections"} {
		dgs := readCapture(b, filepath.Join(root, "generated", name+".pcap"))
		b.Run(strings.TrimPrefix(name, "softflowd_"), func(b *testing.B) {
			d := mustDecoder(b, replayConfig())
			var batch Batch
			var size int64
			for _, dg := range dgs { // warm: templates, batch capacity
				size += int64(len(dg.payload))
				if err := d.Decode(dg.src, dg.payload, dg.ts, &batch); err != nil {
					b.Fatal(err)
				}
			}
			flows := batch.Len()
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				batch.Reset()
				for _, dg := range dgs {
					if err := d.Decode(dg.src, dg.payload, dg.ts, &batch); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*flows)/b.Elapsed().Seconds(), "flows/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*flows), "ns/flow")
		})
	}
}

// BenchmarkGoflow2Decoders is the peer: goflow2's own decoders (decode
// only, no mapping to rows) on the same datagrams, to show what walking
// records in place saves.
func BenchmarkGoflow2Decoders(b *testing.B) {
	for _, bd := range benchDatagrams() {
		b.Run(bd.name, func(b *testing.B) {
			ts := netflow.CreateTemplateSystem()
			for _, w := range bd.warm {
				var v9 netflow.NFv9Packet
				var ipfix netflow.IPFIXPacket
				if err := netflow.DecodeMessageVersion(bytes.NewBuffer(w), ts, &v9, &ipfix); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(bd.data)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				switch bd.name {
				case "netflow5":
					var p netflowlegacy.PacketNetFlowV5
					err = netflowlegacy.DecodeMessageVersion(bytes.NewBuffer(bd.data), &p)
				case "sflow":
					var p sflow.Packet
					err = sflow.DecodeMessageVersion(bytes.NewBuffer(bd.data), &p)
				default:
					var v9 netflow.NFv9Packet
					var ipfix netflow.IPFIXPacket
					err = netflow.DecodeMessageVersion(bytes.NewBuffer(bd.data), ts, &v9, &ipfix)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*bd.flows)/b.Elapsed().Seconds(), "flows/s")
		})
	}
}
