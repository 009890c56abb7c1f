package tcptrace

import (
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/schema"
)

// at is a device time of the document's samples (2019, UTC).
func at(mo time.Month, d, h, mi, s, ms int) int64 {
	return schema.Micros(time.Date(2019, mo, d, h, mi, s, ms*1e6, time.UTC))
}

// TestSampleFieldsByHand spells out, from the document's printed text and
// independently of the golden files, every field of the IPv4 verbose
// sample's connection and first packet and of the IPv6 sample's second
// packet (the one whose rtt is 0 and TCP options lack TF_APP_SEND).
func TestSampleFieldsByHand(t *testing.T) {
	parse := func(name string) *Result {
		f, err := os.Open("testdata/samples/" + name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		res, err := Parse(f, Options{File: name, Edge: "e"})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	v4 := parse("cache-packet-ip.txt")
	wantConn := schema.TCPConn{
		Time: at(time.September, 18, 15, 38, 58, 503), Edge: "e", Device: "DeviceA",
		LocalAddr: schema.MustParseAddr("1.1.1.1"), LocalPort: 9732, ForeignAddr: schema.MustParseAddr("1.1.1.2"), ForeignPort: 23,
		Reason: "RT", ConnectedAt: at(time.September, 18, 15, 29, 39, 3),
		ISS: 2236101971, IRS: 3798739327, InPackets: 21, InDropped: 0, OutPackets: 23, RetransPackets: 14,
		SndMax: 73, LocalAckMax: 512, SndScale: 3, SndMSS: 1448, RcvMax: 512, PeerAckMax: 67, RcvScale: 3, RcvMSS: 0,
		Source: "device", MDCID: 1,
	}
	if len(v4.Conns) != 1 || len(v4.Packets) != 3 {
		t.Fatalf("IPv4 sample: %d conns, %d packets; want 1 and 3", len(v4.Conns), len(v4.Packets))
	}
	wantConn.TraceID = v4.Conns[0].TraceID
	if diff := cmp.Diff(wantConn, v4.Conns[0]); diff != "" {
		t.Errorf("IPv4 connection (-want +got):\n%s", diff)
	}
	wantPkt := schema.TCPPacket{
		Time: at(time.September, 18, 15, 33, 8, 367), Edge: "e", Device: "DeviceA", TraceID: wantConn.TraceID,
		Index: 1, Direction: "out", Event: "RS", Seq: 2236102038, Ack: 3798739839, DataLen: 6, Flags: 8 | 16,
		State: "ESTABLISHED", Window: 8145, Checksum: 0xeab6, IPID: 200, IPChecksum: 0,
		SndCC: 6, SndUna: 67, SndNxt: 73, SndMaxSeq: 73, SndWnd: 4344,
		RcvCC: 0, RcvUndelivered: 0, RcvNxt: 512, RcvAdv: 65663, RcvWnd: 65160,
		NSRState: "invalid (CLOSED)", SocketState: "ISCONNECTED", SocketOptions: "SO_OOBINLINE",
		InpcbFlags: "INP_ANONPORT INP_PROTOCOL_PACKET INP_SYNCPCB", InpcbExtFlags: "N/A",
		TCPOptions:  "TF_ACKNOW TF_REQ_SCALE TF_RCVD_SCALE TF_REQ_TSTMP TF_RCVD_TSTMP TF_SACK_PERMIT",
		RcvDelayAck: 0, TickStart: 4310545007, TickOffset: 0, NSROffset: 0,
		Tick: 4310754371, LastRcv: 15578830, TSRecent: 15690748, TSRecentAge: 4310546126,
		RexmtShift: 10, RexmtCurrent: 15560, RexmtSeq: 2236102038, RTT: 0, SRTT: 0, RTTVar: 25,
		RTTLow: 2, RTTMin: 30, RTTBest: 68, RTTUpdates: 9,
	}
	if diff := cmp.Diff(wantPkt, v4.Packets[0]); diff != "" {
		t.Errorf("IPv4 packet (1) (-want +got):\n%s", diff)
	}

	v6 := parse("cache-packet-ipv6.txt")
	if len(v6.Conns) != 1 || len(v6.Packets) != 3 {
		t.Fatalf("IPv6 sample: %d conns, %d packets; want 1 and 3", len(v6.Conns), len(v6.Packets))
	}
	c6 := v6.Conns[0]
	if c6.LocalAddr != schema.MustParseAddr("1::1") || c6.LocalPort != 47745 || c6.ForeignAddr != schema.MustParseAddr("1::2") ||
		c6.ForeignPort != 23 || c6.SndMSS != 1428 || c6.RetransPackets != 20 || c6.Time != at(time.September, 18, 16, 20, 20, 91) {
		t.Errorf("IPv6 connection %+v", c6)
	}
	wantPkt6 := schema.TCPPacket{
		Time: at(time.September, 18, 16, 18, 58, 881), Edge: "e", Device: "DeviceA", TraceID: c6.TraceID,
		Index: 2, Direction: "out", Event: "RS", Seq: 2284338462, Ack: 1251752241, DataLen: 18, Flags: 8 | 16,
		State: "ESTABLISHED", Window: 8211, Checksum: 0x4f5a,
		SndCC: 18, SndUna: 59, SndNxt: 77, SndMaxSeq: 77, SndWnd: 4280,
		RcvNxt: 460, RcvAdv: 66139, RcvWnd: 65688,
		NSRState: "invalid (CLOSED)", SocketState: "ISCONNECTED", SocketOptions: "SO_OOBINLINE",
		InpcbFlags: "INP_ANONPORT INP_PROTOCOL_PACKET IN6P_IPV6_V6ONLY INP_SYNCPCB", InpcbExtFlags: "N/A",
		TCPOptions: "TF_ACKNOW TF_REQ_SCALE TF_RCVD_SCALE TF_REQ_TSTMP TF_RCVD_TSTMP TF_SACK_PERMIT",
		TickStart:  4313315830, Tick: 4313504885, LastRcv: 18348628, TSRecent: 18460545, TSRecentAge: 4313315924,
		RexmtShift: 11, RexmtCurrent: 15560, RexmtSeq: 2284338462, RTT: 0, SRTT: 0, RTTVar: 15,
		RTTLow: 1, RTTMin: 30, RTTBest: 64, RTTUpdates: 5,
	}
	if diff := cmp.Diff(wantPkt6, v6.Packets[1]); diff != "" {
		t.Errorf("IPv6 packet (2) (-want +got):\n%s", diff)
	}
}
