package dhcp

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/flowlake/flowlake/storage/schema"
	"github.com/google/go-cmp/cmp"
)

var updateSeeds = flag.Bool("update", false, "rewrite testdata/fuzz/FuzzDecode from fuzzSeeds")

// fuzzSeeds are real-looking messages (a DORA with relay information,
// overload, split options, every stored option) and near misses of each
// rejection reason: the seed corpus of FuzzDecode.
func fuzzSeeds() map[string][]byte {
	mac := [6]byte{0x28, 0xcf, 0xda, 0xdc, 0x8d, 0x76}
	req := func(t byte, opts ...[]byte) []byte {
		return msg{op: 1, xid: 0xe01cc718, flags: 0x8000, chaddr: mac, opts: append([][]byte{opt(53, t)}, opts...)}.bytes()
	}
	rep := func(t byte, opts ...[]byte) []byte {
		return msg{op: 2, hops: 1, xid: 0xe01cc718, yiaddr: "192.168.1.23", giaddr: "192.168.1.1", chaddr: mac,
			opts: append([][]byte{opt(53, t), opt(54, ip4("10.0.0.1")...), opt(51, u32(86400)...)}, opts...)}.bytes()
	}
	relay := opt(82, append(opt(1, []byte("Vlan10-GigabitEthernet1/0/3")...), opt(2, []byte("sw-floor2")...)...)...)
	return map[string][]byte{
		"discover":  req(1, opt(61, 1, 0x28, 0xcf, 0xda, 0xdc, 0x8d, 0x76), opt(12, []byte("NicksMacBook")...), opt(55, 1, 121, 3, 6, 15, 119, 252), opt(60, []byte("MSFT 5.0")...)),
		"offer":     rep(2, opt(1, ip4("255.255.255.0")...), opt(3, ip4("192.168.1.1")...), opt(6, append(ip4("9.9.9.9"), ip4("1.1.1.1")...)...), relay),
		"request":   req(3, opt(50, ip4("192.168.1.23")...), opt(54, ip4("10.0.0.1")...), opt(81, append([]byte{5, 0, 0}, []byte("\x06laptop\x07example\x03org\x00")...)...)),
		"ack":       rep(5, opt(58, u32(43200)...), opt(59, u32(75600)...), opt(15, []byte("example.org")...), opt(119, []byte("\x07example\x03org\x00")...), opt(121, 24, 192, 168, 5, 10, 0, 0, 1, 0, 192, 168, 1, 1), opt(253, []byte("oasis.h3c.com")...), relay),
		"nak":       rep(6),
		"release":   msg{op: 1, xid: 7, ciaddr: "192.168.1.23", chaddr: mac, opts: [][]byte{opt(53, 7), opt(54, ip4("10.0.0.1")...)}}.bytes(),
		"overload":  msg{op: 2, xid: 9, chaddr: mac, opts: [][]byte{opt(53, 2), opt(52, 3)}, fileOpts: [][]byte{opt(51, u32(600)...)}, snameOpts: [][]byte{opt(12, 'x')}}.bytes(),
		"split":     req(8, opt(12, []byte("lap")...), opt(12, []byte("top")...)),
		"badcookie": msg{op: 1, cookie: []byte{0x63, 0x82, 0x53, 0x64}, opts: [][]byte{opt(53, 1)}}.bytes(),
		"truncated": append(msg{op: 1, noEnd: true}.bytes(), 12, 40, 'a'),
		"badvalue":  req(3, opt(50, 1, 2, 3)),
		"short":     msg{op: 1}.bytes()[:100],
	}
}

// fuzzSeeds6 are real-looking DHCPv6 messages (SOLICIT, ADVERTISE, a
// relayed REQUEST, REPLY, INFORMATION-REQUEST) and near misses: the seed
// corpus of FuzzDecodeV6.
func fuzzSeeds6() map[string][]byte {
	return map[string][]byte{
		"solicit":   msg6(1, 0x6aebe6, opt6(1, clientDUID...), opt6(6, 0, 23, 0, 24, 0, 136), opt6(8, 0x1b, 0x76), iana6(3600, 5400, "", 0, 0)),
		"advertise": msg6(2, 0x6aebe6, opt6(1, clientDUID...), opt6(2, serverDUID...), iana6(0, 0, "1234:5678::4", 18000, 28800), opt6(23, ip16("2001:db8::53")...)),
		"relayed":   relay6(12, 0, "2001:db8:1::1", "fe80::2a", msg6(3, 0x5f98e6, opt6(1, clientDUID...), opt6(2, serverDUID...), iana6(3600, 5400, "1234:5678::4", 7500, 7500)), opt6(18, []byte("Gi1/0/7")...)),
		"reply":     msg6(7, 0x5f98e6, opt6(1, clientDUID...), opt6(2, serverDUID...), iana6(0, 0, "1234:5678::4", 18000, 28800), opt6(24, []byte("\x07example\x03org\x00")...)),
		"inforeq":   msg6(11, 0x0b5fcf, opt6(1, serverDUID...), opt6(6, 0, 59, 0, 24, 0, 23)),
		"truncated": cat(msg6(1, 1), []byte{0, 1, 0, 9, 1}),
		"short":     []byte{12, 0, 1},
	}
}

