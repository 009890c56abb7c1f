package flow

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// captureGroups lists the capture files of dir to decode, each group fed in
// order into one decoder: a *-data.pcap file goes after its
// *-template(s).pcap partner, other files stand alone.
func captureGroups(t *testing.T, dir string) [][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	if err != nil {
		t.Fatal(err)
	}
	var groups [][]string
	partnered := map[string]bool{}
	for _, f := range files {
		base, ok := strings.CutSuffix(f, "-data.pcap")
		if !ok {
			continue
		}
		for _, suffix := range []string{"-template.pcap", "-templates.pcap"} {
			if slices.Contains(files, base+suffix) {
				groups = append(groups, []string{base + suffix, f})
				partnered[base+suffix], partnered[f] = true, true
			}
		}
	}
	for _, f := range files {
		if !partnered[f] {
			groups = append(groups, []string{f})
		}
	}
	slices.SortFunc(groups, func(a, b []string) int { return strings.Compare(a[len(a)-1], b[len(b)-1]) })
	return groups
}

func groupName(files []string) string {
	return strings.TrimSuffix(filepath.Base(files[len(files)-1]), filepath.Ext(files[len(files)-1]))
}

func readGroup(t *testing.T, files []string) ([]datagram, []uint16) {
	var dgs []datagram
	for _, f := range files {
		dgs = append(dgs, readCapture(t, f)...)
	}
	var ports []uint16
	for _, d := range dgs {
		if d.payload != nil && !slices.Contains(ports, d.dstPort) {
			ports = append(ports, d.dstPort)
		}
	}
	return dgs, ports
}

// TestNetFlowCapturesMatchTshark decodes every NetFlow/IPFIX capture and
// compares each frame's flow records, field by field, with tshark's
// decoding of the same frames.
func TestNetFlowCapturesMatchTshark(t *testing.T) {
	root := realData(t)
	needTool(t, "tshark")
	var totalRows int
	for _, sub := range []string{"netflow", "ipfix", "generated"} {
		for _, files := range captureGroups(t, filepath.Join(root, sub)) {
			t.Run(sub+"/"+groupName(files), func(t *testing.T) {
				totalRows += checkNetFlowGroup(t, files)
			})
		}
	}
	if totalRows < 2000 {
		t.Errorf("only %d rows decoded from all captures; the MANIFEST lists far more", totalRows)
	}
}

func checkNetFlowGroup(t *testing.T, files []string) int {
	dgs, ports := readGroup(t, files)
	frames := tsharkFrames(t, "cflow", ports, files...)
	if len(frames) != len(dgs) {
		t.Fatalf("tshark shows %d frames, pcapgo read %d", len(frames), len(dgs))
	}
	dec, err := New(replayConfig())
	if err != nil {
		t.Fatal(err)
	}
	opts := map[string]bool{}
	var b Batch
	var rows, tsharkSeqFlags int
	ipfix := false
	for i, dg := range dgs {
		cf := frames[i].child("cflow")
		if dg.payload == nil || cf == nil {
			continue
		}
		if v, _ := cf.leaf("cflow.version"); v == "10" {
			ipfix = true
		}
		if _, ok := cf.leaf("cflow.unexpected_sequence_number"); ok {
			tsharkSeqFlags++
		}
		start := b.Len()
		derr := dec.Decode(dg.src, dg.payload, dg.ts, &b)
		got := b.Rows[start:]
		want := tsharkRecords(cf, opts, dg.src.Addr().String())
		if derr != nil {
			t.Errorf("frame %d: %v", i+1, derr)
		}
		if len(got) != len(want) {
			t.Errorf("frame %d: %d rows, tshark shows %d flow records", i+1, len(got), len(want))
			continue
		}
		for j := range want {
			for _, p := range compareRecord(cf, want[j], &got[j]) {
				t.Errorf("frame %d record %d: %s", i+1, j+1, p)
			}
		}
		rows += len(got)
	}
	c := dec.Counters().Snapshot()
	t.Logf("%d datagrams, %d rows; template misses %d, errors %d, sequence gaps %d (lost flows %d, datagrams %d), resets %d",
		len(dgs), rows, c.TemplateMisses, c.TotalErrors(), c.SequenceGaps, c.LostFlows, c.LostDatagrams, c.SequenceResets)
	// tshark checks v5/v9 sequence numbers as the RFCs define them, but not
	// every exporter of a multi-exporter capture (scapy_netflowv9: it misses
	// the second exporter's gap), so its flags are a lower bound. For IPFIX
	// it also flags softflowd's off-by-one numbering, which we accept.
	if !ipfix && c.SequenceGaps+c.SequenceResets < uint64(tsharkSeqFlags) {
		t.Errorf("sequence: %d gaps + %d resets, tshark flags %d frames", c.SequenceGaps, c.SequenceResets, tsharkSeqFlags)
	}
	if uint64(rows) != c.TotalFlows() {
		t.Errorf("counters say %d flows, batch has %d rows", c.TotalFlows(), rows)
	}
	checkDomainLossAddsUp(t, dec)
	return rows
}

