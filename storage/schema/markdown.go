package schema

import (
	"fmt"
	"strings"
)

// tcpReasonDocs gives the meaning of each TCP close reason code, after the
// device documentation of `display tcp trace cache-connection`.
var tcpReasonDocs = map[string][2]string{
	ReasonPeerNormalClose:   {"Peer normal close", "The peer closed the connection normally (FIN from the other end)."},
	ReasonReceivedReset:     {"Received reset", "An RST arrived from the peer: a request to a port nobody listens on, a segment matching no connection, or a peer that crashed or gave up retransmitting."},
	ReasonSentReset:         {"Sent reset", "This end sent an RST: the same conditions seen from the other side (an exception such as an application crash, or no ACK after the maximum number of retransmissions)."},
	ReasonAppNormalClose:    {"Application normal close", "The local application closed the connection normally."},
	ReasonAppAbnormalClose:  {"Application abnormal close", "The application on one end detected abnormal packets and told TCP to send a FIN."},
	ReasonKeepaliveTimeout:  {"Keepalive timeout", "The connection was idle longer than the keepalive time and several keepalive probes got no ACK: the peer application is taken for dead."},
	ReasonPersistTimeout:    {"Persist timeout", "The peer advertised a zero window and did not answer window probes for a long time."},
	ReasonRetransmitTimeout: {"Retransmit timeout", "Data went unacknowledged after the maximum number of retransmissions (12 on the device): check the peer and the link."},
	ReasonBackupDrop:        {"Backup drop", "With TCP NSR, the backup copy of the connection on the standby MPU was terminated after an exception there."},
}

// dhcpMessageTypes lists the DHCP message types in option 53 order with
// their meaning (RFC 2131 §3.1).
var dhcpMessageTypes = []struct {
	Name string
	Code int
	Doc  string
}{
	{DHCPDiscover, 1, "Client broadcast to find available servers."},
	{DHCPOffer, 2, "Server to client: an offer of an address and configuration in answer to DISCOVER."},
	{DHCPRequest, 3, "Client to servers: accept one server's offer (declining the others), confirm an address after a reboot, or renew/rebind a lease."},
	{DHCPDecline, 4, "Client to server: the offered address is already in use."},
	{DHCPAck, 5, "Server to client: the committed address, lease time and configuration."},
	{DHCPNak, 6, "Server to client: the client's idea of its address is wrong (wrong subnet) or its lease has expired."},
	{DHCPRelease, 7, "Client to server: give up the address and cancel the rest of the lease."},
	{DHCPInform, 8, "Client to server: ask for configuration only; the client already has an address."},
}

// leaseEndReasonDocs gives the meaning of each dhcp_leases end reason.
var leaseEndReasonDocs = []struct{ Name, Doc string }{
	{LeaseOpen, "Still held when the row was written; end_time is the expiry the last ACK promised (a later row for the same binding and start supersedes it)."},
	{LeaseReleased, "The client sent RELEASE (end_time: its time)."},
	{LeaseDeclined, "The client sent DECLINE: the address was in use by someone else."},
	{LeaseNaked, "A server answered the client's REQUEST with NAK."},
	{LeaseExpired, "The lease time ran out with no renewal seen (end_time: last ACK + lease time)."},
	{LeaseSuperseded, "Another client was ACKed the same address (end_time: that ACK)."},
	{LeaseMoved, "The same client was ACKed another address (end_time: that ACK)."},
}

// cloudConnStateDocs gives the meaning of each cloud connection state.
var cloudConnStateDocs = []struct{ Name, Doc string }{
	{CloudUnconnected, "No connection to the cloud server, and none being attempted at the moment."},
	{CloudRequest, "The device is working through the connection procedure (DNS, CAS authentication, registration, WebSocket handshake); device_state says how far it got."},
	{CloudEstablished, "The management tunnel is up."},
}

