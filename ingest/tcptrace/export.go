package tcptrace

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowlake/flowlake/storage/schema"
)

// WritePcap writes a connection's kept packets, in the order given, as a
// pcap file of link type RAW (IP packets, no link header) — the device's
// `wireshark` keyword. A packet the passive tracer captured is written as
// captured (its frame, cut at the snap length, with its length on the
// wire); a packet from a device's trace output, which has no frame, gets
// an IPv4 or IPv6 and TCP header built from its fields and the
// connection's endpoints, and its payload is recorded as not captured.
func WritePcap(w io.Writer, conn schema.TCPConn, pkts []schema.TCPPacket) error {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		return fmt.Errorf("write pcap header: %w", err)
	}
	for i, p := range pkts {
		frame, wire, err := packetFrame(conn, p)
		if err != nil {
			return fmt.Errorf("packet %d (idx %d): %w", i+1, p.Index, err)
		}
		ci := gopacket.CaptureInfo{Timestamp: time.UnixMicro(p.Time).UTC(), CaptureLength: len(frame), Length: max(wire, len(frame))}
		if err := pw.WritePacket(ci, frame); err != nil {
			return fmt.Errorf("write packet %d: %w", i+1, err)
		}
	}
	return nil
}

// packetFrame returns the bytes to write for p and its length on the wire.
func packetFrame(conn schema.TCPConn, p schema.TCPPacket) ([]byte, int, error) {
	if p.Frame != "" {
		b, err := base64.StdEncoding.DecodeString(p.Frame)
		if err != nil {
			return nil, 0, fmt.Errorf("frame is not base64: %w", err)
		}
		return b, int(p.FrameLen), nil
	}
	src, dst := conn.LocalAddr.Netip(), conn.ForeignAddr.Netip()
	sp, dp := conn.LocalPort, conn.ForeignPort
	if p.Direction == "in" {
		src, dst, sp, dp = dst, src, dp, sp
	}
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp, sp)
	binary.BigEndian.PutUint16(tcp[2:], dp)
	binary.BigEndian.PutUint32(tcp[4:], p.Seq)
	binary.BigEndian.PutUint32(tcp[8:], p.Ack)
	tcp[12] = 5 << 4
	tcp[13] = p.Flags
	binary.BigEndian.PutUint16(tcp[14:], uint16(min(p.Window, 65535)))
	binary.BigEndian.PutUint16(tcp[16:], p.Checksum)
	var ip []byte
	if src.Is4() && dst.Is4() {
		ip = make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(min(40+int(p.DataLen), 65535)))
		binary.BigEndian.PutUint16(ip[4:], p.IPID)
		ip[8], ip[9] = 64, 6
		binary.BigEndian.PutUint16(ip[10:], p.IPChecksum)
		s4, d4 := src.As4(), dst.As4()
		copy(ip[12:], s4[:])
		copy(ip[16:], d4[:])
	} else {
		ip = make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], 20+p.DataLen)
		ip[6], ip[7] = 6, 64
		s16, d16 := src.As16(), dst.As16()
		copy(ip[8:], s16[:])
		copy(ip[24:], d16[:])
	}
	frame := append(ip, tcp...)
	return frame, len(frame) + int(p.DataLen), nil
}