// tsharkRecords returns the flow (not options) records of one cflow PDU,
// tracking options template ids in opts across frames.
func tsharkRecords(cf *jnode, opts map[string]bool, exporter string) []*jnode {
	domain, _ := cf.leaf("cflow.source_id")
	if od, ok := cf.leaf("cflow.od_id"); ok {
		domain = od
	}
	var recs []*jnode
	for _, set := range cf.kids {
		switch {
		case strings.HasPrefix(set.key, "pdu "):
			recs = append(recs, set)
		case strings.HasPrefix(set.key, "FlowSet ") || strings.HasPrefix(set.key, "Set "):
			options := strings.Contains(set.key, "(Options Template)")
			if options || strings.Contains(set.key, "(Data Template)") {
				var ids []string
				collect(set, "cflow.template_id", &ids)
				for _, id := range ids {
					opts[exporter+"/"+domain+"/"+id] = options
				}
				continue
			}
			id, _ := set.leaf("cflow.flowset_id")
			if opts[exporter+"/"+domain+"/"+id] {
				continue
			}
			for _, r := range set.kids {
				if strings.HasPrefix(r.key, "Flow ") {
					recs = append(recs, r)
				}
			}
		}
	}
	return recs
}

func collect(n *jnode, key string, out *[]string) {
	for _, k := range n.kids {
		if k.key == key {
			*out = append(*out, k.val)
		}
		collect(k, key, out)
	}
}

func parseNum(s string) uint64 {
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return ^uint64(0) // never equal to a decoded value by accident
	}
	return v
}

// tsharkTime parses tshark's absolute time format.
func tsharkTime(s string) (time.Time, error) {
	return time.Parse("Jan _2, 2006 15:04:05.000000000 MST", s)
}

// secondsMs parses "944948.659000000" (seconds) into milliseconds.
func secondsMs(s string) int64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return -1
	}
	return int64(f*1000 + 0.5)
}