// Markdown renders the reference documentation of every dataset: the
// conventions shared by all columns, the code lists, and one table per
// dataset. docs/schema.md is its output, kept in sync by a golden test.
func Markdown() string {
	var b strings.Builder
	b.WriteString("<!-- Code generated from storage/schema by `make docs`; DO NOT EDIT. -->\n\n")
	b.WriteString("# Flowlake datasets\n\n")
	b.WriteString("Every dataset is a table of the lake, defined by one tagged Go struct in\n" +
		"`storage/schema` from which the Parquet schema, the Arrow schema and this page\n" +
		"are derived. This page is generated: edit the struct tags, then run\n" +
		"`make docs`.\n\n")

	b.WriteString("Datasets:\n\n")
	for _, d := range All() {
		fmt.Fprintf(&b, "- [`%s`](#%s): %s\n", d.Name, d.Name, d.Doc)
	}

	b.WriteString("\n## Conventions\n\n")
	b.WriteString("- **Addresses** (columns of unit `IPv4-mapped IPv6`) are 16-byte values\n" +
		"  (`FIXED_LEN_BYTE_ARRAY(16)`): IPv6 as is, IPv4 as the IPv4-mapped IPv6\n" +
		"  address `::ffff:a.b.c.d`, so one column serves both families and sorts\n" +
		"  and compares bytewise. DuckDB, Spark and Trino show them as 16-byte\n" +
		"  binary values.\n")
	b.WriteString("- **MAC addresses** are 6-byte values (`FIXED_LEN_BYTE_ARRAY(6)`).\n")
	b.WriteString("- **Timestamps** are microseconds since the Unix epoch, UTC (Parquet\n" +
		"  `INT64` with the `TIMESTAMP(isAdjustedToUTC=true, MICROS)` logical type;\n" +
		"  Arrow `timestamp[us, tz=UTC]`). Every dataset's first column is `time`,\n" +
		"  the event time that partitions (`dt=`, `hr=`) and sort order follow.\n")
	b.WriteString("- **Optional** columns (nullable = yes) hold null when the source did not\n" +
		"  report the value; a required column holds 0 or \"\" as its documentation\n" +
		"  says. Unset addresses in optional columns are null, never `::`.\n")
	b.WriteString("- **Common columns**: `time`, `edge` (the collecting agent's serial or id)\n" +
		"  and `device` (the exporter or device) appear in every dataset.\n")
	b.WriteString("- **Units** are given per column; counts of bytes and packets in `flows`\n" +
		"  are already multiplied by the sampling rate.\n")
	b.WriteString("- **Encoding**: low-cardinality columns are dictionary-encoded, `time` is\n" +
		"  delta-encoded, pages are zstd-compressed (see [lake-format.md](lake-format.md)).\n")

	b.WriteString("\n### Format version and file metadata\n\n")
	fmt.Fprintf(&b, "The segment format version is **%s**. Every Parquet file of the lake carries\n"+
		"these key-value metadata entries in its footer; readers refuse a format\n"+
		"version they do not know.\n\n", FormatVersion)
	b.WriteString("| key | value |\n|---|---|\n")
	for _, m := range [][2]string{
		{MetaFormatVersion, fmt.Sprintf("format version of the segment (currently `%s`)", FormatVersion)},
		{MetaDataset, "dataset name (`" + strings.Join(Names(), "`, `") + "`)"},
		{MetaSource, "the writer that produced the file (an edge id, or the compactor)"},
		{MetaMinTime, "smallest `time` in the file, as decimal microseconds since the epoch"},
		{MetaMaxTime, "largest `time` in the file, as decimal microseconds since the epoch"},
	} {
		fmt.Fprintf(&b, "| `%s` | %s |\n", m[0], m[1])
	}
	b.WriteString("\nThe lake adds its own keys (for example `flowlake.replaces` on compacted\n" +
		"files); see [lake-format.md](lake-format.md).\n")

	b.WriteString("\n### TCP close reasons (`tcp_conns.reason`)\n\n")
	b.WriteString("The codes the device prints in column R of `display tcp trace cache-connection`.\n\n")
	b.WriteString("| code | name | meaning |\n|---|---|---|\n")
	for _, r := range TCPReasons() {
		d := tcpReasonDocs[r]
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r, cell(d[0]), cell(d[1]))
	}

	b.WriteString("\n### DHCP message types (`dhcp_events.msg_type`)\n\n")
	b.WriteString("| type | option 53 value | meaning |\n|---|---|---|\n")
	for _, m := range dhcpMessageTypes {
		fmt.Fprintf(&b, "| `%s` | %d | %s |\n", m.Name, m.Code, cell(m.Doc))
	}

	b.WriteString("\n### DHCP lease end reasons (`dhcp_leases.end_reason`)\n\n")
	b.WriteString("| reason | meaning |\n|---|---|\n")
	for _, r := range leaseEndReasonDocs {
		fmt.Fprintf(&b, "| `%s` | %s |\n", r.Name, cell(r.Doc))
	}

	b.WriteString("\n### Cloud connection states (`cloud_conn.conn_state`)\n\n")
	b.WriteString("| state | meaning |\n|---|---|\n")
	for _, s := range cloudConnStateDocs {
		fmt.Fprintf(&b, "| `%s` | %s |\n", s.Name, cell(s.Doc))
	}
	writeList(&b, "Device states (`cloud_conn.device_state`), in the order of a successful connection",
		CloudDeviceStates())
	writeList(&b, "Failure reasons (`cloud_conn.failure_reason`)", CloudFailureReasons())
	writeList(&b, "Last down reasons (`cloud_conn.last_down_reason`)", CloudDownReasons())

	b.WriteString("\n### Flow loss causes (`flow_loss.cause`)\n\n")
	b.WriteString("| cause | unit of `dropped` | meaning |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| `%s` | (none) | %s |\n", LossSequence, cell(lossCauseDocs[LossSequence]))
	for _, c := range LossCauses() {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", c, LossUnit(c), cell(lossCauseDocs[c]))
	}

	for _, d := range All() {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n", d.Name, d.Doc)
		if doc := datasetNotes[d.Name]; doc != "" {
			b.WriteString(doc + "\n\n")
		}
		b.WriteString("| column | Parquet type | Arrow type | nullable | unit | meaning | origin |\n")
		b.WriteString("|---|---|---|---|---|---|---|\n")
		for _, c := range d.Columns {
			nullable := "no"
			if c.Nullable {
				nullable = "yes"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s |\n",
				c.Name, cell(c.Physical), cell(c.Arrow.String()), nullable, cell(c.Unit), cell(c.Doc), cell(c.Origin))
		}
	}
	return b.String()
}

