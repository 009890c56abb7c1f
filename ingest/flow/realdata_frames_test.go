package flow

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
)

// TestRealFrameSections decodes the real captures whose records carry only
// a sampled frame (IE 315 dataLinkFrameSection: a Juniper-style datalink
// export, SRv6, Ethernet over MPLS with a control word): every record must
// become a row with addresses, a protocol, bytes and packets taken from the
// frame. The expected headers are those akvorado's tests state for the same
// captures (and tshark shows for the frames).
func TestRealFrameSections(t *testing.T) {
	root := realData(t)
	tests := []struct {
		name  string
		files []string
		rows  int
		first string // src>dst/proto sport>dport of the first row
		inNet string // every address within
	}{
		{"datalink", []string{"ipfix/akvorado_datalink-template.pcap", "ipfix/akvorado_datalink-data.pcap"}, 1, "51.51.51.51>52.52.52.52/17 55501>11777", "0.0.0.0/0"},
		{"srv6 (inner IPv4 of an IPv6 SRH packet)", []string{"ipfix/akvorado_ipfix-srv6-template.pcap", "ipfix/akvorado_ipfix-srv6-data.pcap"}, 1, "8.8.8.8>213.36.140.100/1 0>0", "0.0.0.0/0"},
		{"ethernet over mpls with control word", []string{"ipfix/akvorado_eompls-cw-template.pcap", "ipfix/akvorado_eompls-cw-data.pcap"}, 10, "198.51.100.19>198.51.100.20/6 80>43908", "198.51.100.0/24"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var files []string
			for _, f := range tc.files {
				files = append(files, filepath.Join(root, f))
			}
			dgs, _ := readGroup(t, files)
			d := mustDecoder(t, replayConfig())
			var b Batch
			for _, dg := range dgs {
				if err := d.Decode(dg.src, dg.payload, dg.ts, &b); err != nil {
					t.Fatal(err)
				}
			}
			if b.Len() != tc.rows {
				t.Fatalf("%d rows, want %d", b.Len(), tc.rows)
			}
			net := netip.MustParsePrefix(tc.inNet)
			for i, r := range b.Rows {
				src, dst := r.SrcAddr.Netip().Unmap(), r.DstAddr.Netip().Unmap()
				if !net.Contains(src) || !net.Contains(dst) || src.IsUnspecified() || r.Proto == 0 || r.Bytes == 0 || r.Packets == 0 {
					t.Errorf("row %d: %s>%s proto %d bytes %d packets %d", i+1, src, dst, r.Proto, r.Bytes, r.Packets)
				}
			}
			r := b.Rows[0]
			if got := fmt.Sprintf("%s>%s/%d %d>%d", r.SrcAddr.Netip().Unmap(), r.DstAddr.Netip().Unmap(), r.Proto, r.SrcPort, r.DstPort); got != tc.first {
				t.Errorf("first row %s, want %s", got, tc.first)
			}
			if c := d.Counters().Snapshot(); c.FrameSections != uint64(tc.rows) || c.FrameUnparsed != 0 {
				t.Errorf("frame sections %d, unparsed %d; want %d, 0", c.FrameSections, c.FrameUnparsed, tc.rows)
			}
		})
	}
}
