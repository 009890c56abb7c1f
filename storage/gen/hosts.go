package gen

import (
	"fmt"
	"math"

	"github.com/flowlake/flowlake/storage/schema"
)

// IP groups of every site, in host-table order. The names are what the
// src_group/dst_group columns carry; external addresses have group "".
const (
	grpEngineering = iota
	grpFinance
	grpGuest
	grpVoice
	grpInfra
	grpServers
	numGroups
)

// groupDef describes one IP group: its VLAN, its share of a site's hosts,
// the DHCP lease it gets and whether its DHCP traffic crosses a relay.
type groupDef struct {
	name    string
	vlan    uint16
	share   float64
	lease   uint32 // seconds; 0 = static addresses
	relayed bool
}

var groupDefs = [numGroups]groupDef{
	grpEngineering: {"engineering", 30, 0.33, 86400, true},
	grpFinance:     {"finance", 20, 0.17, 28800, true},
	grpGuest:       {"guest", 40, 0.20, 3600, false},
	grpVoice:       {"voice", 50, 0.11, 604800, true},
	grpInfra:       {"infra", 60, 0.07, 86400, true},
	grpServers:     {"servers", 100, 0.12, 0, false},
}

// Operating-system profiles: they decide a host's MAC vendor, ephemeral
// port range and everything its DHCP client says.
const (
	osWindows = iota
	osMac
	osLinux
	osAndroid
	osIOS
	osPhone
	osPrinter
	osNetdev
	numOS
)

type osProfile struct {
	ephLo, ephHi uint16
	vendorClass  string // option 60; "" when the client sends none
	paramList    string // option 55
	clientID     bool   // sends option 61
	broadcast    bool   // sets the broadcast flag
	release      float64
	ouis         [][3]byte
}

var osProfiles = [numOS]osProfile{
	osWindows: {49152, 65535, "MSFT 5.0", "1,3,6,15,31,33,43,44,46,47,119,121,249,252", true, false, 0.35,
		[][3]byte{{0x3c, 0xd9, 0x2b}, {0x98, 0x90, 0x96}, {0xa4, 0xbb, 0x6d}, {0x00, 0x14, 0x22}}},
	osMac: {49152, 65535, "", "1,121,3,6,15,108,114,119,252,95,44,46", true, false, 0.05,
		[][3]byte{{0xf0, 0x18, 0x98}, {0x3c, 0x22, 0xfb}, {0xa4, 0x83, 0xe7}}},
	osLinux: {32768, 60999, "", "1,28,2,3,15,6,119,12,44,47,26,121,42", true, false, 0.2,
		[][3]byte{{0x00, 0x50, 0x56}, {0x52, 0x54, 0x00}, {0xa4, 0xbb, 0x6d}}},
	osAndroid: {32768, 60999, "android-dhcp-13", "1,3,6,15,26,28,51,58,59,43,114,108", false, false, 0.02,
		[][3]byte{{0x8c, 0xf5, 0xa3}, {0x3c, 0x28, 0x6d}, {0xd8, 0x0b, 0x9a}}},
	osIOS: {49152, 65535, "", "1,121,3,6,15,108,114,119,252", true, false, 0.02,
		[][3]byte{{0xa4, 0x83, 0xe7}, {0xf0, 0x18, 0x98}, {0x88, 0x66, 0x5a}}},
	osPhone: {49152, 65535, "Cisco Systems, Inc. IP Phone CP-8845", "1,66,6,3,15,150,35", true, true, 0,
		[][3]byte{{0x00, 0x1b, 0x54}, {0x70, 0x0b, 0x4f}}},
	osPrinter: {49152, 65535, "Hewlett-Packard JetDirect", "1,3,44,6,81,15,12,7,252", false, false, 0,
		[][3]byte{{0x3c, 0xd9, 0x2b}, {0x9c, 0x8e, 0x99}}},
	osNetdev: {49152, 65535, "H3C", "1,3,6,15,28,43,66,67,253", true, true, 0,
		[][3]byte{{0x3c, 0x8c, 0x40}, {0x70, 0xf9, 0x6d}}},
}

