package schema

// Rollup dataset names: flows aggregated by time bucket and the
// low-cardinality dimensions, and every host's traffic per hour. The query
// engine builds them from flows and answers from them whenever the answer
// is the same (docs/query.md, "Rollups").
const (
	Flows1m     = "flows_1m"
	Flows1h     = "flows_1h"
	Flows1d     = "flows_1d"
	FlowHosts1h = "flows_hosts_1h"
	FlowHosts1d = "flows_hosts_1d"
)

// FlowRollup is one group of a flows rollup: the flows of one time bucket
// that share every dimension below. Flows1m, Flows1h and Flows1d are its
// three granularities (distinct types, so each is a dataset of its own).
type FlowRollup struct {
	Time      int64  `parquet:"time,timestamp(microsecond),delta" unit:"µs since epoch, UTC" doc:"Start of the bucket (1 minute, 1 hour or 1 day, UTC) holding the flows' start times." origin:"flows.time"`
	Edge      string `parquet:"edge,dict" doc:"Edge agent." origin:"flows.edge"`
	Device    string `parquet:"device,dict" doc:"Exporter." origin:"flows.device"`
	InIf      uint32 `parquet:"in_if,dict" doc:"Input interface index." origin:"flows.in_if"`
	OutIf     uint32 `parquet:"out_if,dict" doc:"Output interface index." origin:"flows.out_if"`
	InIfName  string `parquet:"in_if_name,dict" doc:"Input interface name." origin:"flows.in_if_name"`
	OutIfName string `parquet:"out_if_name,dict" doc:"Output interface name." origin:"flows.out_if_name"`
	Proto     uint8  `parquet:"proto,dict" doc:"IP protocol number." origin:"flows.proto"`
	DstPort   uint16 `parquet:"dst_port,dict" doc:"Well-known destination port (1–1023); 0 for every other port." origin:"flows.dst_port"`
	App       string `parquet:"app,dict" doc:"Classified application." origin:"flows.app"`
	SrcGroup  string `parquet:"src_group,dict" doc:"IP group of the source." origin:"flows.src_group"`
	DstGroup  string `parquet:"dst_group,dict" doc:"IP group of the destination." origin:"flows.dst_group"`
	Direction uint8  `parquet:"direction,dict" unit:"0 ingress, 1 egress" doc:"Direction the exporter observed." origin:"flows.direction"`
	Flows     uint64 `parquet:"flows" unit:"flows" doc:"Flow records in the group." origin:"count of flows rows"`
	Bytes     uint64 `parquet:"bytes" unit:"bytes" doc:"Sum of bytes." origin:"sum of flows.bytes"`
	Packets   uint64 `parquet:"packets" unit:"packets" doc:"Sum of packets." origin:"sum of flows.packets"`
}

// Flows1mRow, Flows1hRow and Flows1dRow are FlowRollup at each granularity.
type (
	Flows1mRow FlowRollup
	Flows1hRow FlowRollup
	Flows1dRow FlowRollup
)

// FlowHostRow is one host's traffic in one hour, as source or as
// destination, per edge and exporter: every host, not only the heaviest, so
// TopN of hosts over months is exact without scanning flows.
type FlowHostRow struct {
	Time    int64  `parquet:"time,timestamp(microsecond),delta" unit:"µs since epoch, UTC" doc:"Start of the hour (UTC) holding the flows' start times." origin:"flows.time"`
	Edge    string `parquet:"edge,dict" doc:"Edge agent." origin:"flows.edge"`
	Device  string `parquet:"device,dict" doc:"Exporter." origin:"flows.device"`
	Role    uint8  `parquet:"role,dict" unit:"0 source, 1 destination" doc:"Whether addr is the flows' source or destination." origin:"derived"`
	Addr    Addr   `parquet:"addr,dict" unit:"IPv4-mapped IPv6" doc:"The host." origin:"flows.src_addr or flows.dst_addr"`
	Flows   uint64 `parquet:"flows" unit:"flows" doc:"Flow records." origin:"count of flows rows"`
	Bytes   uint64 `parquet:"bytes" unit:"bytes" doc:"Sum of bytes." origin:"sum of flows.bytes"`
	Packets uint64 `parquet:"packets" unit:"packets" doc:"Sum of packets." origin:"sum of flows.packets"`
}

// FlowHost1dRow is FlowHostRow per UTC day: every host's traffic of the
// day, summed from the day's flows_hosts_1h, so a host ranking over a year
// reads 365 files instead of 8,760.
type FlowHost1dRow FlowHostRow
