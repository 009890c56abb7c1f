package schema

// Flow is one row of the `flows` dataset: a flow record from a NetFlow v5/v9,
// IPFIX or sFlow exporter after sampling correction and enrichment.
type Flow struct {
	Time         int64  `parquet:"time,timestamp(microsecond),delta" unit:"µs since epoch, UTC" doc:"Flow start: the first packet of the flow (exporters send milliseconds). Partitions and sort order follow it, as nfdump's time windows do." origin:"IPFIX 152 flowStartMilliseconds (or 22 firstSwitched + sysUpTime); NetFlow v5 First; sFlow: sample arrival time"`
	DurationMS   uint32 `parquet:"duration_ms" unit:"ms" doc:"Flow end minus flow start: the flow's last packet was seen at time + duration_ms. Stored as a duration rather than a second timestamp because it takes a third of the space." origin:"IPFIX 153 flowEndMilliseconds − 152 flowStartMilliseconds (or 21 lastSwitched − 22 firstSwitched); NetFlow v5 Last − First; sFlow: 0"`
	Edge         string `parquet:"edge,dict" doc:"Serial or id of the edge agent that collected the record." origin:"edge configuration"`
	Device       string `parquet:"device,dict" doc:"Exporter: its configured name, else its address." origin:"UDP source address / IPFIX 130 exporterIPv4Address / sFlow agent address"`
	SrcAddr      Addr   `parquet:"src_addr,dict" unit:"IPv4-mapped IPv6" doc:"Source address." origin:"IPFIX 8 sourceIPv4Address / 27 sourceIPv6Address; sFlow sampled IPv4/IPv6 header"`
	DstAddr      Addr   `parquet:"dst_addr,dict" unit:"IPv4-mapped IPv6" doc:"Destination address." origin:"IPFIX 12 destinationIPv4Address / 28 destinationIPv6Address"`
	SrcPort      uint16 `parquet:"src_port" doc:"Source transport port (0 when the protocol has none)." origin:"IPFIX 7 sourceTransportPort"`
	DstPort      uint16 `parquet:"dst_port,dict" doc:"Destination transport port; for ICMP, type×256+code as exporters send it." origin:"IPFIX 11 destinationTransportPort (32 icmpTypeCodeIPv4)"`
	Proto        uint8  `parquet:"proto,dict" doc:"IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6)." origin:"IPFIX 4 protocolIdentifier"`
	TCPFlags     uint8  `parquet:"tcp_flags,dict" unit:"bit set FIN=1 SYN=2 RST=4 PSH=8 ACK=16 URG=32 ECE=64 CWR=128" doc:"OR of the TCP flags seen in the flow." origin:"IPFIX 6 tcpControlBits"`
	ToS          uint8  `parquet:"tos,dict" doc:"IP type of service byte; DSCP is tos>>2." origin:"IPFIX 5 ipClassOfService"`
	InIf         uint32 `parquet:"in_if,dict" doc:"Input interface index (SNMP ifIndex)." origin:"IPFIX 10 ingressInterface; sFlow input"`
	OutIf        uint32 `parquet:"out_if,dict" doc:"Output interface index (SNMP ifIndex)." origin:"IPFIX 14 egressInterface; sFlow output"`
	InIfName     string `parquet:"in_if_name,dict" doc:"Input interface name from configuration." origin:"edge configuration (interfaces)"`
	OutIfName    string `parquet:"out_if_name,dict" doc:"Output interface name from configuration." origin:"edge configuration (interfaces)"`
	SrcAS        uint32 `parquet:"src_as,dict" doc:"Source autonomous system number." origin:"IPFIX 16 bgpSourceAsNumber; sFlow extended gateway"`
	DstAS        uint32 `parquet:"dst_as,dict" doc:"Destination autonomous system number." origin:"IPFIX 17 bgpDestinationAsNumber; sFlow extended gateway"`
	NextHop      Addr   `parquet:"next_hop,optional,dict" unit:"IPv4-mapped IPv6" doc:"IP next hop; null when not exported." origin:"IPFIX 15 ipNextHopIPv4Address / 62 ipNextHopIPv6Address"`
	VLAN         uint16 `parquet:"vlan,dict" doc:"802.1Q VLAN id (0 when untagged)." origin:"IPFIX 58 vlanId; sFlow extended switch"`
	SrcMAC       MAC    `parquet:"src_mac,optional,dict" doc:"Source MAC address; null when not exported." origin:"IPFIX 56 sourceMacAddress; sFlow sampled Ethernet header"`
	DstMAC       MAC    `parquet:"dst_mac,optional,dict" doc:"Destination MAC address; null when not exported." origin:"IPFIX 80 destinationMacAddress"`
	Direction    uint8  `parquet:"direction,dict" unit:"0 ingress, 1 egress" doc:"Direction the exporter observed the flow in." origin:"IPFIX 61 flowDirection"`
	Bytes        uint64 `parquet:"bytes" unit:"bytes" doc:"Layer-3 bytes, multiplied by the sampling rate." origin:"IPFIX 1 octetDeltaCount; sFlow frame length × rate"`
	Packets      uint64 `parquet:"packets" unit:"packets" doc:"Packets, multiplied by the sampling rate." origin:"IPFIX 2 packetDeltaCount; sFlow 1 × rate"`
	SamplingRate uint32 `parquet:"sampling_rate,dict" doc:"1-in-N sampling rate applied to bytes and packets (1 = unsampled; 0 = rate not known yet, bytes and packets as exported, see docs/ingest-flow.md)." origin:"IPFIX 34 samplingInterval / 305 samplingPacketInterval (option data); sFlow sampling_rate; configuration override"`
	App          string `parquet:"app,dict" doc:"Classified application: a user-defined application, else the protocol/port default (\"https\", \"dns\", …)." origin:"enrichment"`
	SrcGroup     string `parquet:"src_group,dict" doc:"IP group of the source address (\"\" when none)." origin:"enrichment (IP groups)"`
	DstGroup     string `parquet:"dst_group,dict" doc:"IP group of the destination address (\"\" when none)." origin:"enrichment (IP groups)"`
}

// Column names of the flows dataset that code refers to by name.
const (
	ColTime       = "time"
	ColEdge       = "edge"
	ColDevice     = "device"
	FlowTimeEnd   = "time_end"
	FlowSrcAddr   = "src_addr"
	FlowDstAddr   = "dst_addr"
	FlowSrcPort   = "src_port"
	FlowDstPort   = "dst_port"
	FlowProto     = "proto"
	FlowTCPFlags  = "tcp_flags"
	FlowToS       = "tos"
	FlowInIf      = "in_if"
	FlowOutIf     = "out_if"
	FlowInIfName  = "in_if_name"
	FlowOutIfName = "out_if_name"
	FlowSrcAS     = "src_as"
	FlowDstAS     = "dst_as"
	FlowNextHop   = "next_hop"
	FlowVLAN      = "vlan"
	FlowSrcMAC    = "src_mac"
	FlowDstMAC    = "dst_mac"
	FlowDirection = "direction"
	FlowBytes     = "bytes"
	FlowPackets   = "packets"
	FlowSampling  = "sampling_rate"
	FlowApp       = "app"
	FlowSrcGroup  = "src_group"
	FlowDstGroup  = "dst_group"
)
