package schema

// Lease end reasons, as stored in dhcp_leases.end_reason.
const (
	// LeaseOpen marks a span still held when it was written: end_time is
	// the expiry the last ACK promised, not an observed end.
	LeaseOpen = "OPEN"
	// LeaseReleased: the client sent RELEASE.
	LeaseReleased = "RELEASE"
	// LeaseDeclined: the client sent DECLINE (the address is in use).
	LeaseDeclined = "DECLINE"
	// LeaseNaked: a server answered the client's REQUEST with NAK.
	LeaseNaked = "NAK"
	// LeaseExpired: the lease time ran out with no renewal seen.
	LeaseExpired = "EXPIRED"
	// LeaseSuperseded: another client was ACKed the same address.
	LeaseSuperseded = "SUPERSEDED"
	// LeaseMoved: the same client was ACKed another address.
	LeaseMoved = "MOVED"
)

// Lease kinds, as stored in dhcp_leases.kind.
const (
	// LeaseKindLease is a binding an ACK granted.
	LeaseKindLease = "lease"
	// LeaseKindInform is an INFORM answered by an ACK: the client
	// configured its address itself; no lease, one row per exchange.
	LeaseKindInform = "inform"
)

// Lease sources, as stored in dhcp_leases.source.
const (
	LeaseSourceWire     = "wire"
	LeaseSourceKeaCSV   = "kea-csv"
	LeaseSourceKeaLegal = "kea-legal"
	LeaseSourceDnsmasq  = "dnsmasq"
)

// LeaseEndReasons lists the end reasons in the order docs/schema.md shows
// them.
func LeaseEndReasons() []string {
	return []string{LeaseOpen, LeaseReleased, LeaseDeclined, LeaseNaked, LeaseExpired, LeaseSuperseded, LeaseMoved}
}

// DHCPLease is one row of the `dhcp_leases` dataset: one binding of an
// address to a client, from its first ACK to its end, with every renewal
// of the same binding merged into the span. It answers "who held address
// X at time T" and "which addresses did MAC M hold". Rows are keyed by the
// client (client id, else MAC), never by the address alone.
type DHCPLease struct {
	Time        int64  `parquet:"time,timestamp(microsecond),delta" unit:"µs since epoch, UTC" doc:"Start of the binding: the first ACK (or lease start) of the span." origin:"dhcp_events ACK time / server lease file"`
	Edge        string `parquet:"edge,dict" doc:"Serial or id of the edge agent that derived the span (\"import\" for server lease files)." origin:"edge configuration"`
	Device      string `parquet:"device,dict" doc:"Capture point, or the server lease file the span came from." origin:"dhcp_events.device / import file"`
	Source      string `parquet:"source,dict" unit:"wire kea-csv kea-legal dnsmasq" doc:"Where the span came from: messages seen on the wire, or a server's lease state." origin:"ingest path"`
	Kind        string `parquet:"kind,dict" unit:"lease inform" doc:"lease: a binding granted by ACK; inform: an INFORM exchange, recorded without a lease." origin:"message type"`
	DHCPv6      bool   `parquet:"dhcpv6" doc:"True for a DHCPv6 (IA_NA) binding." origin:"UDP port 546/547"`
	Address     Addr   `parquet:"address,dict" unit:"IPv4-mapped IPv6" doc:"The address bound to the client." origin:"ACK yiaddr (ciaddr for INFORM) / lease file address"`
	Client      string `parquet:"client,dict" unit:"id:<hex> or mac:<aa:bb:cc:dd:ee:ff>" doc:"Key of the binding: the client id when the client sent one, else its MAC." origin:"option 61, else chaddr"`
	ClientID    string `parquet:"client_id,optional,dict" unit:"hex" doc:"Client identifier (DHCPv6: DUID); null when the client sent none." origin:"option 61 / DHCPv6 option 1"`
	CHAddr      MAC    `parquet:"chaddr,dict" doc:"Client hardware address (zero when unknown)." origin:"header chaddr / lease file hwaddr"`
	Hostname    string `parquet:"hostname,optional,dict" doc:"Client host name, the last one seen in the span; null when none." origin:"option 12 (else 81) / lease file hostname"`
	ServerID    Addr   `parquet:"server_id,optional,dict" unit:"IPv4-mapped IPv6" doc:"Server that granted the lease; null when unknown." origin:"option 54 / IP source of the ACK"`
	LeaseTime   uint32 `parquet:"lease_time,optional,dict" unit:"s" doc:"Lease duration of the last ACK of the span; null when absent (infinite for 0xffffffff)." origin:"option 51 / lease file valid_lifetime"`
	RenewalTime uint32 `parquet:"renewal_time,optional,dict" unit:"s" doc:"Renewal (T1) time of the last ACK; null when absent." origin:"option 58"`
	RebindTime  uint32 `parquet:"rebinding_time,optional,dict" unit:"s" doc:"Rebinding (T2) time of the last ACK; null when absent." origin:"option 59"`
	LastAck     int64  `parquet:"last_ack,timestamp(microsecond)" unit:"µs since epoch, UTC" doc:"The last ACK (renewal) merged into the span." origin:"dhcp_events ACK time / lease file cltt"`
	Renewals    uint32 `parquet:"renewals" doc:"ACKs merged into the span after the first one." origin:"derived"`
	EndTime     int64  `parquet:"end_time,timestamp(microsecond)" unit:"µs since epoch, UTC" doc:"End of the binding: when it ended (end_reason), or for OPEN the expiry the last ACK promised (9999-12-31T23:59:59Z for an infinite lease); equal to time for inform rows. The address was held in [time, end_time)." origin:"derived"`
	EndReason   string `parquet:"end_reason,dict" unit:"OPEN RELEASE DECLINE NAK EXPIRED SUPERSEDED MOVED" doc:"Why the span ended; OPEN when still held when written; empty for inform rows." origin:"derived"`
	GIAddr      Addr   `parquet:"giaddr,optional,dict" unit:"IPv4-mapped IPv6" doc:"Relay agent address of the ACK; null when not relayed." origin:"header giaddr"`
	CircuitID   string `parquet:"circuit_id,optional,dict" doc:"Relay agent circuit id; null when absent." origin:"option 82 sub-option 1"`
	RemoteID    string `parquet:"remote_id,optional,dict" doc:"Relay agent remote id; null when absent." origin:"option 82 sub-option 2"`
	Interface   string `parquet:"interface,dict" doc:"Interface the ACK arrived on (\"\" for imports)." origin:"capture interface"`
	VLAN        uint16 `parquet:"vlan,dict" doc:"VLAN the ACK arrived on (0 when untagged or imported)." origin:"802.1Q tag"`
}

// Column names of the dhcp_leases dataset that code refers to by name.
const (
	LeaseAddress   = "address"
	LeaseClient    = "client"
	LeaseCHAddr    = "chaddr"
	LeaseHostname  = "hostname"
	LeaseEndTime   = "end_time"
	LeaseEndReason = "end_reason"
)