// TestFuzzSeeds keeps testdata/fuzz/FuzzDecode and FuzzDecodeV6 in step
// with fuzzSeeds and fuzzSeeds6 (go test -run TestFuzzSeeds ./ingest/dhcp
// -args -update rewrites them) and checks each seed decodes or fails as its
// name says.
func TestFuzzSeeds(t *testing.T) {
	wantReason := map[string]Reason{"badcookie": ReasonBadCookie, "truncated": ReasonTruncatedOption, "badvalue": ReasonBadOptionValue, "short": ReasonShort}
	for _, target := range []struct {
		name   string
		seeds  map[string][]byte
		decode func(*Decoder, []byte, *schema.DHCPEvent) error
	}{
		{"FuzzDecode", fuzzSeeds(), func(d *Decoder, b []byte, r *schema.DHCPEvent) error { return d.Decode(b, &Meta{}, r) }},
		{"FuzzDecodeV6", fuzzSeeds6(), func(d *Decoder, b []byte, r *schema.DHCPEvent) error { return d.DecodeV6(b, &Meta{}, r) }},
	} {
		dir := filepath.Join("testdata", "fuzz", target.name)
		for name, b := range target.seeds {
			file := filepath.Join(dir, name)
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b)))
			if *updateSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(file)
			if err != nil || string(got) != content {
				t.Errorf("seed %s/%s is missing or stale (run go test -run TestFuzzSeeds ./ingest/dhcp -args -update): %v", target.name, name, err)
			}
			var d Decoder
			var row schema.DHCPEvent
			err = target.decode(&d, b, &row)
			var de *DecodeError
			if r, bad := wantReason[name]; bad {
				if !errors.As(err, &de) || de.Reason != r {
					t.Errorf("seed %s/%s: %v, want reason %s", target.name, name, err, r)
				}
			} else if err != nil {
				t.Errorf("seed %s/%s: %v", target.name, name, err)
			}
		}
	}
}

// FuzzDecode feeds arbitrary payloads to Decode: it must never panic, must
// reject with a known reason or decode, must count exactly one outcome, and
// must decode the same bytes to the same row again.
func FuzzDecode(f *testing.F) {
	for _, b := range fuzzSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecode(t, b, func(d *Decoder, r *schema.DHCPEvent) error { return d.Decode(b, &Meta{}, r) })
	})
}

// FuzzDecodeV6 is FuzzDecode for DecodeV6.
func FuzzDecodeV6(f *testing.F) {
	for _, b := range fuzzSeeds6() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecode(t, b, func(d *Decoder, r *schema.DHCPEvent) error { return d.DecodeV6(b, &Meta{}, r) })
	})
}

// checkDecode holds the properties both fuzz targets check.
func checkDecode(t *testing.T, b []byte, decode func(*Decoder, *schema.DHCPEvent) error) {
	var d Decoder
	var row, again schema.DHCPEvent
	err := decode(&d, &row)
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) || de.Reason >= numReasons || de.Offset < 0 || de.Offset > len(b) {
			t.Fatalf("bad error %#v", err)
		}
		if d.Counters.TotalRejected() != 1 || d.Counters.Decoded != 0 {
			t.Fatalf("counters %+v after one rejection", d.Counters)
		}
		return
	}
	if d.Counters.Decoded != 1 || d.Counters.TotalRejected() != 0 {
		t.Fatalf("counters %+v after one decode", d.Counters)
	}
	if err := decode(&d, &again); err != nil {
		t.Fatalf("second decode failed: %v", err)
	}
	if diff := cmp.Diff(row, again); diff != "" {
		t.Fatalf("second decode differs:\n%s", diff)
	}
}
