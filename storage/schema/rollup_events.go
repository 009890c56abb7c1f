package schema

// Rollups of the event datasets: per UTC day, the rows of tcp_conns,
// dhcp_events, cloud_conn and flow_loss counted (rows) and their numeric
// counters summed, grouped by the low-cardinality columns the reports group
// and filter on. The query engine builds them like the flows rollups and
// answers from them only when the answer is the same as from the raw rows
// (docs/query.md, "Rollups"): a long report (a yearly summary) then reads a
// few hundred small files instead of a hundred thousand hourly ones.
const (
	TCPConns1d   = "tcp_conns_1d"
	DHCPEvents1d = "dhcp_events_1d"
	CloudConns1d = "cloud_conn_1d"
	FlowLosses1d = "flow_loss_1d"
)

// EventRollups maps each event dataset with a rollup to its rollup
// datasets, coarsest first.
func EventRollups() map[string][]string {
	return map[string][]string{
		TCPConns:   {TCPConns1d},
		DHCPEvents: {DHCPEvents1d},
		CloudConns: {CloudConns1d},
		FlowLosses: {FlowLosses1d},
	}
}

// RollupRowsColumn is the column of every event rollup that counts the raw
// rows of its group: count() over the raw rows is sum(rows) over the rollup.
const RollupRowsColumn = "rows"

// TCPConn1dRow is one group of tcp_conns_1d: the closed connections of one
// UTC day sharing every dimension below, and their packet counters summed.
type TCPConn1dRow struct {
	Time           int64  `parquet:"time,timestamp(microsecond),delta" unit:"µs since epoch, UTC" doc:"Start of the UTC day holding the connections' close times." origin:"tcp_conns.time"`
	Edge           string `parquet:"edge,dict" doc:"Edge agent." origin:"tcp_conns.edge"`
	Device         string `parquet:"device,dict" doc:"Device that traced the connections." origin:"tcp_conns.device"`
	VPN            string `parquet:"vpn,dict" doc:"VPN instance." origin:"tcp_conns.vpn"`
	Reason         string `parquet:"reason,dict" unit:"PN RR SR AN AA KT PT RT BD" doc:"Close reason." origin:"tcp_conns.reason"`
	Source         string `parquet:"source,dict" unit:"device | passive" doc:"Which tracer saw the connections." origin:"tcp_conns.source"`
	Rows           uint64 `parquet:"rows" unit:"connections" doc:"tcp_conns rows in the group." origin:"count of tcp_conns rows"`
	InPackets      uint64 `parquet:"in_packets" unit:"packets" doc:"Sum of in_packets." origin:"sum of tcp_conns.in_packets"`
	InDropped      uint64 `parquet:"in_dropped" unit:"packets" doc:"Sum of in_dropped." origin:"sum of tcp_conns.in_dropped"`
	OutPackets     uint64 `parquet:"out_packets" unit:"packets" doc:"Sum of out_packets." origin:"sum of tcp_conns.out_packets"`
	RetransPackets uint64 `parquet:"retrans_packets" unit:"packets" doc:"Sum of retrans_packets." origin:"sum of tcp_conns.retrans_packets"`
}

// DHCPEvent1dRow is one group of dhcp_events_1d: the DHCP messages of one
// UTC day sharing every dimension below. src_addr is kept only for the
// messages of rogue servers (few), so counting rogue servers stays exact.
type DHCPEvent1dRow struct {
	Time        int64  `parquet:"time,timestamp(microsecond),delta" unit:"µs since epoch, UTC" doc:"Start of the UTC day holding the messages." origin:"dhcp_events.time"`
	Edge        string `parquet:"edge,dict" doc:"Edge agent." origin:"dhcp_events.edge"`
	Device      string `parquet:"device,dict" doc:"Device that saw the messages." origin:"dhcp_events.device"`
	DHCPv6      bool   `parquet:"dhcpv6" doc:"DHCPv6 messages." origin:"dhcp_events.dhcpv6"`
	MsgType     string `parquet:"msg_type,dict" unit:"DISCOVER OFFER REQUEST DECLINE ACK NAK RELEASE INFORM" doc:"Message type." origin:"dhcp_events.msg_type"`
	Op          uint8  `parquet:"op,dict" unit:"1 BOOTREQUEST, 2 BOOTREPLY" doc:"BOOTP op." origin:"dhcp_events.op"`
	Interface   string `parquet:"interface,dict" doc:"Interface the messages arrived on." origin:"dhcp_events.interface"`
	VLAN        uint16 `parquet:"vlan,dict" doc:"VLAN." origin:"dhcp_events.vlan"`
	Trusted     bool   `parquet:"trusted" doc:"Arrived on a trusted port." origin:"dhcp_events.trusted"`
	RogueServer bool   `parquet:"rogue_server" doc:"Messages of a server not trusted to answer." origin:"dhcp_events.rogue_server"`
	SrcAddr     Addr   `parquet:"src_addr,dict" unit:"IPv4-mapped IPv6" doc:"Source address of rogue servers' messages; the zero address for every other message (the engine answers src_addr from here only under rogue_server = true)." origin:"dhcp_events.src_addr where rogue_server"`
	Rows        uint64 `parquet:"rows" unit:"messages" doc:"dhcp_events rows in the group." origin:"count of dhcp_events rows"`
}