// compareRecord compares one row with tshark's record and returns the
// differences. Only fields tshark shows are compared.
func compareRecord(hdr, rec *jnode, r *schema.Flow) []string {
	var diffs []string
	check := func(name string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			diffs = append(diffs, fmt.Sprintf("%s: got %v, tshark %v", name, got, want))
		}
	}
	addr := func(v4, v6 string) (string, bool) {
		a4, ok4 := rec.leaf(v4)
		a6, ok6 := rec.leaf(v6)
		switch {
		case ok6 && a6 == "::" && !ok4:
			return "", true // :: is the zero Addr, which prints as ""
		case ok6 && a6 != "::":
			return a6, true
		case ok4:
			return a4, true
		}
		return "", false
	}
	if a, ok := addr("cflow.srcaddr", "cflow.srcaddrv6"); ok {
		check("src_addr", r.SrcAddr.String(), a)
	}
	if a, ok := addr("cflow.dstaddr", "cflow.dstaddrv6"); ok {
		check("dst_addr", r.DstAddr.String(), a)
	}
	nh, ok := addr("cflow.nexthop", "cflow.nexthopv6")
	if !ok || nh == "0.0.0.0" || nh == "::" {
		if b, okb := addr("cflow.bgpnexthop", "cflow.bgpnexthopv6"); okb {
			nh, ok = b, true
		}
	}
	if ok {
		if nh == "0.0.0.0" || nh == "::" {
			nh = ""
		}
		check("next_hop", r.NextHop.String(), nh)
	}
	proto, _ := rec.leaf("cflow.protocol")
	num := func(col string, got uint64, keys ...string) {
		for _, k := range keys {
			if v, ok := rec.leaf(k); ok {
				check(col, got, parseNum(v))
				return
			}
		}
	}
	num("proto", uint64(r.Proto), "cflow.protocol")
	num("src_port", uint64(r.SrcPort), "cflow.srcport")
	icmpType, okT := rec.leaf("cflow.icmp_ipv6_type")
	icmpCode, okC := rec.leaf("cflow.icmp_ipv6_code")
	switch tc, okTC := rec.leaf("cflow.icmp_type_code_ipv4"); {
	case (proto == "1" || proto == "58") && okTC:
		check("dst_port (icmp)", r.DstPort, parseNum(tc))
	case (proto == "1" || proto == "58") && okT && okC:
		check("dst_port (icmp)", r.DstPort, parseNum(icmpType)<<8|parseNum(icmpCode))
	default:
		num("dst_port", uint64(r.DstPort), "cflow.dstport")
	}
	num("tcp_flags", uint64(r.TCPFlags), "cflow.tcpflags")
	num("tos", uint64(r.ToS), "cflow.tos")
	num("in_if", uint64(r.InIf), "cflow.inputint", "cflow.ingress_physical_interface")
	num("out_if", uint64(r.OutIf), "cflow.outputint", "cflow.egress_physical_interface")
	num("src_as", uint64(r.SrcAS), "cflow.srcas")
	num("dst_as", uint64(r.DstAS), "cflow.dstas")
	num("direction", uint64(r.Direction), "cflow.direction")
	num("vlan", uint64(r.VLAN), "cflow.vlanid", "cflow.dot1q_vlan_id")
	rate := max(uint64(r.SamplingRate), 1) // 0: rate unknown, counts as exported
	if v, ok := rec.leaf("cflow.octets"); ok {
		check("bytes", r.Bytes, parseNum(v)*rate)
	}
	if v, ok := rec.leaf("cflow.packets"); ok {
		check("packets", r.Packets, parseNum(v)*rate)
	}
	if v, ok := rec.leaf("cflow.sampling_interval"); ok && parseNum(v) > 0 {
		check("sampling_rate", r.SamplingRate, parseNum(v))
	}
	if v, ok := rec.leaf("cflow.srcmac"); ok {
		if v == "00:00:00:00:00:00" {
			v = ""
		}
		check("src_mac", r.SrcMAC.String(), v)
	}
	if v, ok := rec.leaf("cflow.dstmac"); ok {
		if v == "00:00:00:00:00:00" {
			v = ""
		}
		check("dst_mac", r.DstMAC.String(), v)
	}
	// Times.
	start := schema.FromMicros(r.Time)
	if s, ok := rec.leaf("cflow.abstimestart"); ok {
		if v, _ := hdr.leaf("cflow.version"); v != "10" && s == "Jan  1, 1970 00:00:00.000000000 UTC" {
			// tshark shows a v9 FIRST_SWITCHED of 0 (flow seen at boot) as
			// an absolute time of 0; it is uptime 0.
			rec = withLeaf(rec, "cflow.timestart", "0")
		} else if want, err := tsharkTime(s); err == nil {
			want = want.Round(time.Microsecond) // we keep µs, tshark shows ns
			check("time", start.Format(time.RFC3339Nano), want.UTC().Format(time.RFC3339Nano))
			if e, ok := rec.leaf("cflow.abstimeend"); ok {
				if end, err := tsharkTime(e); err == nil && !end.Before(want) {
					check("duration_ms", r.DurationMS, end.Sub(want).Milliseconds())
				}
			}
		}
	}
	if s, ok := rec.leaf("cflow.timestart"); ok {
		up := secondsMs(mustLeaf(hdr, "cflow.sysuptime"))
		secs := int64(parseNum(mustLeaf(hdr, "cflow.unix_secs")))
		nsecs := int64(0)
		if v, ok := hdr.leaf("cflow.unix_nsecs"); ok {
			nsecs = int64(parseNum(v))
		}
		if v, _ := hdr.leaf("cflow.version"); v != "10" {
			want := secs*1000 + nsecs/1e6 - (up - secondsMs(s))
			check("time", start.UnixMilli(), want)
		}
		if e, ok := rec.leaf("cflow.timeend"); ok && secondsMs(e) >= secondsMs(s) {
			check("duration_ms", r.DurationMS, secondsMs(e)-secondsMs(s))
		}
	}
	return diffs
}