// osMix is the share of each OS in each group.
var osMix = [numGroups][numOS]float64{
	grpEngineering: {osWindows: 50, osMac: 22, osLinux: 25, osIOS: 3},
	grpFinance:     {osWindows: 85, osMac: 12, osIOS: 3},
	grpGuest:       {osAndroid: 40, osIOS: 35, osWindows: 15, osMac: 10},
	grpVoice:       {osPhone: 100},
	grpInfra:       {osNetdev: 60, osPrinter: 40},
	grpServers:     {osLinux: 60, osWindows: 40},
}

// host is one internal host of a site.
type host struct {
	v4, v6   schema.Addr
	mac      schema.MAC
	name     string // DHCP host name (option 12)
	clientID string // option 61, hex
	group    uint8
	os       uint8
	slot     int32  // index within its group (byGroup)
	exporter uint8  // exporter of its edge that sees its traffic
	port     uint16 // access port (1..48) on that exporter
	edge     int32  // global edge index
	bytesMul float32
}

func addr4(a, b, c, d byte) schema.Addr {
	return schema.Addr{10: 0xff, 11: 0xff, 12: a, 13: b, 14: c, 15: d}
}

// addr6 builds prefix:…:hi:lo from a 4-group (64-bit) prefix.
func addr6(prefix [4]uint16, iid uint64) schema.Addr {
	var a schema.Addr
	for i, p := range prefix {
		a[2*i], a[2*i+1] = byte(p>>8), byte(p)
	}
	for i := range 8 {
		a[8+i] = byte(iid >> (56 - 8*i))
	}
	return a
}

// siteV4 returns the address of host slot i of group g at site s:
// 10.(16s+g).(i/200).(10+i%200); slot -1 is the group's gateway .0.1.
func siteV4(s, g, i int) schema.Addr {
	if i < 0 {
		return addr4(10, byte(16*s+g), 0, 1)
	}
	return addr4(10, byte(16*s+g), byte(i/200), byte(10+i%200))
}

// siteV6 is the IPv6 counterpart: 2001:db8:s:g::(slot+0x10).
func siteV6(s, g, i int) schema.Addr {
	return addr6([4]uint16{0x2001, 0x0db8, uint16(s), uint16(g)}, uint64(i+0x10))
}

