package schema

// TCP connection close reasons, as the device's `display tcp trace
// cache-connection` prints them in column R.
const (
	ReasonPeerNormalClose   = "PN"
	ReasonReceivedReset     = "RR"
	ReasonSentReset         = "SR"
	ReasonAppNormalClose    = "AN"
	ReasonAppAbnormalClose  = "AA"
	ReasonKeepaliveTimeout  = "KT"
	ReasonPersistTimeout    = "PT"
	ReasonRetransmitTimeout = "RT"
	ReasonBackupDrop        = "BD"
)

// TCPReasons lists the nine reason codes in the device's order.
func TCPReasons() []string {
	return []string{ReasonPeerNormalClose, ReasonReceivedReset, ReasonSentReset, ReasonAppNormalClose,
		ReasonAppAbnormalClose, ReasonKeepaliveTimeout, ReasonPersistTimeout, ReasonRetransmitTimeout, ReasonBackupDrop}
}

// TCPConn is one row of the `tcp_conns` dataset: a traced TCP connection
// that closed (abnormally by default; every close in cache-mode `all`).
type TCPConn struct {
	Time           int64  `parquet:"time,timestamp(microsecond),delta" unit:"µs since epoch, UTC" doc:"When the connection closed." origin:"cache-connection: Time; cache-packet: header time (\"Sep 18 15:38:58:503 2019\")"`
	Edge           string `parquet:"edge,dict" doc:"Serial or id of the edge agent that collected the record." origin:"edge configuration"`
	Device         string `parquet:"device,dict" doc:"Device that traced the connection (name or address)." origin:"device sysname / capture interface"`
	LocalAddr      Addr   `parquet:"local_addr,dict" unit:"IPv4-mapped IPv6" doc:"Local address of the connection." origin:"cache-connection: Local Addr"`
	LocalPort      uint16 `parquet:"local_port" doc:"Local TCP port." origin:"cache-connection: Local Addr:port"`
	ForeignAddr    Addr   `parquet:"foreign_addr,dict" unit:"IPv4-mapped IPv6" doc:"Foreign (peer) address." origin:"cache-connection: Foreign Addr"`
	ForeignPort    uint16 `parquet:"foreign_port,dict" doc:"Foreign TCP port." origin:"cache-connection: Foreign Addr:port"`
	VPN            string `parquet:"vpn,dict" doc:"VPN instance (\"\" for the public network, which the device prints as N/A)." origin:"cache-connection: VPN name"`
	Reason         string `parquet:"reason,dict" unit:"PN RR SR AN AA KT PT RT BD" doc:"Why the connection closed: peer normal close, received reset, sent reset, application normal/abnormal close, keepalive, persist or retransmit timeout, backup drop." origin:"cache-connection: R"`
	ConnectedAt    int64  `parquet:"connected_at,optional,timestamp(microsecond)" unit:"µs since epoch, UTC" doc:"When the connection was established; null if unknown." origin:"cache-packet verbose: connection time"`
	OpenedAt       int64  `parquet:"opened_at,optional,timestamp(microsecond)" unit:"µs since epoch, UTC" doc:"When the connection was opened: the first SYN (without ACK) seen, so connected_at - opened_at is the connection setup time; null when no SYN was seen and for device output, which does not print it." origin:"passive capture"`
	SetupTime      int64  `parquet:"setup_time,optional" unit:"µs" doc:"Connection setup time: connected_at - opened_at, from the first SYN to the acknowledgement that completed the handshake (at least 1 µs); null when either is unknown. Stored so the engine aggregates it (p50(setup_time))." origin:"passive capture"`
	ISS            uint32 `parquet:"iss" doc:"Initial send sequence number." origin:"cache-packet verbose: iss"`
	IRS            uint32 `parquet:"irs" doc:"Initial receive sequence number." origin:"cache-packet verbose: irs"`
	InPackets      uint32 `parquet:"in_packets" unit:"packets" doc:"Packets received on the connection." origin:"cache-packet verbose: in"`
	InDropped      uint32 `parquet:"in_dropped,dict" unit:"packets" doc:"Received packets dropped." origin:"cache-packet verbose: in (drop N)"`
	OutPackets     uint32 `parquet:"out_packets" unit:"packets" doc:"Packets sent on the connection." origin:"cache-packet verbose: out"`
	RetransPackets uint32 `parquet:"retrans_packets,dict" unit:"packets" doc:"Packets retransmitted." origin:"cache-packet verbose: retrans"`
	SndMax         uint32 `parquet:"snd_max" unit:"bytes (relative)" doc:"Highest sequence sent, relative to iss." origin:"cache-packet verbose: sndmax"`
	LocalAckMax    uint32 `parquet:"local_ack_max" unit:"bytes (relative)" doc:"Highest acknowledgement sent, relative to irs." origin:"cache-packet verbose: localackmax"`
	SndScale       uint8  `parquet:"snd_scale,dict" doc:"Send window scale shift." origin:"cache-packet verbose: sndmax/localackmax/scale"`
	SndMSS         uint16 `parquet:"snd_mss,dict" unit:"bytes" doc:"Send maximum segment size." origin:"cache-packet verbose: sndmax/…/mss"`
	RcvMax         uint32 `parquet:"rcv_max" unit:"bytes (relative)" doc:"Highest sequence received, relative to irs." origin:"cache-packet verbose: rcvmax"`
	PeerAckMax     uint32 `parquet:"peer_ack_max" unit:"bytes (relative)" doc:"Highest acknowledgement received, relative to iss." origin:"cache-packet verbose: peerackmax"`
	RcvScale       uint8  `parquet:"rcv_scale,dict" doc:"Receive window scale shift." origin:"cache-packet verbose: rcvmax/peerackmax/scale"`
	RcvMSS         uint16 `parquet:"rcv_mss,dict" unit:"bytes" doc:"Receive maximum segment size (0 when the peer sent none)." origin:"cache-packet verbose: rcvmax/…/mss"`
	Source         string `parquet:"source,dict" unit:"device | passive" doc:"Where the record came from: the device's trace output or passive capture on the wire." origin:"ingest path"`
	TraceID        uint64 `parquet:"trace_id" doc:"Joins the connection to its tcp_packets rows; unique per edge." origin:"assigned by the edge"`
	MDCID          uint16 `parquet:"mdc_id,dict" doc:"Multitenant device context (MDC) that traced the connection; 0 when not printed." origin:"cache-packet verbose: MDC ID"`
	// The passive tracer's columns (docs/tcptrace.md): Zeek's summary of the
	// same connection, so analysts can compare with the tool they know, and
	// how the record ended.
	ConnState string `parquet:"conn_state,optional,dict" unit:"S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH" doc:"Zeek's conn_state of the connection (originator = the side that sent the first SYN, else the first packet's sender); null for device output." origin:"passive capture"`
	History   string `parquet:"history,optional,dict" doc:"Zeek's history string (upper case: originator, lower case: responder; letters and repeat rules as Zeek's conn.log); null for device output." origin:"passive capture"`
	End       string `parquet:"end,optional,dict" unit:"closed | timeout | open" doc:"How the record ended: the close was seen (FIN/RST), the connection idled past its timeout, or it was still open when the tracer stopped; null for device output." origin:"passive capture"`
}