// withLeaf returns a copy of n with a leaf added in front (found first).
func withLeaf(n *jnode, key, val string) *jnode {
	c := *n
	c.kids = append([]*jnode{{key: key, val: val}}, n.kids...)
	return &c
}

func mustLeaf(n *jnode, key string) string {
	v, _ := n.leaf(key)
	return v
}

// TestSFlowCapturesMatchTshark decodes every sFlow capture and compares
// each flow sample with tshark's decoding.
func TestSFlowCapturesMatchTshark(t *testing.T) {
	root := realData(t)
	needTool(t, "tshark")
	files, err := filepath.Glob(filepath.Join(root, "sflow", "*.pcap"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sFlow captures in %s: %v", root, err)
	}
	var total int
	for _, f := range files {
		t.Run(groupName([]string{f}), func(t *testing.T) {
			dgs, ports := readGroup(t, []string{f})
			frames := tsharkFrames(t, "sflow", ports, f)
			if len(frames) != len(dgs) {
				t.Fatalf("tshark shows %d frames, pcapgo read %d", len(frames), len(dgs))
			}
			dec, err := New(replayConfig())
			if err != nil {
				t.Fatal(err)
			}
			var b Batch
			var nonSFlow int
			for i, dg := range dgs {
				sf := frames[i].child("sflow")
				if dg.payload == nil {
					continue
				}
				start := b.Len()
				derr := dec.Decode(dg.src, dg.payload, dg.ts, &b)
				got := b.Rows[start:]
				if f := sniff(dg.payload); f != FormatSFlow {
					// tcpdump's capture mixes NetFlow v5 export packets into
					// the sFlow port; tshark, told the port is sFlow, calls
					// them malformed. They are checked as NetFlow elsewhere
					// (TestCapturesMatchGoflow2); here they must decode.
					if derr != nil {
						t.Errorf("frame %d (%s on the sFlow port): %v", i+1, f, derr)
					}
					nonSFlow += len(got)
					continue
				}
				if sf == nil {
					t.Errorf("frame %d: tshark finds no sFlow in an sFlow datagram", i+1)
					continue
				}
				var want []*jnode
				for _, s := range sf.kids {
					if strings.HasPrefix(s.key, "Flow sample") || strings.HasPrefix(s.key, "Expanded flow sample") {
						want = append(want, s)
					}
				}
				if _, malformed := frames[i].leaf("_ws.malformed"); malformed || strings.Contains(f, "malformed") {
					// Counter samples are read past, not parsed: a malformed
					// counter record is not ours to find.
					if derr == nil && len(want) > 0 {
						t.Errorf("frame %d: tshark reports a malformed datagram with flow samples, Decode returned no error", i+1)
					}
					continue
				}
				if derr != nil {
					t.Errorf("frame %d: %v", i+1, derr)
				}
				if len(got) != len(want) {
					t.Errorf("frame %d: %d rows, tshark shows %d flow samples", i+1, len(got), len(want))
					continue
				}
				for j := range want {
					for _, p := range compareSample(sf, want[j], &got[j], dg.ts) {
						t.Errorf("frame %d sample %d: %s", i+1, j+1, p)
					}
				}
				total += len(got)
			}
			c := dec.Counters().Snapshot()
			t.Logf("%d datagrams, %d rows (%d from NetFlow datagrams), %d counter samples, errors %v", len(dgs), c.TotalFlows(), nonSFlow, c.SFlowCounterSamples, c.Errors)
		})
	}
	if total < 10 {
		t.Errorf("only %d sFlow rows decoded from all captures", total)
	}
}

func compareSample(hdr, s *jnode, r *schema.Flow, received time.Time) []string {
	var diffs []string
	check := func(name string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			diffs = append(diffs, fmt.Sprintf("%s: got %v, tshark %v", name, got, want))
		}
	}
	agent, _ := hdr.leaf("sflow_245.agent")
	if a, err := netip.ParseAddr(agent); err == nil && !a.IsUnspecified() {
		check("device", r.Device, a.String())
	}
	check("time", r.Time, received.UnixMicro())
	rate := parseNum(mustLeaf(s, "sflow.flow_sample.sampling_rate"))
	check("sampling_rate", r.SamplingRate, rate)
	check("packets", r.Packets, rate)
	if v, ok := s.leaf("sflow_245.header.frame_length"); ok {
		check("bytes", r.Bytes, parseNum(v)*rate)
	}
	ifc := func(name string, got uint32, keys ...string) {
		for _, k := range keys {
			if v, ok := s.leaf(k); ok {
				want := parseNum(v)
				if want == 0x3fffffff {
					want = 0
				}
				check(name, got, want)
				return
			}
		}
	}
	if f, ok := s.leaf("sflow.flow_sample.output_interface_format"); !ok || f == "0" {
		ifc("out_if", r.OutIf, "sflow.flow_sample.output_interface_value")
	} else {
		check("out_if (discard/multiple)", r.OutIf, 0)
	}
	ifc("in_if", r.InIf, "sflow.flow_sample.input_interface", "sflow.flow_sample.input_interface_value")
	if h := s.find("sflow_245.header_tree"); h != nil {
		if v, ok := h.leaf("eth.src"); ok {
			check("src_mac", r.SrcMAC.String(), v)
		}
		if v, ok := h.leaf("eth.dst"); ok {
			check("dst_mac", r.DstMAC.String(), v)
		}
		if ip := h.child("ip"); ip != nil {
			check("src_addr", r.SrcAddr.String(), mustLeaf(ip, "ip.src"))
			check("dst_addr", r.DstAddr.String(), mustLeaf(ip, "ip.dst"))
			check("proto", r.Proto, parseNum(mustLeaf(ip, "ip.proto")))
			check("tos", r.ToS, parseNum(mustLeaf(ip, "ip.dsfield")))
		} else if ip := h.child("ipv6"); ip != nil {
			check("src_addr", r.SrcAddr.String(), mustLeaf(ip, "ipv6.src"))
			check("dst_addr", r.DstAddr.String(), mustLeaf(ip, "ipv6.dst"))
		}
		for _, l4 := range []string{"tcp", "udp"} {
			if n := h.child(l4); n != nil {
				check("src_port", r.SrcPort, parseNum(mustLeaf(n, l4+".srcport")))
				check("dst_port", r.DstPort, parseNum(mustLeaf(n, l4+".dstport")))
			}
		}
		if n := h.child("tcp"); n != nil {
			check("tcp_flags", r.TCPFlags, parseNum(mustLeaf(n, "tcp.flags"))&0xff)
		}
		if n := h.child("icmp"); n != nil {
			check("dst_port (icmp)", r.DstPort, parseNum(mustLeaf(n, "icmp.type"))<<8|parseNum(mustLeaf(n, "icmp.code")))
		}
		if n := h.child("icmpv6"); n != nil {
			check("dst_port (icmpv6)", r.DstPort, parseNum(mustLeaf(n, "icmpv6.type"))<<8|parseNum(mustLeaf(n, "icmpv6.code")))
		}
	}
	if v, ok := s.leaf("sflow_245.vlan.in"); ok && parseNum(v) != 0 && parseNum(v) <= 4095 {
		check("vlan", r.VLAN, parseNum(v))
	} else if h := s.find("sflow_245.header_tree"); h != nil {
		if v, ok := h.leaf("vlan.id"); ok {
			check("vlan", r.VLAN, parseNum(v))
		}
	}
	if v, ok := s.leaf("sflow_245.srcAS"); ok {
		check("src_as", r.SrcAS, parseNum(v))
	}
	return diffs
}
