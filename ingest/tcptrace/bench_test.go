package tcptrace

import (
	"os"
	"strings"
	"testing"
)

// BenchmarkParse parses the document's two verbose samples, repeated, and
// reports lines/s.
func BenchmarkParse(b *testing.B) {
	var in strings.Builder
	for range 50 {
		for _, f := range []string{"testdata/samples/cache-packet-ip.txt", "testdata/samples/cache-packet-ipv6.txt"} {
			s, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			in.Write(s)
		}
	}
	text := in.String()
	lines := strings.Count(text, "\n")
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Parse(strings.NewReader(text), Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
