package gen

// Where an application's flows go.
const (
	poolExt       = iota // Zipf-popular Internet hosts
	poolPublicDNS        // 8.8.8.8, 1.1.1.1, …
	poolNTP              // site time servers and public NTP
	poolResolver         // the site's DNS resolvers
	poolServers          // the site's servers, Zipf-popular
	poolInfra            // the site's network devices and printers
	poolVoice            // the site's IP phones (RTP peers)
	poolPBX              // the site's call manager
)

// app is one application profile: how its flows look on the wire. Packet
// counts are 1+lognormal(pktMu, pktSigma); bytes per packet are uniform in
// the forward/reverse ranges (always within 40..1500); durations are
// lognormal seconds.
type app struct {
	name            string
	proto           uint8
	port, portHi    uint16 // portHi > port: dst port drawn in [port, portHi]
	pool            int
	v6              bool // may run over IPv6
	pktMu, pktSigma float64
	fwdLo, fwdHi    uint16
	revLo, revHi    uint16
	revPkt          float64 // reverse packets per forward packet
	revProb         float64 // chance the reply direction is a record too
	durMu, durSigma float64
	tos             uint8
	elephant        float64 // chance of a Pareto-sized transfer
	serverSrc123    bool    // servers talk from port 123 (NTP)
}

// Application indexes into apps.
const (
	appHTTPS = iota
	appQUIC
	appHTTP
	appDNS
	appDNSPublic
	appNTP
	appSSH
	appSMTP
	appIMAPS
	appRDP
	appSMB
	appLDAP
	appKerberos
	appSNMP
	appSyslog
	appSIP
	appRTP
	appICMP
	appMySQL
	appHTTPSAlt
	appUnknownTCP
	appUnknownUDP
	numApps
)

var apps = [numApps]app{
	appHTTPS:      {name: "https", proto: 6, port: 443, pool: poolExt, v6: true, pktMu: 2.3, pktSigma: 1.4, fwdLo: 80, fwdHi: 260, revLo: 700, revHi: 1400, revPkt: 1.4, revProb: 0.96, durMu: 0.8, durSigma: 1.6, elephant: 0.004},
	appQUIC:       {name: "quic", proto: 17, port: 443, pool: poolExt, v6: true, pktMu: 2.6, pktSigma: 1.5, fwdLo: 60, fwdHi: 300, revLo: 900, revHi: 1350, revPkt: 1.6, revProb: 0.97, durMu: 1.5, durSigma: 1.5, elephant: 0.006},
	appHTTP:       {name: "http", proto: 6, port: 80, pool: poolExt, v6: true, pktMu: 1.8, pktSigma: 1.2, fwdLo: 70, fwdHi: 400, revLo: 500, revHi: 1400, revPkt: 1.3, revProb: 0.95, durMu: 0.2, durSigma: 1.4, elephant: 0.003},
	appDNS:        {name: "dns", proto: 17, port: 53, pool: poolResolver, v6: true, pktMu: -2, pktSigma: 0.7, fwdLo: 60, fwdHi: 90, revLo: 90, revHi: 300, revPkt: 1, revProb: 0.98, durMu: -4, durSigma: 1},
	appDNSPublic:  {name: "dns", proto: 17, port: 53, pool: poolPublicDNS, v6: true, pktMu: -1.5, pktSigma: 0.8, fwdLo: 60, fwdHi: 90, revLo: 90, revHi: 400, revPkt: 1, revProb: 0.97, durMu: -3.3, durSigma: 0.8},
	appNTP:        {name: "ntp", proto: 17, port: 123, pool: poolNTP, v6: true, pktMu: -3, pktSigma: 0.5, fwdLo: 76, fwdHi: 76, revLo: 76, revHi: 76, revPkt: 1, revProb: 0.95, durMu: -3.5, durSigma: 0.6, tos: 0xb8, serverSrc123: true},
	appSSH:        {name: "ssh", proto: 6, port: 22, pool: poolServers, v6: true, pktMu: 3.5, pktSigma: 1.6, fwdLo: 60, fwdHi: 200, revLo: 80, revHi: 600, revPkt: 1.1, revProb: 0.97, durMu: 4, durSigma: 1.8, tos: 0x48, elephant: 0.01},
	appSMTP:       {name: "smtp", proto: 6, port: 25, pool: poolExt, pktMu: 2.5, pktSigma: 1.2, fwdLo: 300, fwdHi: 1300, revLo: 60, revHi: 120, revPkt: 0.6, revProb: 0.95, durMu: 0.5, durSigma: 1},
	appIMAPS:      {name: "imaps", proto: 6, port: 993, pool: poolExt, v6: true, pktMu: 2.4, pktSigma: 1.3, fwdLo: 70, fwdHi: 200, revLo: 400, revHi: 1300, revPkt: 1.2, revProb: 0.96, durMu: 3, durSigma: 1.8},
	appRDP:        {name: "rdp", proto: 6, port: 3389, pool: poolServers, pktMu: 4.5, pktSigma: 1.5, fwdLo: 60, fwdHi: 180, revLo: 200, revHi: 1200, revPkt: 1.5, revProb: 0.97, durMu: 5.5, durSigma: 1.5, tos: 0x48},
	appSMB:        {name: "smb", proto: 6, port: 445, pool: poolServers, pktMu: 3, pktSigma: 1.8, fwdLo: 100, fwdHi: 900, revLo: 300, revHi: 1400, revPkt: 1.2, revProb: 0.97, durMu: 2, durSigma: 2, elephant: 0.01},
	appLDAP:       {name: "ldap", proto: 6, port: 389, pool: poolServers, pktMu: 1.5, pktSigma: 0.8, fwdLo: 80, fwdHi: 300, revLo: 150, revHi: 900, revPkt: 1, revProb: 0.98, durMu: -1, durSigma: 1},
	appKerberos:   {name: "kerberos", proto: 17, port: 88, pool: poolServers, pktMu: -2, pktSigma: 0.5, fwdLo: 200, fwdHi: 1400, revLo: 200, revHi: 1400, revPkt: 1, revProb: 0.98, durMu: -4, durSigma: 0.7},
	appSNMP:       {name: "snmp", proto: 17, port: 161, pool: poolInfra, pktMu: 0.5, pktSigma: 1, fwdLo: 80, fwdHi: 160, revLo: 100, revHi: 1200, revPkt: 1, revProb: 0.97, durMu: -1, durSigma: 1.2},
	appSyslog:     {name: "syslog", proto: 17, port: 514, pool: poolServers, pktMu: 0.8, pktSigma: 1.3, fwdLo: 90, fwdHi: 400, revProb: 0, durMu: 2, durSigma: 1.5},
	appSIP:        {name: "sip", proto: 17, port: 5060, pool: poolPBX, pktMu: 0.7, pktSigma: 0.8, fwdLo: 400, fwdHi: 1100, revLo: 300, revHi: 900, revPkt: 1, revProb: 0.95, durMu: 1, durSigma: 1.5, tos: 0x60},
	appRTP:        {name: "rtp", proto: 17, port: 16384, portHi: 32766, pool: poolVoice, pktMu: 7.5, pktSigma: 1, fwdLo: 200, fwdHi: 214, revLo: 200, revHi: 214, revPkt: 1, revProb: 0.98, durMu: 4.6, durSigma: 1, tos: 0xb8},
	appICMP:       {name: "icmp", proto: 1, pool: poolExt, v6: true, pktMu: 0.3, pktSigma: 0.9, fwdLo: 84, fwdHi: 84, revLo: 84, revHi: 84, revPkt: 1, revProb: 0.85, durMu: 0.5, durSigma: 1.5},
	appMySQL:      {name: "mysql", proto: 6, port: 3306, pool: poolServers, pktMu: 2.5, pktSigma: 1.5, fwdLo: 80, fwdHi: 400, revLo: 200, revHi: 1400, revPkt: 1.2, revProb: 0.98, durMu: 1, durSigma: 2},
	appHTTPSAlt:   {name: "https-alt", proto: 6, port: 8443, pool: poolExt, v6: true, pktMu: 2.3, pktSigma: 1.3, fwdLo: 80, fwdHi: 300, revLo: 600, revHi: 1400, revPkt: 1.3, revProb: 0.95, durMu: 1, durSigma: 1.5},
	appUnknownTCP: {name: "unknown", proto: 6, port: 1024, portHi: 49151, pool: poolExt, pktMu: 1.5, pktSigma: 1.8, fwdLo: 60, fwdHi: 1000, revLo: 60, revHi: 1400, revPkt: 1, revProb: 0.8, durMu: 1, durSigma: 2},
	appUnknownUDP: {name: "unknown", proto: 17, port: 1024, portHi: 49151, pool: poolExt, v6: true, pktMu: 1, pktSigma: 2, fwdLo: 60, fwdHi: 1300, revLo: 60, revHi: 1300, revPkt: 1, revProb: 0.7, durMu: 1, durSigma: 2},
}

