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
		"ack":       rep(5, opt(58, u32(43200)...), opt(59, u32(75600)...), opt(15, []byte("example.org")...), opt(119, []byte("\x07example\x03org\x00")...), opt(121, 0, 192, 168, 1, 1), opt(253, []byte("oasis.h3c.com")...), relay),
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

// TestFuzzSeeds keeps testdata/fuzz/FuzzDecode in step with fuzzSeeds
// (go test -run TestFuzzSeeds ./ingest/dhcp -args -update rewrites it) and checks each seed
// decodes or fails as its name says.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	wantReason := map[string]Reason{"badcookie": ReasonBadCookie, "truncated": ReasonTruncatedOption, "badvalue": ReasonBadOptionValue, "short": ReasonShort}
	for name, b := range fuzzSeeds() {
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
			t.Errorf("seed %s is missing or stale (run go test -run TestFuzzSeeds ./ingest/dhcp -args -update): %v", name, err)
		}
		var d Decoder
		var row schema.DHCPEvent
		err = d.Decode(b, &Meta{}, &row)
		var de *DecodeError
		if r, bad := wantReason[name]; bad {
			if !errors.As(err, &de) || de.Reason != r {
				t.Errorf("seed %s: %v, want reason %s", name, err, r)
			}
		} else if err != nil {
			t.Errorf("seed %s: %v", name, err)
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
		var d Decoder
		var row, again schema.DHCPEvent
		err := d.Decode(b, &Meta{}, &row)
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
		if err := d.Decode(b, &Meta{}, &again); err != nil {
			t.Fatalf("second decode failed: %v", err)
		}
		if diff := cmp.Diff(row, again); diff != "" {
			t.Fatalf("second decode differs:\n%s", diff)
		}
	})
}
