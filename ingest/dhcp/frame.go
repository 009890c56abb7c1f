package dhcp

import "github.com/gopacket/gopacket/layers"

// FramePayload decodes one captured frame of link type lt (Ethernet,
// 802.1Q tags kept in m.VLAN; Linux cooked; raw IP) down to UDP, fills m's
// addresses, ports and VLAN, and returns the UDP payload and whether it is
// DHCPv6 (UDP 546/547) rather than DHCPv4 (67/68). ok is false for a frame
// that is not DHCP over UDP, or a later IP fragment. The edge's capture
// and DecodeCapture read frames the same way.
func FramePayload(raw []byte, lt layers.LinkType, m *Meta) (payload []byte, v6, ok bool) {
	payload, ok = udpPayload(raw, lt, m)
	switch {
	case !ok:
		return nil, false, false
	case isPort(m, PortServer4, PortClient4):
		return payload, false, true
	case isPort(m, PortServer6, PortClient6):
		return payload, true, true
	}
	return nil, false, false
}