// groupApps is each IP group's application mix (relative flow counts):
// https dominates everywhere, DNS follows; phones speak SIP/RTP, servers
// resolve, sync time, mail and poll the network.
var groupApps = [numGroups][numApps]float64{
	grpEngineering: {appHTTPS: 44, appQUIC: 10, appHTTP: 5, appDNS: 18, appNTP: 0.7, appSSH: 4, appIMAPS: 1, appRDP: 1, appSMB: 3.5, appLDAP: 1.5, appKerberos: 1.5, appICMP: 1.5, appMySQL: 1.5, appHTTPSAlt: 1, appUnknownTCP: 1.5, appUnknownUDP: 1},
	grpFinance:     {appHTTPS: 46, appQUIC: 8, appHTTP: 5, appDNS: 20, appNTP: 0.7, appIMAPS: 1.5, appRDP: 2.5, appSMB: 5, appLDAP: 2, appKerberos: 2, appICMP: 0.5, appMySQL: 0.5, appHTTPSAlt: 1, appUnknownTCP: 0.5},
	grpGuest:       {appHTTPS: 50, appQUIC: 20, appHTTP: 4, appDNS: 18, appNTP: 0.5, appIMAPS: 1, appICMP: 0.5, appHTTPSAlt: 0.5, appUnknownTCP: 2, appUnknownUDP: 3},
	grpVoice:       {appSIP: 30, appRTP: 40, appDNS: 15, appNTP: 5, appHTTPS: 8, appHTTP: 2},
	grpInfra:       {appSyslog: 25, appNTP: 10, appDNS: 20, appHTTPS: 25, appHTTP: 5, appICMP: 5, appSNMP: 2, appUnknownUDP: 2},
	grpServers:     {appHTTPS: 25, appDNSPublic: 25, appNTP: 3, appSMTP: 6, appSNMP: 12, appLDAP: 3, appKerberos: 3, appMySQL: 6, appSSH: 3, appSMB: 4, appICMP: 5, appHTTP: 3, appUnknownTCP: 2},
}

// Inbound flows: the Internet reaching the site's servers, and scanners.
var scanPorts = []struct {
	port uint16
	app  string
}{{23, "telnet"}, {22, "ssh"}, {445, "smb"}, {3389, "rdp"}, {80, "http"}, {8080, "http-alt"}, {1433, "mssql"},
	{5900, "vnc"}, {6379, "redis"}, {2323, "unknown"}, {443, "https"}, {25, "smtp"}, {3306, "mysql"}, {5060, "sip"}}
