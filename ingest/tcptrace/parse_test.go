package tcptrace

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/schema"
)

func parseString(t *testing.T, s string, opt Options) (*Result, error) {
	t.Helper()
	if opt.File == "" {
		opt.File = "t.txt"
	}
	return Parse(strings.NewReader(s), opt)
}

// TestParseErrors: every malformed value is an error naming the file, the
// line and the column where the value starts.
func TestParseErrors(t *testing.T) {
	const table = "<sw1> display tcp trace cache-connection ip\n Local Addr:port  Foreign Addr:port  VPN name  R  Time\n"
	const block = "<sw1> display tcp trace cache-packet ip verbose\n MDC ID: 1, Sep 18 15:38:58:503 2019, VPN name: N/A\n" +
		" iss 10, irs 20, in 1 (drop 0), out 1, retrans 0\n (1) Sep 18 15:33:08:367 2019 RS\n"
	for _, tc := range []struct {
		name, in, want string
	}{
		{"bad address", table + " 1.1.1.x:23  1.1.1.2:23  N/A  RT  20:29:08\n July 1 2019\n", `t.txt:3:2: local address: "1.1.1.x" is not an IP address`},
		{"bad clock", table + " 1.1.1.1:23  1.1.1.2:23  N/A  RT  20:61:08\n July 1 2019\n", "t.txt:3:35: close time: 20:61:08 is not a valid time of day"},
		{"no date", table + " 1.1.1.1:23  1.1.1.2:23  N/A  RT  20:29:08\n", "t.txt:4:1: the connection on line 3 has no date line"},
		{"bad date", table + " 1.1.1.1:23  1.1.1.2:23  N/A  RT  20:29:08\n Juli 1 2019\n", `t.txt:4:2: date of the connection on line 3: want a month name, found "Juli"`},
		{"february 30", table + " 1.1.1.1:23  1.1.1.2:23  N/A  RT  20:29:08\n February 30 2019\n", "t.txt:4:2: close time: February 30 20:29:08.000 2019 is not a valid time"},
		{"trailing date text", table + " 1.1.1.1:23  1.1.1.2:23  N/A  RT  20:29:08\n July 1 2019 extra\n", `t.txt:4:14: unexpected "extra"`},
		{"no device", " Local Addr:port  Foreign Addr:port  VPN name  R  Time\n 1.1.1.1:23  1.1.1.2:23  N/A  RT  20:29:08 July 1 2019\n", "t.txt:2:1: no device name"},
		{"bad reason", block + " Reason: sudden death\n", `t.txt:5:10: unknown reason "sudden death"`},
		{"seq too big", block + " seq 99999999999(67), ack 1(0), data 6, NSR invalid (CLOSED)\n", "t.txt:5:6: seq: 99999999999 does not fit in 32 bits"},
		{"unknown flag", block + " flag PSH BOGUS, status ESTABLISHED, win: 1, csum: 0x1\n", `t.txt:5:11: unknown TCP flag "BOGUS"`},
		{"bad checksum", block + " flag ACK, status ESTABLISHED, win: 1, csum: 12\n", "t.txt:5:46: csum: want a 0x-prefixed hexadecimal number"},
		{"iss differs", block + " iss/sndcc/unack/next/max/wnd: 11/6/67/73/73/4344\n", "t.txt:5:32: iss 11 differs from the connection's iss 10"},
		{"short slashes", block + " irs/rcvcc/undeliver/next/adv/wnd: 20/0/0/512\n", `t.txt:5:46: want "/", found ""`},
		{"group ends early", block + " time start/offset/nsroffset start/lastrcv/tsrecent tsrecentage\n 1/2/3\n", `t.txt:7:1: the "time start/offset/nsroffset start/lastrcv/tsrecent tsrecentage" values of line 5 end early: 3 of 7`},
		{"group not numbers", block + " rexmt shift/current/seq rtt/srtt/var low/min/best updatetimes\n 10/x\n", "t.txt:6:5: value 2 of the rexmt line: want a number"},
		{"group too many", block + " rexmt shift/current/seq rtt/srtt/var low/min/best updatetimes\n 1/2/3 4/5/6 7/8/9 10 11\n", "t.txt:6:23: more than the 10 numbers"},
		{"packet line first", "<sw1> display tcp trace cache-packet ip verbose\n MDC ID: 1, Sep 18 15:38:58:503 2019, VPN name: N/A\n seq 1(0), ack 1(0), data 0, NSR x\n", "t.txt:3:2: packet line before any"},
		{"trailing text", block + " recv delayack: 0 more\n", `t.txt:5:19: unexpected "more" after the recv line`},
		{"view prompt names no device", "[core-sw1-GigabitEthernet1/0/1] display tcp trace cache-connection ip\n Local Addr:port  Foreign Addr:port  VPN name  R  Time\n 1.1.1.1:23  1.1.1.2:23  N/A  RT  20:29:08 July 1 2019\n", "t.txt:3:1: no device name"},
		{"block without connection", "<sw1> display tcp trace cache-packet ip verbose\n MDC ID: 1, Sep 18 15:38:58:503 2019, VPN name: N/A\n Reason: sent reset\n", `t.txt:2:1: the trace block starting here has no "Connection:" line`},
		{"block without reason", "<sw1> display tcp trace cache-packet ip verbose\n MDC ID: 1, Sep 18 15:38:58:503 2019, VPN name: N/A\n Connection: 1.1.1.1:1 -> 1.1.1.2:2\n", `t.txt:2:1: the trace block starting here has no "Reason:" line`},
		{"bad arrow", block + " Connection: 1::1->5 ==> 1::2->23\n", `t.txt:5:22: want -> or --> between the endpoints, found "==>"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseString(t, tc.in, Options{})
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *ParseError", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n got %s\nwant %s…", err, tc.want)
			}
		})
	}
}

// TestParseJoinsTableRowToVerboseBlock: a cache-connection row and the
// verbose block of the same connection (closed in the same second) make
// one tcp_conns row, while a row closed at another time stays its own.
func TestParseJoinsTableRowToVerboseBlock(t *testing.T) {
	in := "<sw1> display tcp trace cache-connection ip\n Local Addr:port  Foreign Addr:port  VPN name  R  Time\n" +
		" 1.1.1.1:9732  1.1.1.2:23  vpn1  RT  15:38:58\n   Sep 18 2019\n" +
		" 1.1.1.1:9732  1.1.1.2:23  vpn1  RT  15:39:58\n   Sep 18 2019\n" +
		"<sw1> display tcp trace cache-packet ip source-ip 1.1.1.1 source-port 9732 destination-ip 1.1.1.2 destination-port 23 vpn-instance vpn1 verbose\n" +
		" MDC ID: 1, Sep 18 15:38:58:503 2019, VPN name: vpn1\n Connection: 1.1.1.1:9732 -> 1.1.1.2:23\n Reason: retransmit timeout\n" +
		" iss 10, irs 20, in 1 (drop 0), out 1, retrans 0\n (1) Sep 18 15:33:08:367 2019 R\n seq 25(5), ack 13(3), data 0, NSR invalid (CLOSED)\n"
	res, err := parseString(t, in, Options{Device: "core", Edge: "e1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Merged != 1 || len(res.Conns) != 2 || len(res.Packets) != 1 {
		t.Fatalf("merged %d, conns %d, packets %d: want 1, 2, 1", res.Merged, len(res.Conns), len(res.Packets))
	}
	v, other, p := res.Conns[1], res.Conns[0], res.Packets[0]
	if v.MDCID != 1 || v.VPN != "vpn1" || v.Device != "core" || v.Edge != "e1" || v.TraceID != p.TraceID || other.TraceID == v.TraceID {
		t.Errorf("verbose row %+v, other %+v, packet trace_id %d", v, other, p.TraceID)
	}
	if want := time.Date(2019, 9, 18, 15, 39, 58, 0, time.UTC); schema.FromMicros(other.Time) != want {
		t.Errorf("other row closed at %v, want %v", schema.FromMicros(other.Time), want)
	}
	if p.Direction != "in" { // seq 25 = irs 20 + 5
		t.Errorf("direction %q, want in (seq relative to irs)", p.Direction)
	}
}

// TestParseInformationAndUnknown: `display tcp trace information` lines
// become settings; lines of no known form are kept, numbered, and
// counted; the device clock's zone applies to every time.
func TestParseInformationAndUnknown(t *testing.T) {
	in := "<sw1> display tcp trace information\n TCP trace: Enabled\n Max packet number:  600\n Memory quota (MB): 300\n" +
		"----\n<sw1> display tcp trace cache-connection ip\n Local Addr:port  Foreign Addr:port  VPN name  R  Time\n" +
		" 1.1.1.1:9732  1.1.1.2:23  N/A  PN  20:29:08 July 1 2019\nsomething else\n"
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("no zone data: %v", err)
	}
	res, err := parseString(t, in, Options{Location: paris})
	if err != nil {
		t.Fatal(err)
	}
	wantSettings := []Setting{{2, "TCP trace", "Enabled"}, {3, "Max packet number", "600"}, {4, "Memory quota (MB)", "300"}}
	if diff := cmp.Diff(wantSettings, res.Settings); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Line{{5, "----"}, {9, "something else"}}, res.Unknown); diff != "" {
		t.Errorf("unknown lines (-want +got):\n%s", diff)
	}
	if len(res.Conns) != 1 || schema.FromMicros(res.Conns[0].Time) != time.Date(2019, 7, 1, 18, 29, 8, 0, time.UTC) {
		t.Errorf("conns %+v: want one closed at 18:29:08 UTC (20:29:08 in Paris)", res.Conns)
	}
}

// TestParseWholeDocument: the device document itself, narrative and all,
// parses: its four sample connections and six packets come out, and its
// prose is kept as unknown lines, not fatal.
func TestParseWholeDocument(t *testing.T) {
	path := os.Getenv("FLOWLAKE_REALDATA")
	if path == "" {
		path = "../../../shared"
	} else {
		path += "/.."
	}
	f, err := os.Open(path + "/seeds/000_715c99b991207286.txt")
	if err != nil {
		t.Skipf("the device document is not here: %v", err)
	}
	defer f.Close()
	res, err := Parse(f, Options{File: "000.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Conns) != 4 || len(res.Packets) != 6 || len(res.Unknown) < 100 {
		t.Errorf("conns %d, packets %d, unknown %d: want 4, 6 and the prose (>100 lines)", len(res.Conns), len(res.Packets), len(res.Unknown))
	}
}

// TestParseViewPromptWithDevice: a system-view prompt ("[…] display …")
// starts the output like a user-view one; the device comes from Options.
func TestParseViewPromptWithDevice(t *testing.T) {
	in := "[core-sw1-GigabitEthernet1/0/1] display tcp trace cache-connection ipv6\n LAddr->port  FAddr->port  VPN name  R  Time\n" +
		" 2001:db8::1->179  2001:db8::2->50000  mgmt  SR  01:02:03\n  Dec 7 2026\n"
	res, err := parseString(t, in, Options{Device: "core-sw1"})
	if err != nil {
		t.Fatal(err)
	}
	want := schema.TCPConn{Time: schema.Micros(time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)), Device: "core-sw1",
		LocalAddr: schema.MustParseAddr("2001:db8::1"), LocalPort: 179, ForeignAddr: schema.MustParseAddr("2001:db8::2"), ForeignPort: 50000,
		VPN: "mgmt", Reason: schema.ReasonSentReset, Source: "device"}
	if len(res.Conns) != 1 {
		t.Fatalf("conns %+v, want one", res.Conns)
	}
	got := res.Conns[0]
	got.TraceID = 0
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
}