// datasetNotes adds what a dataset's one-line doc leaves out.
var datasetNotes = map[string]string{
	Flows: "Sources: NetFlow v5/v9, IPFIX and sFlow exporters. Origins name the IPFIX\n" +
		"information element number and name (NetFlow v9 uses the same numbers).",
	TCPConns: "Abnormal closes only by default; every close in cache-mode `all`. Origins\n" +
		"name the fields of `display tcp trace cache-connection` and\n" +
		"`display tcp trace cache-packet ... verbose`, or passive capture.",
	TCPPackets: "Joined to `tcp_conns` by `trace_id`; the device keeps the last 500\n" +
		"packets per connection by default.",
	DHCPEvents: "The lease history (which MAC or host held an address at a time) is\n" +
		"derived from this dataset. Origins name the BOOTP header field or the DHCP\n" +
		"option number. DHCPv6 messages share the dataset (`dhcpv6` true): `msg_type`\n" +
		"is the RFC 8415 name (SOLICIT … INFORMATION-REQUEST) of the message inside any\n" +
		"relays, `op` 1 from the client and 2 from the server, `xid` the 24-bit\n" +
		"transaction id, `client_id` the client DUID, `server_duid` the server DUID,\n" +
		"`ia_na` every IA_NA address, `yiaddr` (server) or `requested_ip` (client) the\n" +
		"first of them with its valid lifetime in `lease_time`, `renewal_time` and\n" +
		"`rebinding_time` the first IA_NA's T1 and T2, `secs` the elapsed time,\n" +
		"`param_list` the option request option, `dns_servers` option 23,\n" +
		"`domain_search` option 24, `client_fqdn` option 39, `chaddr` the MAC of a\n" +
		"DUID-LL(T) or of relay option 79; for a relayed message `hops` counts the\n" +
		"relays and `giaddr`, `circuit_id` and `remote_id` are the innermost relay's\n" +
		"link address, interface id (18) and remote id (37). See docs/ingest-dhcp.md.",
	DHCPLeases: "Derived from `dhcp_events` by `ingest/dhcp.LeaseTracker` (source `wire`)\n" +
		"or imported from a server's lease state (Kea memfile CSV, Kea legal log,\n" +
		"dnsmasq lease file: `flowlake dhcp import`). One row per binding of an\n" +
		"address to a client, keyed by the client (client id, else MAC): renewals of\n" +
		"the same binding extend one span. The address was held in `[time, end_time)`.\n" +
		"A span still held when written is `OPEN`; a later row with the same `client`,\n" +
		"`address` and `time` (the same binding, seen further) supersedes it when the\n" +
		"questions (`flowlake dhcp who|history|held`) read the dataset. See\n" +
		"docs/ingest-dhcp.md.",
	CloudConns: "Origins name the fields of `display cloud-management state`.",
	FlowLosses: "Written by every flow collector (edge) each `edge.loss_interval` (1 minute\n" +
		"by default, on its boundaries) and at shutdown, through the same segment\n" +
		"and spool path as its flows. Counts are deltas of the interval, so sums over\n" +
		"any range are totals; an interval is dated by its start and counted wholly\n" +
		"there. `sequence` rows fill the traffic and sequence columns of one exporter\n" +
		"domain (a domain that sent nothing in the interval has no row, so rows with\n" +
		"zero loss mean \"received, nothing lost\" and no rows mean \"nothing\n" +
		"reported\"); the other causes fill `dropped` and `dropped_unit`. See\n" +
		"docs/ingest-flow.md.",
}

// lossCauseDocs gives the meaning of each flow_loss cause.
var lossCauseDocs = map[string]string{
	LossSequence:       "One exporter domain's datagrams, flows, sequence gaps, lost flows (v5, IPFIX), lost datagrams (v9, sFlow), resets and template misses.",
	LossQueueFull:      "Datagrams dropped because a decode worker's queue was full (decoding behind the network).",
	LossReadError:      "Failed socket reads.",
	LossDecodeError:    "Datagrams that failed to decode (rows decoded before the failure are kept).",
	LossWriteError:     "Flow rows lost by failed segment writes.",
	LossSpoolFull:      "Rows of segments a remote edge's full spool dropped, oldest first.",
	LossRejected:       "Rows of segments the core refused as invalid (set aside in the spool).",
	LossQuarantineLost: "Rows outside the time window around their receipt that could not be written to the quarantine file.",
}

func writeList(b *strings.Builder, title string, items []string) {
	fmt.Fprintf(b, "\n%s:\n\n", title)
	for _, it := range items {
		fmt.Fprintf(b, "- `%s`\n", it)
	}
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
