package schema

// DHCP message types as stored in dhcp_events.msg_type (RFC 2132 option 53).
const (
	DHCPDiscover = "DISCOVER"
	DHCPOffer    = "OFFER"
	DHCPRequest  = "REQUEST"
	DHCPDecline  = "DECLINE"
	DHCPAck      = "ACK"
	DHCPNak      = "NAK"
	DHCPRelease  = "RELEASE"
	DHCPInform   = "INFORM"
)

// DHCPEvent is one row of the `dhcp_events` dataset: one DHCP message seen on
// the wire (or reported by a snooping device). Lease history is derived from
// it.
type DHCPEvent struct {
	Time            int64  `parquet:"time,timestamp(microsecond),delta" unit:"µs since epoch, UTC" doc:"When the message was seen." origin:"capture timestamp"`
	Edge            string `parquet:"edge,dict" doc:"Serial or id of the edge agent that collected the record." origin:"edge configuration"`
	Device          string `parquet:"device,dict" doc:"Device or capture point that saw the message." origin:"capture interface / snooping device"`
	DHCPv6          bool   `parquet:"dhcpv6" doc:"True for a DHCPv6 message (columns used as docs/ingest-dhcp.md says), false for DHCPv4 and BOOTP." origin:"UDP port 546/547"`
	MsgType         string `parquet:"msg_type,dict" unit:"DISCOVER OFFER REQUEST DECLINE ACK NAK RELEASE INFORM" doc:"DHCP message type." origin:"option 53"`
	Op              uint8  `parquet:"op,dict" unit:"1 BOOTREQUEST, 2 BOOTREPLY" doc:"BOOTP operation." origin:"header op"`
	XID             uint32 `parquet:"xid" doc:"Transaction id chosen by the client." origin:"header xid"`
	HType           uint8  `parquet:"htype,dict" unit:"ARP hardware type (1 Ethernet)" doc:"Hardware address type of chaddr." origin:"header htype"`
	HLen            uint8  `parquet:"hlen,dict" unit:"bytes" doc:"Hardware address length of chaddr as sent (chaddr keeps the first 6 bytes)." origin:"header hlen"`
	Hops            uint8  `parquet:"hops,dict" doc:"Relay agents traversed." origin:"header hops"`
	Secs            uint16 `parquet:"secs,dict" unit:"s" doc:"Seconds since the client began acquisition or renewal." origin:"header secs"`
	Flags           uint16 `parquet:"flags,dict" doc:"The whole flags field, reserved bits included." origin:"header flags"`
	Broadcast       bool   `parquet:"broadcast" doc:"Broadcast flag: the client asks for replies by broadcast." origin:"header flags bit 15"`
	CIAddr          Addr   `parquet:"ciaddr,optional,dict" unit:"IPv4-mapped IPv6" doc:"Client's current address (renewal, rebinding); null when 0.0.0.0." origin:"header ciaddr"`
	YIAddr          Addr   `parquet:"yiaddr,optional,dict" unit:"IPv4-mapped IPv6" doc:"Address the server offers or assigns; null when 0.0.0.0." origin:"header yiaddr"`
	SIAddr          Addr   `parquet:"siaddr,optional,dict" unit:"IPv4-mapped IPv6" doc:"Next server address; null when 0.0.0.0." origin:"header siaddr"`
	GIAddr          Addr   `parquet:"giaddr,optional,dict" unit:"IPv4-mapped IPv6" doc:"Relay agent address; null when not relayed." origin:"header giaddr"`
	CHAddr          MAC    `parquet:"chaddr,dict" doc:"Client hardware address." origin:"header chaddr"`
	SName           string `parquet:"sname,optional,dict" doc:"Server host name; null when empty or when the field carries options (option 52)." origin:"header sname"`
	File            string `parquet:"file,optional,dict" doc:"Boot file name; null when empty or when the field carries options (option 52)." origin:"header file"`
	Overload        uint8  `parquet:"overload,optional,dict" unit:"1 file, 2 sname, 3 both" doc:"Which header fields carry options; null when absent." origin:"option 52"`
	SubnetMask      Addr   `parquet:"subnet_mask,optional,dict" unit:"IPv4-mapped IPv6" doc:"Subnet mask; null when absent." origin:"option 1"`
	Routers         string `parquet:"routers,optional,dict" unit:"comma-separated addresses" doc:"Default routers, in order; null when absent." origin:"option 3"`
	DNSServers      string `parquet:"dns_servers,optional,dict" unit:"comma-separated addresses" doc:"Domain name servers, in order; null when absent." origin:"option 6"`
	DomainName      string `parquet:"domain_name,optional,dict" doc:"Domain name; null when absent." origin:"option 15"`
	ClientID        string `parquet:"client_id,optional,dict" unit:"hex" doc:"Client identifier; null when absent." origin:"option 61"`
	Hostname        string `parquet:"hostname,optional,dict" doc:"Client host name; null when absent." origin:"option 12"`
	RequestedIP     Addr   `parquet:"requested_ip,optional,dict" unit:"IPv4-mapped IPv6" doc:"Address the client asks for; null when absent." origin:"option 50"`
	LeaseTime       uint32 `parquet:"lease_time,optional,dict" unit:"s" doc:"Lease duration; null when absent." origin:"option 51"`
	RenewalTime     uint32 `parquet:"renewal_time,optional,dict" unit:"s" doc:"Renewal (T1) time; null when absent." origin:"option 58"`
	RebindTime      uint32 `parquet:"rebinding_time,optional,dict" unit:"s" doc:"Rebinding (T2) time; null when absent." origin:"option 59"`
	ServerDUID      string `parquet:"server_duid,optional,dict" unit:"hex" doc:"DHCPv6 server DUID; null when absent and for DHCPv4." origin:"DHCPv6 option 2"`
	IANA            string `parquet:"ia_na,optional,dict" unit:"comma-separated addresses" doc:"Every address of every IA_NA, in order; null when none and for DHCPv4." origin:"DHCPv6 options 3 and 5"`
	ServerID        Addr   `parquet:"server_id,optional,dict" unit:"IPv4-mapped IPv6" doc:"Server identifier; null when absent." origin:"option 54"`
	ParamList       string `parquet:"param_list,optional,dict" unit:"comma-separated option codes" doc:"Options the client asks for; null when absent." origin:"option 55"`
	VendorClass     string `parquet:"vendor_class,optional,dict" doc:"Vendor class identifier; null when absent." origin:"option 60"`
	Message         string `parquet:"message,optional,dict" doc:"Error or status text (a NAK's reason, a DECLINE's cause); null when absent." origin:"option 56"`
	ClientFQDN      string `parquet:"client_fqdn,optional,dict" doc:"Client's fully qualified domain name (ASCII or wire encoding, decoded); null when absent." origin:"option 81"`
	CircuitID       string `parquet:"circuit_id,optional,dict" doc:"Relay agent circuit id (printable text, else hex); null when absent." origin:"option 82 sub-option 1"`
	RemoteID        string `parquet:"remote_id,optional,dict" doc:"Relay agent remote id (printable text, else hex); null when absent." origin:"option 82 sub-option 2"`
	RelayOther      string `parquet:"relay_other,optional,dict" unit:"code=hex, comma-separated" doc:"Relay agent sub-options other than 1 and 2, raw; null when none." origin:"option 82 other sub-options"`
	DomainSearch    string `parquet:"domain_search,optional,dict" unit:"comma-separated domains" doc:"Domain search list; null when absent." origin:"option 119"`
	ClasslessRoutes string `parquet:"classless_routes,optional,dict" unit:"comma-separated prefix via router" doc:"Classless static routes; null when absent." origin:"option 121"`
	Option253       string `parquet:"option253,optional,dict" doc:"Site-specific option 253, which devices use for the cloud server's domain name; null when absent." origin:"option 253"`
	SrcAddr         Addr   `parquet:"src_addr,dict" unit:"IPv4-mapped IPv6" doc:"IP source of the datagram." origin:"IP header"`
	DstAddr         Addr   `parquet:"dst_addr,dict" unit:"IPv4-mapped IPv6" doc:"IP destination of the datagram." origin:"IP header"`
	SrcPort         uint16 `parquet:"src_port,dict" doc:"UDP source port (0 when the caller does not know it)." origin:"UDP header"`
	DstPort         uint16 `parquet:"dst_port,dict" doc:"UDP destination port (0 when the caller does not know it)." origin:"UDP header"`
	Interface       string `parquet:"interface,dict" doc:"Interface the message arrived on." origin:"capture interface / snooping port"`
	VLAN            uint16 `parquet:"vlan,dict" doc:"VLAN the message arrived on (0 when untagged)." origin:"802.1Q tag"`
	Trusted         bool   `parquet:"trusted" doc:"Whether the port is a DHCP-snooping trusted port." origin:"edge configuration (trusted ports)"`
	RogueServer     bool   `parquet:"rogue_server" doc:"A server reply (OFFER, ACK, NAK) from a server not on the allowed list or on an untrusted port." origin:"enrichment"`
	OfferServers    string `parquet:"offer_servers,optional,dict" unit:"comma-separated addresses" doc:"On a REQUEST, ACK or NAK: every server that OFFERed in this transaction (xid and client), in order, rogue ones included; null when none was seen." origin:"edge snooping"`
	Signals         string `parquet:"signals,optional,dict" unit:"comma-separated name or name=subnet" doc:"Signals this message raised at the edge: rogue_server, nak_storm, discover_flood, decline_spike, pool_high=<subnet>, pool_ok=<subnet> (docs/ingest-dhcp.md); null when none." origin:"edge snooping"`
}

// Column names of the dhcp_events dataset that code refers to by name.
const (
	DHCPMsgType = "msg_type"
	DHCPCHAddr  = "chaddr"
	DHCPYIAddr  = "yiaddr"
	// DHCPSignals holds the signals a message raised (docs/ingest-dhcp.md).
	DHCPSignals = "signals"
)
