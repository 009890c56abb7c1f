package dhcp

import (
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/storage/schema"
)

// tsharkFields are the tshark fields each decoded message is compared with,
// in the order they are asked for.
var tsharkFields = []string{
	"frame.number", "dhcp.type", "dhcp.hw.type", "dhcp.hw.len", "dhcp.hops", "dhcp.id", "dhcp.secs", "dhcp.flags",
	"dhcp.ip.client", "dhcp.ip.your", "dhcp.ip.server", "dhcp.ip.relay", "dhcp.hw.mac_addr", "dhcp.server", "dhcp.file",
	"dhcp.option.type", "dhcp.option.value",
	"dhcp.option.subnet_mask", "dhcp.option.router", "dhcp.option.domain_name_server", "dhcp.option.hostname",
	"dhcp.option.domain_name", "dhcp.option.requested_ip_address", "dhcp.option.ip_address_lease_time",
	"dhcp.option.option_overload", "dhcp.option.dhcp", "dhcp.option.dhcp_server_id", "dhcp.option.request_list_item",
	"dhcp.option.renewal_time_value", "dhcp.option.rebinding_time_value", "dhcp.option.vendor_class_id",
	"dhcp.option.message", "dhcp.fqdn.name", "dhcp.option.agent_information_option.agent_circuit_id",
	"dhcp.option.agent_information_option.agent_remote_id",
}

// tsharkFrames runs tshark over a capture and returns, per frame number, the
// fields of its DHCPv4 message (multiple occurrences joined with "|").
func tsharkFrames(t *testing.T, tshark, path, filter string, fields []string) map[int]map[string]string {
	t.Helper()
	args := []string{"-n", "-r", path, "-Y", filter, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=|"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	frames := map[int]map[string]string{}
	for line := range strings.Lines(runTshark(t, tshark, args...)) {
		cols := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(cols) != len(fields) {
			t.Fatalf("tshark line has %d fields, want %d: %q", len(cols), len(fields), line)
		}
		n, err := strconv.Atoi(cols[0])
		if err != nil {
			t.Fatalf("tshark frame number %q: %v", cols[0], err)
		}
		m := map[string]string{}
		for i, f := range fields {
			m[f] = cols[i]
		}
		frames[n] = m
	}
	return frames
}

// runTshark runs tshark and returns its standard output.
func runTshark(t *testing.T, tshark string, args ...string) string {
	t.Helper()
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark %v: %v", args, err)
	}
	return string(out)
}

// rawOptions rebuilds each option's value from tshark's dhcp.option.type
// and dhcp.option.value lists (Pad and End carry no value), concatenating
// repeated options as RFC 3396 says.
func rawOptions(f map[string]string) (map[int]string, error) {
	if f["dhcp.option.type"] == "" {
		return map[int]string{}, nil
	}
	types := strings.Split(f["dhcp.option.type"], "|")
	var vals []string
	if f["dhcp.option.value"] != "" {
		vals = strings.Split(f["dhcp.option.value"], "|")
	}
	out := map[int]string{}
	i := 0
	for _, ts := range types {
		c, err := strconv.Atoi(ts)
		if err != nil {
			return nil, err
		}
		if c == 0 || c == 255 {
			continue
		}
		if i >= len(vals) {
			out[c] += "" // a zero-length option
			continue
		}
		out[c] += vals[i]
		i++
	}
	return out, nil
}

func num(s string) uint64 {
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 1<<64 - 1
	}
	return v
}

func addrText(s string) string {
	if s == "0.0.0.0" {
		return ""
	}
	return s
}

func text(hexv string) string {
	b, _ := hex.DecodeString(hexv)
	return cleanText(b)
}

