package query

import (
	"testing"

	"github.com/flowlake/flowlake/storage/schema"
)

// FuzzParseFilter: no input panics, and whatever parses prints a canonical
// text that parses back to an equal Expr, on every dataset.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"src ip 10.0.0.1 and dst port > 1023", "ip in [10.0.0.0/8 2001:db8::/32 10.1.0.1-10.1.0.9]",
		"not (proto udp or flags SA) && bytes > 10K", "reason RT", "mac 00:11:22:33:44:55", "time >= 2026-01-02T03:04:05.5+01:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		for _, ds := range schema.All() {
			e, err := ParseFilter(ds, src)
			if err != nil {
				_ = err.Error()
				continue
			}
			checkRoundTrip(t, ds, src, e)
		}
	})
}
