// Package capture reads link-layer frames for the edge: live from network
// interfaces through AF_PACKET (TPACKET_V3 rings, pure Go through
// gopacket/afpacket, no cgo, no libpcap) with a classic BPF filter run in
// the kernel, or from a pcap/pcapng file (gopacket/pcapgo) through the same
// Handler, so that a replay takes the path live traffic takes.
//
// It owns the sockets, their rings and reader goroutines, the kernel
// filter (UDPPortsFilter builds one for UDP ports over IPv4 and IPv6,
// untagged or under an 802.1Q/802.1ad tag), VLAN tags (the tag the kernel
// strips is put back into the frame) and the kernel's per-socket counters
// (tp_packets, tp_drops, tp_freeze_q_cnt), which Stats reports. What a
// frame means is the Handler's business: the DHCP snooping of the edge and
// the TCP tracer are its users.
package capture