// compareTshark returns one line per column of row that differs from what
// tshark read in the same message.
func compareTshark(row *schema.DHCPEvent, f map[string]string) []string {
	var diffs []string
	eq := func(what string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			diffs = append(diffs, fmt.Sprintf("%s: ours %v, tshark %v", what, got, want))
		}
	}
	raw, err := rawOptions(f)
	if err != nil {
		return []string{err.Error()}
	}
	first := func(k string) uint64 { return num(strings.Split(f[k], "|")[0]) }
	eq("op", row.Op, first("dhcp.type"))
	eq("htype", row.HType, first("dhcp.hw.type"))
	eq("hlen", row.HLen, first("dhcp.hw.len"))
	eq("hops", row.Hops, num(f["dhcp.hops"]))
	eq("xid", row.XID, num(f["dhcp.id"]))
	eq("secs", row.Secs, num(f["dhcp.secs"]))
	eq("flags", row.Flags, num(f["dhcp.flags"]))
	eq("ciaddr", row.CIAddr, addrText(f["dhcp.ip.client"]))
	eq("yiaddr", row.YIAddr, addrText(f["dhcp.ip.your"]))
	eq("siaddr", row.SIAddr, addrText(f["dhcp.ip.server"]))
	eq("giaddr", row.GIAddr, addrText(f["dhcp.ip.relay"]))
	if row.HType == 1 && row.HLen == 6 {
		eq("chaddr", row.CHAddr, strings.Split(f["dhcp.hw.mac_addr"], "|")[0])
	}
	if row.Overload&2 == 0 {
		eq("sname", row.SName, f["dhcp.server"])
	}
	if row.Overload&1 == 0 {
		eq("file", row.File, f["dhcp.file"])
	}
	// Options: a column is set exactly when tshark saw the option.
	typed := []struct {
		code int
		name string
		got  any
		want string
	}{
		{1, "subnet_mask", row.SubnetMask, f["dhcp.option.subnet_mask"]},
		{3, "routers", row.Routers, strings.ReplaceAll(f["dhcp.option.router"], "|", ",")},
		{6, "dns_servers", row.DNSServers, strings.ReplaceAll(f["dhcp.option.domain_name_server"], "|", ",")},
		{12, "hostname", row.Hostname, text(raw[12])},
		{15, "domain_name", row.DomainName, text(raw[15])},
		{50, "requested_ip", row.RequestedIP, f["dhcp.option.requested_ip_address"]},
		{51, "lease_time", row.LeaseTime, f["dhcp.option.ip_address_lease_time"]},
		{52, "overload", row.Overload, f["dhcp.option.option_overload"]},
		{53, "msg_type", row.MsgType, f["dhcp.option.dhcp"]},
		{54, "server_id", row.ServerID, f["dhcp.option.dhcp_server_id"]},
		{55, "param_list", row.ParamList, strings.ReplaceAll(f["dhcp.option.request_list_item"], "|", ",")},
		{58, "renewal_time", row.RenewalTime, f["dhcp.option.renewal_time_value"]},
		{59, "rebinding_time", row.RebindTime, f["dhcp.option.rebinding_time_value"]},
		{60, "vendor_class", row.VendorClass, text(raw[60])},
		{61, "client_id", row.ClientID, raw[61]},
		{81, "client_fqdn", row.ClientFQDN, f["dhcp.fqdn.name"]},
		{253, "option253", row.Option253, text(raw[253])},
	}
	for _, c := range typed {
		_, present := raw[c.code]
		got := fmt.Sprint(c.got)
		switch {
		case c.code == 53 && present:
			eq(c.name, row.MsgType, MsgTypeName(uint8(num(c.want))))
		case c.code == 53:
			eq(c.name, row.MsgType, "BOOTP")
		case present:
			eq(c.name, got, c.want)
		case got != "" && got != "0":
			diffs = append(diffs, fmt.Sprintf("%s: ours %s, tshark saw no option %d", c.name, got, c.code))
		}
	}
	// Option 56 is split over the three areas in an overload capture:
	// tshark lists the pieces in display order (sname, file, then the rest),
	// RFC 3396 concatenates options, file, sname; compare the pieces.
	if _, ok := raw[56]; ok {
		pieces := strings.Split(f["dhcp.option.message"], "|")
		n := 0
		for _, p := range pieces {
			n += len(p)
			if !strings.Contains(row.Message, p) {
				diffs = append(diffs, fmt.Sprintf("message: ours %q lacks tshark's %q", row.Message, p))
			}
		}
		if n != len(row.Message) {
			diffs = append(diffs, fmt.Sprintf("message: ours %q, tshark's pieces %q", row.Message, pieces))
		}
	} else if row.Message != "" {
		diffs = append(diffs, "message set, tshark saw no option 56")
	}
	if _, ok := raw[82]; ok {
		want := func(h string) string {
			b, _ := hex.DecodeString(h)
			return printableOrHex(b)
		}
		eq("circuit_id", row.CircuitID, want(f["dhcp.option.agent_information_option.agent_circuit_id"]))
		eq("remote_id", row.RemoteID, want(f["dhcp.option.agent_information_option.agent_remote_id"]))
	} else if row.CircuitID != "" || row.RemoteID != "" || row.RelayOther != "" {
		diffs = append(diffs, "relay agent columns set, tshark saw no option 82")
	}
	for _, c := range []struct {
		code int
		got  string
	}{{119, row.DomainSearch}, {121, row.ClasslessRoutes}} {
		if _, ok := raw[c.code]; ok != (c.got != "") {
			diffs = append(diffs, fmt.Sprintf("option %d: column %q, tshark saw it: %v", c.code, c.got, ok))
		}
	}
	return diffs
}

