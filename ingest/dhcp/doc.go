// Package dhcp decodes DHCPv4 and DHCPv6 messages (the UDP payload, plus
// what the caller knows of the frame that carried it) into rows of the
// dhcp_events dataset (schema.DHCPEvent).
//
// It owns the BOOTP header, the option area with RFC 3396 concatenation and
// option overload (option 52: options carried in the sname and file fields),
// and the mapping of options 1, 3, 6, 12, 15, 50, 51, 52, 53, 54, 55, 56, 58, 59,
// 60, 61, 81, 82, 119, 121 and 253 onto columns. A malformed message is an
// error of type *DecodeError whose Reason is counted in Counters; the caller
// keeps the raw bytes (quarantine). Nothing panics on any input (FuzzDecode,
// FuzzDecodeV6). DecodeV6 decodes DHCPv6 (RFC 8415) into the same dataset,
// relays unwrapped; docs/ingest-dhcp.md lists its column use.
//
// The package opens no sockets and starts no goroutines. DecodeCapture reads
// a pcap or pcapng capture held in memory and decodes its DHCP packets, for
// tests and for replaying captures at the edge. Typed option values (relay
// agent information, classless routes) are parsed with
// github.com/insomniacslk/dhcp; the header and option framing are walked in
// place so that a message decodes without a map or a copy (see
// docs/ingest-dhcp.md).
package dhcp
