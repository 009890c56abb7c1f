package dhcp

import (
	"testing"

	"github.com/flowlake/flowlake/storage/schema"
)

// BenchmarkDecode decodes a mix of real-looking messages (the valid fuzz
// seeds: DORA with relay information, overload, split options) and reports
// messages per second on one core.
func BenchmarkDecode(b *testing.B) {
	var msgs [][]byte
	for name, p := range fuzzSeeds() {
		switch name {
		case "badcookie", "truncated", "badvalue", "short":
			continue
		}
		msgs = append(msgs, p)
	}
	var d Decoder
	var row schema.DHCPEvent
	m := &Meta{Edge: "e1", Device: "sw1"}
	var bytes int
	for _, p := range msgs {
		bytes += len(p)
	}
	b.SetBytes(int64(bytes / len(msgs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := d.Decode(msgs[i%len(msgs)], m, &row); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkDecodeV6 decodes the valid DHCPv6 fuzz seeds (SOLICIT,
// ADVERTISE, a relayed REQUEST, REPLY, INFORMATION-REQUEST) in turn.
func BenchmarkDecodeV6(b *testing.B) {
	var msgs [][]byte
	for name, p := range fuzzSeeds6() {
		if name != "truncated" && name != "short" {
			msgs = append(msgs, p)
		}
	}
	var d Decoder
	var row schema.DHCPEvent
	m := &Meta{Edge: "e1"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := d.DecodeV6(msgs[i%len(msgs)], m, &row); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