// wantRejected pins the malformed DHCP packets of the shared captures: per
// file, the reasons of the packets tshark shows as DHCP that Flowlake rejects.
var wantRejected = map[string][]Reason{
	"zeek_dhcp_bad_cookie.pcap":           {ReasonBadCookie, ReasonBadCookie, ReasonBadCookie},
	"tcpdump_bootp_asan_malformed.pcap":   {ReasonShort},
	"tcpdump_bootp_asan-2_malformed.pcap": {ReasonShort},
	"ndpi_dhcp-fuzz.pcapng":               {ReasonTruncatedOption},
}

// TestCapturesMatchTshark decodes every DHCP capture of the shared data and
// compares every header field and stored option of every message with
// tshark's reading of the same frame.
func TestCapturesMatchTshark(t *testing.T) {
	dir := filepath.Join(realData(t), "dhcp")
	tshark := needTool(t, "tshark")
	files, err := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	if err != nil || len(files) < 20 {
		t.Fatalf("want the 23 DHCP captures in %s, found %d (%v)", dir, len(files), err)
	}
	seenOpts := map[int]bool{}
	v6Rows := 0
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			res, err := DecodeCapture(data, Meta{Edge: "test"})
			if err != nil {
				t.Fatalf("DecodeCapture: %v", err)
			}
			frames := tsharkFrames(t, tshark, path, "dhcp", tsharkFields)
			var frames6 map[int]map[string]string
			if res.V6 > 0 {
				frames6 = tsharkFrames(t, tshark, path, "dhcpv6", tsharkFields6)
			}
			var reasons []Reason
			for _, m := range res.Malformed {
				reasons = append(reasons, m.Err.Reason)
				t.Logf("frame %d rejected: %v", m.Frame, m.Err)
			}
			if !slices.Equal(reasons, wantRejected[name]) {
				t.Errorf("rejected %v, want %v", reasons, wantRejected[name])
			}
			if int(res.Counters.TotalRejected()) != len(res.Malformed) || int(res.Counters.Decoded) != len(res.Rows) {
				t.Errorf("counters %+v disagree with %d rows and %d malformed", res.Counters, len(res.Rows), len(res.Malformed))
			}
			if len(res.Rows)+len(res.Malformed) < len(frames)+len(frames6) {
				t.Errorf("decoded %d and rejected %d of tshark's %d DHCP frames", len(res.Rows), len(res.Malformed), len(frames)+len(frames6))
			}
			for i, row := range res.Rows {
				if row.DHCPv6 {
					f, ok := frames6[res.Frames[i]]
					if !ok {
						t.Errorf("frame %d: decoded as DHCPv6, tshark shows no DHCPv6", res.Frames[i])
						continue
					}
					v6Rows++
					for _, d := range compareTshark6(&row, f) {
						t.Errorf("frame %d: %s", res.Frames[i], d)
					}
					continue
				}
				f, ok := frames[res.Frames[i]]
				if !ok {
					t.Errorf("frame %d: decoded, tshark shows no DHCP", res.Frames[i])
					continue
				}
				raw, _ := rawOptions(f)
				for c := range raw {
					seenOpts[c] = true
				}
				for _, d := range compareTshark(&row, f) {
					t.Errorf("frame %d: %s", res.Frames[i], d)
				}
			}
		})
	}
	if v6Rows == 0 {
		t.Error("no DHCPv6 message was compared")
	}
	// The captures must exercise the options this test claims to check.
	for _, c := range []int{1, 3, 6, 12, 15, 50, 51, 52, 53, 54, 55, 56, 58, 59, 60, 61, 81, 82} {
		if !seenOpts[c] {
			t.Errorf("no capture carried option %d", c)
		}
	}
}