// CloudConn1dRow is one group of cloud_conn_1d: the observed states of one
// UTC day sharing every dimension below. last_down_at is a dimension, so
// counting distinct downs stays exact (a connection goes down a few times
// a day at most).
type CloudConn1dRow struct {
	Time           int64  `parquet:"time,timestamp(microsecond),delta" unit:"µs since epoch, UTC" doc:"Start of the UTC day holding the observations." origin:"cloud_conn.time"`
	Edge           string `parquet:"edge,dict" doc:"Edge agent." origin:"cloud_conn.edge"`
	Device         string `parquet:"device,dict" doc:"Device." origin:"cloud_conn.device"`
	ConnState      string `parquet:"conn_state,dict" unit:"Unconnected Request Established" doc:"Connection state." origin:"cloud_conn.conn_state"`
	ServerDomain   string `parquet:"server_domain,dict" doc:"Cloud server domain." origin:"cloud_conn.server_domain"`
	BackupServer   bool   `parquet:"backup_server" doc:"Connected to a backup server." origin:"cloud_conn.backup_server"`
	ServerIndex    uint8  `parquet:"server_index,dict" unit:"0 primary, 1–8 backups" doc:"Server index." origin:"cloud_conn.server_index"`
	FailureReason  string `parquet:"failure_reason,optional,dict" doc:"Failure reason." origin:"cloud_conn.failure_reason"`
	LastDownReason string `parquet:"last_down_reason,optional,dict" doc:"Reason of the last down." origin:"cloud_conn.last_down_reason"`
	LastDownAt     int64  `parquet:"last_down_at,optional,timestamp(microsecond)" unit:"µs since epoch, UTC" doc:"When the connection last went down." origin:"cloud_conn.last_down_at"`
	Rows           uint64 `parquet:"rows" unit:"observations" doc:"cloud_conn rows in the group." origin:"count of cloud_conn rows"`
}

// FlowLoss1dRow is one group of flow_loss_1d: the loss intervals of one UTC
// day (dated by their start) sharing every dimension below, counters summed.
type FlowLoss1dRow struct {
	Time           int64  `parquet:"time,timestamp(microsecond),delta" unit:"µs since epoch, UTC" doc:"Start of the UTC day holding the intervals' starts." origin:"flow_loss.time"`
	Edge           string `parquet:"edge,dict" doc:"Edge agent." origin:"flow_loss.edge"`
	Cause          string `parquet:"cause,dict" unit:"sequence queue_full read_error decode_error write_error spool_full rejected quarantine_lost" doc:"What the counters describe." origin:"flow_loss.cause"`
	Device         string `parquet:"device,dict" doc:"Exporter (sequence rows)." origin:"flow_loss.device"`
	Format         string `parquet:"format,dict" unit:"netflow5 netflow9 ipfix sflow" doc:"Export format." origin:"flow_loss.format"`
	Domain         uint32 `parquet:"domain,dict" doc:"Observation domain." origin:"flow_loss.domain"`
	DroppedUnit    string `parquet:"dropped_unit,dict" unit:"datagrams rows" doc:"Unit of dropped." origin:"flow_loss.dropped_unit"`
	Rows           uint64 `parquet:"rows" unit:"intervals" doc:"flow_loss rows in the group." origin:"count of flow_loss rows"`
	Datagrams      uint64 `parquet:"datagrams" unit:"datagrams" doc:"Sum of datagrams." origin:"sum of flow_loss.datagrams"`
	Flows          uint64 `parquet:"flows" unit:"flows" doc:"Sum of flows." origin:"sum of flow_loss.flows"`
	SequenceGaps   uint64 `parquet:"sequence_gaps" doc:"Sum of sequence_gaps." origin:"sum of flow_loss.sequence_gaps"`
	LostFlows      uint64 `parquet:"lost_flows" unit:"flows" doc:"Sum of lost_flows." origin:"sum of flow_loss.lost_flows"`
	LostDatagrams  uint64 `parquet:"lost_datagrams" unit:"datagrams" doc:"Sum of lost_datagrams." origin:"sum of flow_loss.lost_datagrams"`
	SequenceResets uint64 `parquet:"sequence_resets" doc:"Sum of sequence_resets." origin:"sum of flow_loss.sequence_resets"`
	TemplateMisses uint64 `parquet:"template_misses" unit:"data sets" doc:"Sum of template_misses." origin:"sum of flow_loss.template_misses"`
	Dropped        uint64 `parquet:"dropped" doc:"Sum of dropped." origin:"sum of flow_loss.dropped"`
}