// buildHosts makes a site's host table, groups in order, with per-host
// traits drawn from g.
func buildHosts(g *rng, s, n int, siteName string) ([]host, [numGroups][]int32) {
	var byGroup [numGroups][]int32
	hosts := make([]host, 0, n)
	counts := [numGroups]int{}
	left := n
	for gi := range numGroups {
		c := int(math.Round(groupDefs[gi].share * float64(n)))
		if gi == numGroups-1 || c > left {
			c = left
		}
		counts[gi] = max(c, 0)
		left -= counts[gi]
	}
	var osAlias [numGroups]alias
	for gi := range numGroups {
		osAlias[gi] = newAlias(osMix[gi][:])
	}
	for gi := range numGroups {
		for i := range counts[gi] {
			os := osAlias[gi].pick(g)
			p := &osProfiles[os]
			oui := p.ouis[g.intn(len(p.ouis))]
			mac := schema.MAC{oui[0], oui[1], oui[2], byte(g.intn(256)), byte(g.intn(256)), byte(g.intn(256))}
			h := host{
				v4: siteV4(s, gi, i), v6: siteV6(s, gi, i), mac: mac,
				group: uint8(gi), os: uint8(os), slot: int32(i),
				bytesMul: float32(math.Min(g.lognormal(0, 0.8), 20)),
			}
			h.name = hostName(g, os, gi, i, siteName, mac)
			if p.clientID {
				h.clientID = fmt.Sprintf("01%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
			}
			byGroup[gi] = append(byGroup[gi], int32(len(hosts)))
			hosts = append(hosts, h)
		}
	}
	return hosts, byGroup
}

var (
	firstNames   = []string{"Anna", "Ben", "Chen", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jun", "Karim", "Lea", "Marco", "Nina", "Omar", "Paula", "Quentin", "Rosa", "Sami", "Tom", "Uma", "Victor", "Wei", "Yara", "Zoe"}
	androidNames = []string{"Galaxy-S23", "Galaxy-A54-5G", "Pixel-7", "Pixel-8-Pro", "Redmi-Note-12", "OnePlus-11", "HUAWEI-P60", "Galaxy-S24-Ultra"}
	alnum        = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
)

func hostName(g *rng, os, grp, i int, site string, mac schema.MAC) string {
	switch os {
	case osWindows:
		if grp == grpFinance {
			return fmt.Sprintf("FIN-LT-%04d", i+1)
		}
		if grp == grpServers {
			return fmt.Sprintf("%s-WSRV%02d", upper(site), i+1)
		}
		b := []byte("DESKTOP-")
		for range 7 {
			b = append(b, alnum[g.intn(len(alnum))])
		}
		return string(b)
	case osMac:
		return firstNames[g.intn(len(firstNames))] + "s-MacBook-Pro"
	case osLinux:
		if grp == grpServers {
			return fmt.Sprintf("%s-srv%03d", site, i+1)
		}
		return fmt.Sprintf("eng-ws-%03d", i+1)
	case osAndroid:
		return androidNames[g.intn(len(androidNames))]
	case osIOS:
		if g.chance(0.4) {
			return "iPhone"
		}
		return firstNames[g.intn(len(firstNames))] + "s-iPhone"
	case osPhone:
		return fmt.Sprintf("SEP%02X%02X%02X%02X%02X%02X", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
	case osPrinter:
		return fmt.Sprintf("HP%02X%02X%02X", mac[3], mac[4], mac[5])
	default:
		return fmt.Sprintf("AP-%s-%02d", upper(site), i+1)
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// provider is an Internet destination network: real prefixes of large
// content and cloud providers plus transit networks for the long tail.
type provider struct {
	as     uint32
	v4     [4]byte
	v4bits int
	v6     [4]uint16 // /32 or /48 prefix, low groups randomised
	weight float64
}

var providers = []provider{
	{15169, [4]byte{142, 250, 0, 0}, 15, [4]uint16{0x2a00, 0x1450}, 18}, // Google
	{13335, [4]byte{104, 16, 0, 0}, 12, [4]uint16{0x2606, 0x4700}, 12},  // Cloudflare
	{16509, [4]byte{52, 0, 0, 0}, 10, [4]uint16{0x2600, 0x1f18}, 14},    // Amazon
	{8075, [4]byte{13, 64, 0, 0}, 11, [4]uint16{0x2603, 0x1030}, 13},    // Microsoft
	{32934, [4]byte{157, 240, 0, 0}, 16, [4]uint16{0x2a03, 0x2880}, 5},  // Meta
	{20940, [4]byte{23, 32, 0, 0}, 11, [4]uint16{0x2a02, 0x26f0}, 7},    // Akamai
	{54113, [4]byte{151, 101, 0, 0}, 16, [4]uint16{0x2a04, 0x4e42}, 4},  // Fastly
	{714, [4]byte{17, 0, 0, 0}, 8, [4]uint16{0x2620, 0x0149}, 4},        // Apple
	{2906, [4]byte{45, 57, 0, 0}, 17, [4]uint16{0x2a00, 0x86c0}, 3},     // Netflix
	{14061, [4]byte{159, 65, 0, 0}, 16, [4]uint16{0x2604, 0xa880}, 2},   // DigitalOcean
	{24940, [4]byte{88, 198, 0, 0}, 16, [4]uint16{0x2a01, 0x04f8}, 2},   // Hetzner
	{16276, [4]byte{51, 68, 0, 0}, 16, [4]uint16{0x2001, 0x41d0}, 2},    // OVH
	{3356, [4]byte{4, 0, 0, 0}, 9, [4]uint16{0x2001, 0x1900}, 3},        // Lumen
	{174, [4]byte{38, 0, 0, 0}, 8, [4]uint16{0x2001, 0x0550}, 2},        // Cogent
	{3320, [4]byte{80, 128, 0, 0}, 11, [4]uint16{0x2003, 0x00de}, 2},    // Deutsche Telekom
	{4134, [4]byte{58, 32, 0, 0}, 11, [4]uint16{0x240e, 0x0000}, 3},     // China Telecom
	{7922, [4]byte{73, 0, 0, 0}, 8, [4]uint16{0x2601, 0x0000}, 2},       // Comcast
	{45090, [4]byte{119, 28, 0, 0}, 14, [4]uint16{0x240d, 0xc000}, 2},   // Tencent
	{37963, [4]byte{47, 96, 0, 0}, 11, [4]uint16{0x2408, 0x4000}, 2},    // Alibaba
	{6939, [4]byte{216, 218, 128, 0}, 17, [4]uint16{0x2001, 0x0470}, 1}, // Hurricane Electric
}

// extHost is one Internet host: its address and origin AS.
type extHost struct {
	addr schema.Addr
	as   uint32
}

// buildExternal makes n external hosts, about one in five IPv6, each in a
// provider prefix chosen by weight. It returns the IPv4 and IPv6 tables.
func buildExternal(g *rng, n int) (v4, v6 []extHost) {
	w := make([]float64, len(providers))
	for i, p := range providers {
		w[i] = p.weight
	}
	pa := newAlias(w)
	n6 := n / 5
	for i := range n {
		p := &providers[pa.pick(g)]
		if i < n6 {
			pre := p.v6
			pre[2], pre[3] = uint16(g.intn(0x10000)), uint16(g.intn(64))
			iid := uint64(g.intn(0x10000))
			if g.chance(0.3) {
				iid = g.u64()
			}
			v6 = append(v6, extHost{addr6(pre, iid), p.as})
			continue
		}
		base := uint32(p.v4[0])<<24 | uint32(p.v4[1])<<16 | uint32(p.v4[2])<<8 | uint32(p.v4[3])
		a := base | uint32(g.u64())&(1<<(32-p.v4bits)-1)
		if a&0xff == 0 || a&0xff == 255 {
			a ^= 1
		}
		v4 = append(v4, extHost{addr4(byte(a>>24), byte(a>>16), byte(a>>8), byte(a)), p.as})
	}
	return v4, v6
}

// Well-known external services that are not Zipf-drawn.
var (
	publicDNS4 = []extHost{{addr4(8, 8, 8, 8), 15169}, {addr4(8, 8, 4, 4), 15169}, {addr4(1, 1, 1, 1), 13335}, {addr4(9, 9, 9, 9), 19281}}
	publicDNS6 = []extHost{{schema.MustParseAddr("2001:4860:4860::8888"), 15169}, {schema.MustParseAddr("2606:4700:4700::1111"), 13335}}
	publicNTP4 = []extHost{{addr4(162, 159, 200, 1), 13335}, {addr4(17, 253, 34, 125), 714}, {addr4(216, 239, 35, 0), 15169}}
	publicNTP6 = []extHost{{schema.MustParseAddr("2606:4700:f1::1"), 13335}, {schema.MustParseAddr("2001:4860:4806::"), 15169}}
)

// Addresses move between machines: the guest pool and the engineering
// floor's hot desks (where laptops change desks, and ports, at lunch) are
// reshuffled every swapEpoch (at 00:00 and 12:00 UTC), when about a third
// of the pairs of their DHCP clients (slots 2k and 2k+1 of the group)
// trade addresses for the next epoch. Both generators follow addrAt — the DHCP stream
// moves a bound client at the boundary (dhcpGen.move), the flows use the
// address of the time — so an address held by one guest in the morning
// is held by another in the afternoon, and each half's flows carry the
// holder's traffic.
const (
	swapEpoch   = 12 * hourUs
	swapPercent = 35
)

// addrAt is the IPv4 address h holds at t.
func (st *site) addrAt(seed int64, h *host, t int64) schema.Addr {
	if h.group != grpGuest && h.group != grpEngineering || h.slot^1 >= st.dhcpSlots[h.group] || h.slot >= st.dhcpSlots[h.group] {
		return h.v4
	}
	x := mix(uint64(seed) ^ 0x6775657374) // "guest"
	x = mix(x ^ uint64(st.index)<<8 ^ uint64(h.group))
	x = mix(x ^ uint64(t/swapEpoch))
	x = mix(x ^ uint64(h.slot/2))
	if x%100 >= swapPercent {
		return h.v4
	}
	return siteV4(st.index, int(h.group), int(h.slot^1))
}