// tsharkFields6 are the tshark fields each DHCPv6 message is compared with.
var tsharkFields6 = []string{
	"frame.number", "dhcpv6.msgtype", "dhcpv6.xid", "dhcpv6.duid.bytes", "dhcpv6.iaid.t1", "dhcpv6.iaid.t2",
	"dhcpv6.iaaddr.ip", "dhcpv6.iaaddr.valid_lifetime", "dhcpv6.requested_option_code", "dhcpv6.elapsed_time",
	"dhcpv6.dns_server", "dhcpv6.duidllt.link_layer_addr", "dhcpv6.duidll.link_layer_addr", "dhcpv6.hopcount",
}

// compareTshark6 returns one line per column of a DHCPv6 row that differs
// from tshark's reading of the same message (relay wrappers not covered:
// the shared captures hold none).
func compareTshark6(row *schema.DHCPEvent, f map[string]string) []string {
	var diffs []string
	eq := func(what string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			diffs = append(diffs, fmt.Sprintf("%s: ours %v, tshark %v", what, got, want))
		}
	}
	split := func(k string) []string {
		if f[k] == "" {
			return nil
		}
		return strings.Split(f[k], "|")
	}
	firstNum := func(k string) uint64 {
		v := split(k)
		if len(v) == 0 {
			return 0
		}
		return num(v[0])
	}
	eq("msg_type", row.MsgType, MsgTypeName6(uint8(num(f["dhcpv6.msgtype"]))))
	eq("xid", row.XID, num(f["dhcpv6.xid"]))
	// tshark shows the elapsed time (hundredths of a second) in ms.
	eq("secs", row.Secs, firstNum("dhcpv6.elapsed_time")/1000)
	duids := split("dhcpv6.duid.bytes")
	var ours []string
	for _, d := range []string{row.ClientID, row.ServerDUID} {
		if d != "" {
			ours = append(ours, d)
		}
	}
	slices.Sort(duids)
	slices.Sort(ours)
	eq("client_id+server_duid", ours, duids)
	eq("renewal_time", row.RenewalTime, firstNum("dhcpv6.iaid.t1"))
	eq("rebinding_time", row.RebindTime, firstNum("dhcpv6.iaid.t2"))
	eq("ia_na", row.IANA, strings.Join(split("dhcpv6.iaaddr.ip"), ","))
	eq("lease_time", row.LeaseTime, firstNum("dhcpv6.iaaddr.valid_lifetime"))
	first := row.YIAddr
	if row.Op == bootRequest {
		first = row.RequestedIP
	}
	if a := split("dhcpv6.iaaddr.ip"); len(a) > 0 {
		eq("first IA_NA address", first, a[0])
	}
	eq("param_list", row.ParamList, strings.Join(split("dhcpv6.requested_option_code"), ","))
	eq("dns_servers", row.DNSServers, strings.Join(split("dhcpv6.dns_server"), ","))
	mac := f["dhcpv6.duidllt.link_layer_addr"] + f["dhcpv6.duidll.link_layer_addr"]
	if m := strings.Split(mac, "|")[0]; m != "" && row.ClientID != "" {
		eq("chaddr", row.CHAddr, m)
	}
	return diffs
}
