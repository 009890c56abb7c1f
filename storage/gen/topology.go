package gen

import (
	"fmt"
	"strconv"

	"github.com/flowlake/flowlake/storage/schema"
)

var siteNames = []string{"hq", "dc", "branch-a", "branch-b", "branch-c", "lab", "warehouse", "store-1", "store-2", "store-3", "store-4", "plant", "campus", "annex", "remote"}

// site is one location: its hosts by group and its shared services.
type site struct {
	index     int
	name      string
	hosts     []host
	byGroup   [numGroups][]int32
	servers   alias // Zipf over byGroup[grpServers]
	gwMAC     schema.MAC
	wanHop4   schema.Addr // ISP next hop
	wanHop6   schema.Addr
	dhcpSrv   schema.Addr      // the site's DHCP server (a server host)
	asn       uint32           // the site's own AS seen on inbound flows (0: none)
	resolvers [2]int32         // host indexes of the DNS resolvers
	dhcpSlots [numGroups]int32 // slots [0, n) of each group are DHCP clients (addrAt moves some)
}

// Exporter kinds: how a device exports flows decides which optional
// columns it fills and how its records look.
const (
	kindIPFIX    = iota // switch, unsampled, MACs and VLANs, no next hop
	kindV9              // router, next hop and AS, no MACs
	kindV5              // router, next hop and AS, no MACs/VLAN, named by address
	kindSFlow           // switch, 1:1000 packet sampling, MACs, duration 0
	kindIPFIXWAN        // WAN router, 1:100 sampled, everything
)

// exporterPalette is the order in which exporter kinds are assigned; two of
// the default nine exporters sample.
var exporterPalette = []int{kindIPFIX, kindV9, kindIPFIX, kindV5, kindSFlow, kindIPFIX, kindV9, kindIPFIXWAN, kindIPFIX}

// exporter is one flow-exporting device behind an edge.
type exporter struct {
	name          string // device column
	kind          int
	sampling      uint32
	activeTimeout int64 // µs
	hasMAC        bool
	hasNextHop    bool
	hasVLAN       bool
	hasAS         bool
	direction     uint8
	mgmt          schema.Addr
	accessName    [49]string // switch ports 1..48
	accessIdx     [49]uint32
	subName       [numGroups]string // router sub-interfaces per group
	subIdx        [numGroups]uint32
	uplinkName    string
	uplinkIdx     uint32
	router        bool
}

// lan returns the interface a host's traffic enters through.
func (x *exporter) lan(h *host) (uint32, string) {
	if x.router {
		return x.subIdx[h.group], x.subName[h.group]
	}
	return x.accessIdx[h.port], x.accessName[h.port]
}

func newExporter(siteName string, s, e, j, kind int) exporter {
	x := exporter{kind: kind, sampling: 1, activeTimeout: 1800e6}
	x.mgmt = addr4(10, byte(16*s+grpInfra), 255, byte(10+e*16+j))
	switch kind {
	case kindIPFIX:
		x.name = fmt.Sprintf("%s-sw%d", siteName, j+1)
		x.hasMAC, x.hasVLAN = true, true
		x.activeTimeout = 60e6
	case kindV9:
		x.name = fmt.Sprintf("%s-rtr%d", siteName, j+1)
		x.hasNextHop, x.hasAS, x.router = true, true, true
	case kindV5:
		x.name = x.mgmt.String()
		x.hasNextHop, x.hasAS, x.router = true, true, true
	case kindSFlow:
		x.name = fmt.Sprintf("%s-dcsw%d", siteName, j+1)
		x.hasMAC, x.hasVLAN = true, true
		x.sampling = 1000
		x.activeTimeout = 0
	case kindIPFIXWAN:
		x.name = fmt.Sprintf("%s-fw%d", siteName, j+1)
		x.hasMAC, x.hasVLAN, x.hasNextHop, x.hasAS, x.router = true, true, true, true, true
		x.sampling = 100
		x.direction = 1
		x.activeTimeout = 60e6
	}
	if x.router {
		x.uplinkName, x.uplinkIdx = "GigabitEthernet0/0/0", 1
		for g := range numGroups {
			v := strconv.Itoa(int(groupDefs[g].vlan))
			x.subName[g] = "GigabitEthernet0/0/1." + v
			x.subIdx[g] = uint32(100 + groupDefs[g].vlan)
		}
		return x
	}
	x.uplinkName, x.uplinkIdx = "Ten-GigabitEthernet1/0/49", 49
	for p := 1; p <= 48; p++ {
		x.accessName[p] = "GigabitEthernet1/0/" + strconv.Itoa(p)
		x.accessIdx[p] = uint32(p)
	}
	return x
}

