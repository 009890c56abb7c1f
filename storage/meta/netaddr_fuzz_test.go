package meta

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseAddressRange feeds IP group members to the parser: it never
// panics, and whatever it accepts is a well-formed range of one family
// (no zone, no IPv4-mapped form, start not after end) that contains its
// ends and whose String reads back to the same range. Seeds are under
// testdata/fuzz/FuzzParseAddressRange.
func FuzzParseAddressRange(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "192.0.2.7", "192.0.2.10-192.0.2.20", "2001:db8::/32", "::ffff:10.0.0.0/104"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseAddressRange(s)
		if err != nil {
			if r != (AddressRange{}) {
				t.Fatalf("%q: error %v with a range %v", s, err, r)
			}
			return
		}
		switch {
		case !r.From.IsValid() || !r.To.IsValid():
			t.Fatalf("%q: invalid ends %v", s, r)
		case r.From.Is4() != r.To.Is4():
			t.Fatalf("%q: mixed families %v", s, r)
		case r.From.Is4In6() || r.To.Is4In6():
			t.Fatalf("%q: IPv4-mapped end kept: %v", s, r)
		case r.From.Zone() != "" || r.To.Zone() != "":
			t.Fatalf("%q: zone kept: %v", s, r)
		case r.To.Less(r.From):
			t.Fatalf("%q: reversed %v", s, r)
		case !r.Contains(r.From) || !r.Contains(r.To):
			t.Fatalf("%q: %v does not contain its ends", s, r)
		}
		text := r.String()
		again, err := ParseAddressRange(text)
		if err != nil || again != r {
			t.Fatalf("%q: String %q reads back as %v, %v; want %v", s, text, again, err, r)
		}
		if again.String() != text {
			t.Fatalf("%q: String not stable: %q then %q", s, text, again.String())
		}
	})
}

// FuzzParsePortRange feeds application ports to the parser: it never
// panics, accepts only ranges within 0-65535 with start not after end,
// and String reads back to the same range. Seeds are under
// testdata/fuzz/FuzzParsePortRange.
func FuzzParsePortRange(f *testing.F) {
	for _, s := range []string{"443", "8000-8080", "0", "65535", "1-65535"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePortRange(s)
		if err != nil {
			if p != (PortRange{}) {
				t.Fatalf("%q: error %v with a range %v", s, err, p)
			}
			return
		}
		if p.To < p.From {
			t.Fatalf("%q: reversed %v", s, p)
		}
		// A single number reads as itself.
		if n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16); err == nil && (p.From != uint16(n) || p.To != uint16(n)) {
			t.Fatalf("%q: read as %v", s, p)
		}
		text := p.String()
		again, err := ParsePortRange(text)
		if err != nil || again != p {
			t.Fatalf("%q: String %q reads back as %v, %v; want %v", s, text, again, err, p)
		}
	})
}

// FuzzNormalizeProtocol: an accepted protocol's normal form is accepted
// again unchanged.
func FuzzNormalizeProtocol(f *testing.F) {
	for _, s := range []string{"tcp", "UDP", "6", "255", "any", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeProtocol(s)
		if err != nil {
			return
		}
		again, err := NormalizeProtocol(n)
		if err != nil || again != n {
			t.Fatalf("%q: normal form %q normalises to %q, %v", s, n, again, err)
		}
	})
}