// TCPPacket is one row of the `tcp_packets` dataset: one of the last N
// packets traced on a connection of tcp_conns (N defaults to 500 on devices).
type TCPPacket struct {
	Time        int64  `parquet:"time,timestamp(microsecond),delta" unit:"µs since epoch, UTC" doc:"When the packet was traced." origin:"cache-packet verbose: (n) Sep 18 15:33:08:367 2019"`
	Edge        string `parquet:"edge,dict" doc:"Serial or id of the edge agent that collected the record." origin:"edge configuration"`
	Device      string `parquet:"device,dict" doc:"Device that traced the packet." origin:"device sysname / capture interface"`
	TraceID     uint64 `parquet:"trace_id,dict" doc:"The tcp_conns row this packet belongs to." origin:"assigned by the edge"`
	Index       uint16 `parquet:"idx" doc:"Position in the trace, 1 = oldest kept." origin:"cache-packet verbose: (n)"`
	Direction   string `parquet:"direction,dict" unit:"in | out" doc:"Whether the traced host received or sent the packet." origin:"cache-packet verbose: packet type"`
	Event       string `parquet:"event,dict" doc:"Device's packet-type code as printed (for example RS, a retransmitted send)." origin:"cache-packet verbose: code after the time"`
	Seq         uint32 `parquet:"seq" doc:"Sequence number." origin:"cache-packet verbose: seq"`
	Ack         uint32 `parquet:"ack" doc:"Acknowledgement number." origin:"cache-packet verbose: ack"`
	DataLen     uint16 `parquet:"data_len,dict" unit:"bytes" doc:"TCP payload length." origin:"cache-packet verbose: data"`
	Flags       uint8  `parquet:"flags,dict" unit:"bit set FIN=1 SYN=2 RST=4 PSH=8 ACK=16 URG=32 ECE=64 CWR=128" doc:"TCP flags of the packet." origin:"cache-packet verbose: flag"`
	State       string `parquet:"state,dict" doc:"TCP state after the packet (ESTABLISHED, FIN_WAIT_1, …)." origin:"cache-packet verbose: status"`
	Window      uint32 `parquet:"window" unit:"bytes" doc:"Advertised window." origin:"cache-packet verbose: win"`
	Checksum    uint16 `parquet:"checksum" doc:"TCP checksum." origin:"cache-packet verbose: csum"`
	IPID        uint16 `parquet:"ip_id" doc:"IP identification." origin:"cache-packet verbose: ID"`
	SndUna      uint32 `parquet:"snd_una" doc:"Oldest unacknowledged sequence, relative to iss." origin:"cache-packet verbose: iss/sndcc/unack"`
	SndNxt      uint32 `parquet:"snd_nxt" doc:"Next sequence to send, relative to iss." origin:"cache-packet verbose: iss/…/next"`
	SndWnd      uint32 `parquet:"snd_wnd" unit:"bytes" doc:"Send window." origin:"cache-packet verbose: iss/…/wnd"`
	RcvNxt      uint32 `parquet:"rcv_nxt" doc:"Next sequence expected, relative to irs." origin:"cache-packet verbose: irs/…/next"`
	RcvWnd      uint32 `parquet:"rcv_wnd" unit:"bytes" doc:"Receive window." origin:"cache-packet verbose: irs/…/wnd"`
	SocketState string `parquet:"socket_state,optional,dict" doc:"Socket state flags; null when unknown (passive capture)." origin:"cache-packet verbose: socket state"`
	TCPOptions  string `parquet:"tcp_options,optional,dict" doc:"TCP control-block options; null when unknown." origin:"cache-packet verbose: TCP options"`
	RexmtShift  uint8  `parquet:"rexmt_shift,dict" doc:"Retransmission back-off shift." origin:"cache-packet verbose: rexmt shift"`
	SRTT        uint32 `parquet:"srtt" unit:"ms" doc:"Smoothed round-trip time." origin:"cache-packet verbose: srtt"`
	// The device's further control-block fields (ingest/tcptrace, docs/tcptrace.md).
	NSRState       string `parquet:"nsr_state,optional,dict" doc:"Nonstop-routing (NSR) state of the connection, as printed (\"invalid (CLOSED)\"); null when unknown." origin:"cache-packet verbose: NSR"`
	IPChecksum     uint16 `parquet:"ip_checksum" doc:"IPv4 header checksum as traced (0 for IPv6, which has none)." origin:"cache-packet verbose: ipcsum"`
	SndCC          uint32 `parquet:"snd_cc" unit:"bytes" doc:"Bytes in the send buffer." origin:"cache-packet verbose: iss/sndcc"`
	SndMaxSeq      uint32 `parquet:"snd_max" doc:"Highest sequence sent, relative to iss." origin:"cache-packet verbose: iss/…/max"`
	RcvCC          uint32 `parquet:"rcv_cc" unit:"bytes" doc:"Bytes in the receive buffer." origin:"cache-packet verbose: irs/rcvcc"`
	RcvUndelivered uint32 `parquet:"rcv_undelivered" unit:"bytes" doc:"Bytes received but not yet delivered to the application." origin:"cache-packet verbose: irs/…/undeliver"`
	RcvAdv         uint32 `parquet:"rcv_adv" doc:"Right edge of the advertised receive window, relative to irs." origin:"cache-packet verbose: irs/…/adv"`
	SocketOptions  string `parquet:"socket_options,optional,dict" doc:"Socket options as printed (N/A: none); null when unknown." origin:"cache-packet verbose: socket options"`
	InpcbFlags     string `parquet:"inpcb_flags,optional,dict" doc:"Protocol control block flags as printed; null when unknown." origin:"cache-packet verbose: inpcb flags"`
	InpcbExtFlags  string `parquet:"inpcb_extflags,optional,dict" doc:"Protocol control block extended flags as printed (N/A: none); null when unknown." origin:"cache-packet verbose: inpcb extflag"`
	RcvDelayAck    uint32 `parquet:"rcv_delayack,dict" doc:"Delayed acknowledgements pending on receive." origin:"cache-packet verbose: recv delayack"`
	TickStart      uint64 `parquet:"tick_start" unit:"ms (device uptime clock)" doc:"Device clock when the connection's trace started." origin:"cache-packet verbose: time start (first line)"`
	TickOffset     uint32 `parquet:"tick_offset" unit:"ms" doc:"Clock offset of the trace." origin:"cache-packet verbose: time …/offset"`
	NSROffset      uint32 `parquet:"nsr_offset" unit:"ms" doc:"Clock offset on the NSR standby." origin:"cache-packet verbose: time …/nsroffset"`
	Tick           uint64 `parquet:"tick" unit:"ms (device uptime clock)" doc:"Device clock when the packet was traced." origin:"cache-packet verbose: time start (second line)"`
	LastRcv        uint32 `parquet:"last_rcv" doc:"Device timestamp of the last segment received." origin:"cache-packet verbose: lastrcv"`
	TSRecent       uint32 `parquet:"ts_recent" doc:"Most recent TCP timestamp value received from the peer (RFC 7323 TS.Recent)." origin:"cache-packet verbose: tsrecent"`
	TSRecentAge    uint64 `parquet:"ts_recent_age" unit:"ms (device uptime clock)" doc:"Device clock when ts_recent was recorded." origin:"cache-packet verbose: tsrecentage"`
	RexmtCurrent   uint32 `parquet:"rexmt_current" unit:"ms" doc:"Current retransmission timeout." origin:"cache-packet verbose: rexmt …/current"`
	RexmtSeq       uint32 `parquet:"rexmt_seq" doc:"Sequence number being retransmitted." origin:"cache-packet verbose: rexmt …/seq"`
	RTT            uint32 `parquet:"rtt" doc:"Round-trip time measurement in progress, as printed." origin:"cache-packet verbose: rtt"`
	RTTVar         uint32 `parquet:"rtt_var" unit:"ms" doc:"Round-trip time variance." origin:"cache-packet verbose: rtt/srtt/var"`
	RTTLow         uint32 `parquet:"rtt_low" unit:"ms" doc:"Lowest retransmission timeout allowed." origin:"cache-packet verbose: low"`
	RTTMin         uint32 `parquet:"rtt_min" unit:"ms" doc:"Minimum round-trip time." origin:"cache-packet verbose: low/min"`
	RTTBest        uint32 `parquet:"rtt_best" unit:"ms" doc:"Best round-trip time seen." origin:"cache-packet verbose: low/min/best"`
	RTTUpdates     uint32 `parquet:"rtt_updates" doc:"Times the round-trip estimate was updated." origin:"cache-packet verbose: updatetimes"`
	// Frame is what the passive tracer captured of the packet, from the IP
	// header on (pcap link type RAW), cut at its snap length, in standard
	// base64 so every engine reads it as text; the pcap export writes it
	// back. Empty for device output.
	Frame    string `parquet:"frame,optional,plain" unit:"base64 of the bytes from the IP header on" doc:"The captured packet from its IP header on, cut at the tracer's snap length, base64-encoded; null for device output." origin:"passive capture"`
	FrameLen uint32 `parquet:"frame_len" unit:"bytes" doc:"The packet's length on the wire from its IP header on (frame may be shorter); 0 for device output." origin:"passive capture"`
}

// Column names of the tcp datasets that code refers to by name.
const (
	TCPLocalAddr   = "local_addr"
	TCPForeignAddr = "foreign_addr"
	TCPReason      = "reason"
	TCPTraceID     = "trace_id"
	TCPConnState   = "conn_state"
	TCPOpenedAt    = "opened_at"
	TCPConnectedAt = "connected_at"
	TCPSetupTime   = "setup_time"
	TCPHistory     = "history"
)

// How a passively traced connection's record ended (tcp_conns.end).
const (
	TCPEndClosed  = "closed"
	TCPEndTimeout = "timeout"
	TCPEndOpen    = "open"
)
