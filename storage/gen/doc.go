// Package gen owns Flowlake's deterministic synthetic telemetry: realistic
// rows for all five datasets (flows, tcp_conns, tcp_packets, dhcp_events,
// cloud_conn) over a time range, for the demo (`flowlake gen`, `flowlake
// demo`), tests and benchmarks.
//
// The same Config (and Seed) always yields the same rows. The generator
// builds an immutable topology once in New — sites, edges, exporters with
// named interfaces, Zipf-popular internal hosts in IP groups, tens of
// thousands of external destinations in real providers' prefixes, DHCP
// clients and cloud-managed devices — and then Run walks [Start, End) hour
// by hour, handing each hour's rows of each edge to a Sink. Flow volume
// follows a diurnal (peak early afternoon, trough near 04:00) and weekly
// (quiet weekends) curve; DHCP lease lifecycles and cloud connection states
// carry over from hour to hour so a week of history is coherent.
//
// Every random draw comes from a PCG stream derived from the seed, the edge,
// the dataset and the absolute hour, so an hour's flows do not depend on the
// order of calls or on the hours generated before it. The hot loop does not
// allocate: per-hour slices are reused (which is why a Sink must copy what
// it keeps) and every string in a row comes from tables built in New.
package gen