// edge is one edge agent: a source of rows for every dataset.
type edge struct {
	index     int
	id        string
	site      *site
	exporters []exporter
	hosts     []int32 // site host indexes whose traffic this edge sees
	clients   alias   // Zipf over hosts: who starts flows
	dhcp      []int32 // site host indexes of its DHCP clients
	cloud     []cloudDevice
}

// topology is everything New builds once; it never changes during Run.
type topology struct {
	sites []*site
	edges []*edge
	ext4  []extHost
	ext6  []extHost
	pop4  alias // Zipf over ext4
	pop6  alias // Zipf over ext6
	scan  []extHost
}

func buildTopology(cfg *Config) *topology {
	g := newRNG(cfg.Seed, streamTopology)
	t := &topology{}
	t.ext4, t.ext6 = buildExternal(&g, cfg.ExternalHosts)
	t.pop4 = newAlias(zipfWeights(&g, len(t.ext4), 1.05))
	t.pop6 = newAlias(zipfWeights(&g, len(t.ext6), 1.05))
	for range 500 { // scanners: uniform, mostly outside the popular set
		a := uint32(g.u64())
		t.scan = append(t.scan, extHost{addr4(byte(a>>24)%223+1, byte(a>>16), byte(a>>8), byte(a)|1), uint32(g.between(1000, 65000))})
	}
	for s := range cfg.Sites {
		name := siteNames[s]
		st := &site{index: s, name: name}
		st.hosts, st.byGroup = buildHosts(&g, s, cfg.HostsPerSite, name)
		srv := st.byGroup[grpServers]
		st.servers = newAlias(zipfWeights(&g, len(srv), 0.9))
		st.resolvers = [2]int32{srv[0], srv[min(1, len(srv)-1)]}
		st.dhcpSrv = st.hosts[srv[min(2, len(srv)-1)]].v4
		st.gwMAC = schema.MAC{0x3c, 0x8c, 0x40, byte(s), 0x00, 0x01}
		st.wanHop4 = addr4(203, 0, 113, byte(1+4*s))
		st.wanHop6 = addr6([4]uint16{0x2001, 0x0db8, 0xffff, uint16(s)}, 1)
		if s == 0 {
			st.asn = 64512
		}
		t.sites = append(t.sites, st)
		for e := range cfg.EdgesPerSite {
			ed := &edge{index: len(t.edges), site: st}
			ed.id = fmt.Sprintf("edge-%s-%d", name, e+1)
			for j := range cfg.ExportersPerEdge {
				kind := exporterPalette[(ed.index*cfg.ExportersPerEdge+j)%len(exporterPalette)]
				ed.exporters = append(ed.exporters, newExporter(name, s, e, j, kind))
			}
			t.edges = append(t.edges, ed)
		}
		// Hosts are dealt to the site's edges and their exporters in turn.
		var dhcpLeft = cfg.DHCPClientsPerSite
		for i := range st.hosts {
			h := &st.hosts[i]
			ed := t.edges[len(t.edges)-cfg.EdgesPerSite+i%cfg.EdgesPerSite]
			h.edge = int32(ed.index)
			h.exporter = uint8(g.intn(len(ed.exporters)))
			h.port = uint16(1 + g.intn(48))
			ed.hosts = append(ed.hosts, int32(i))
		}
		// DHCP clients: every group but servers, spread over the groups.
		for k := 0; dhcpLeft > 0 && k < len(st.hosts); k++ {
			for gi := range numGroups - 1 {
				if dhcpLeft > 0 && k < len(st.byGroup[gi]) {
					hi := st.byGroup[gi][k]
					ed := t.edges[st.hosts[hi].edge]
					ed.dhcp = append(ed.dhcp, hi)
					dhcpLeft--
					st.dhcpSlots[gi] = int32(k + 1)
				}
			}
		}
		for e := range cfg.EdgesPerSite {
			ed := t.edges[len(t.edges)-cfg.EdgesPerSite+e]
			ed.clients = newAlias(zipfWeights(&g, len(ed.hosts), 1.0))
			ed.cloud = buildCloudDevices(&g, ed, cfg.CloudDevicesPerSite/cfg.EdgesPerSite+boolInt(e < cfg.CloudDevicesPerSite%cfg.EdgesPerSite))
		}
	}
	return t
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
