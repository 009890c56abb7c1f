package gen

import (
	"encoding/hex"
	"math"
	"strconv"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// Values DHCP messages carry that do not vary per client.
const (
	cloudDomain  = "oasis.h3c.com" // option 253 given to cloud-managed devices
	informParams = "1,15,3,6,44,46,47,31,33,121,249,43,252"
	bootpRequest = 1
	bootpReply   = 2
	hourUs       = int64(time.Hour / time.Microsecond)
	dayUs        = 24 * hourUs
	secondUs     = int64(time.Second / time.Microsecond)
)

var (
	broadcast4 = addr4(255, 255, 255, 255)
	zero4      = addr4(0, 0, 0, 0)
	rogueAddr  = addr4(192, 168, 1, 1)
)

// What a DHCP client does at its next scheduled time.
const (
	actArrive    = iota // comes online: INIT-REBOOT or DISCOVER
	actRenew            // T1: unicast REQUEST to its server
	actRenewLost        // T1: unicast REQUEST the server does not answer
	actRebind           // T2: broadcast REQUEST after the server stayed silent
	actDepart           // goes offline: RELEASE or silence
)

// dhcpClient is one DHCP client's lease state, carried from hour to hour.
type dhcpClient struct {
	h          *host
	slot       int // host index within its group
	alwaysOn   bool
	relayed    bool
	sendsName  bool
	device     string
	port       string // access port the client is attached to
	circuitID  string // option 82 sub-option 1
	remoteID   string // option 82 sub-option 2
	gw         schema.Addr
	server     schema.Addr
	ip         schema.Addr // current or last leased address
	leaseStart int64
	lease      uint32
	bound      bool
	next       int64
	action     uint8
}

// dhcpGen simulates the lease lifecycles of one edge's DHCP clients.
type dhcpGen struct {
	ed       *edge
	clients  []dhcpClient
	rows     []schema.DHCPEvent
	pending  []schema.DHCPEvent // messages that fall after the current hour
	carry    []schema.DHCPEvent
	hi       int64
	rogueEnd int64 // a rogue server answers DISCOVERs until then
	rogueIf  string
	rogueGrp uint8   // the VLAN (group) the rogue is plugged into
	rogueP   float64 // chance per hour that a rogue episode starts
	seed     int64
	g        rng
}

func newDHCPGen(ed *edge, cfg *Config, start int64) *dhcpGen {
	d := &dhcpGen{ed: ed, seed: cfg.Seed, g: newRNG(cfg.Seed, streamDHCP, uint64(ed.index)), rogueP: cfg.RoguesPerWeek / 168}
	st := ed.site
	g := &d.g
	for _, hi := range ed.dhcp {
		h := &st.hosts[hi]
		def := &groupDefs[h.group]
		x := &ed.exporters[h.exporter]
		c := dhcpClient{h: h, relayed: def.relayed, lease: def.lease, device: x.name, ip: h.v4,
			alwaysOn: h.group == grpVoice || h.group == grpInfra, sendsName: !g.chance(0.08)}
		for i, k := range st.byGroup[h.group] {
			if k == hi {
				c.slot = i
			}
		}
		port := strconv.Itoa(int(h.port))
		c.port = "GigabitEthernet1/0/" + port
		c.gw = siteV4(st.index, int(h.group), -1)
		c.server = st.dhcpSrv
		if c.relayed {
			c.circuitID = "Vlan" + strconv.Itoa(int(def.vlan)) + "-GigabitEthernet1/0/" + port
			c.remoteID = x.name
		} else {
			c.server = c.gw // the guest router serves its own pool
		}
		d.initClient(&c, start)
		d.clients = append(d.clients, c)
	}
	return d
}

// initClient sets the state a client is in at Start: always-on devices
// and present office workers hold a lease part-way to its renewal.
func (d *dhcpGen) initClient(c *dhcpClient, start int64) {
	g := &d.g
	c.ip = d.addrAt(c, start)
	t := time.UnixMicro(start).UTC()
	hourOfDay := t.Hour()
	weekday := t.Weekday() != time.Saturday && t.Weekday() != time.Sunday
	present := c.alwaysOn || (weekday && hourOfDay >= 8 && hourOfDay < 17 && g.chance(0.85))
	if c.h.group == grpGuest {
		present = hourOfDay >= 9 && hourOfDay < 18 && g.chance(0.3)
	}
	if !present {
		c.leaseStart = start - int64(c.lease)*secondUs - hourUs
		c.next, c.action = d.nextArrival(c, start), actArrive
		return
	}
	c.bound = true
	c.leaseStart = start - int64(g.float()*float64(c.lease)/2*float64(secondUs))
	c.next, c.action = d.afterBound(c, start)
}

// nextArrival returns when an absent client next comes online after t.
func (d *dhcpGen) nextArrival(c *dhcpClient, t int64) int64 {
	g := &d.g
	if c.alwaysOn { // back after a reboot or power cut
		return t + int64(30+g.intn(600))*secondUs
	}
	if c.h.group == grpGuest {
		a := t + int64(g.expo(36*3600))*secondUs
		day := a - a%dayUs
		return max(day+int64(9*3600+g.intn(9*3600))*secondUs, t+60*secondUs)
	}
	day := t - t%dayUs
	if t-day > 7*hourUs {
		day += dayUs
	}
	for {
		wd := time.UnixMicro(day).UTC().Weekday()
		if (wd != time.Saturday && wd != time.Sunday) || g.chance(0.12) {
			break
		}
		day += dayUs
	}
	at := day + int64((8+0.8*g.norm())*3600)*secondUs
	return max(at, t+secondUs)
}

// afterBound schedules what a bound client does next: renew at T1, or
// leave first.
func (d *dhcpGen) afterBound(c *dhcpClient, now int64) (int64, uint8) {
	g := &d.g
	t1 := c.leaseStart + int64(c.lease)*secondUs/2
	var leave int64
	switch {
	case c.alwaysOn:
		leave = now + int64(g.expo(14*86400))*secondUs
	case c.h.group == grpGuest:
		leave = now + int64(g.lognormal(math.Log(5400), 0.6))*secondUs
	default:
		day := now - now%dayUs
		leave = day + int64((17.5+g.norm())*3600)*secondUs
		if leave <= now {
			leave = now + int64(g.expo(3600))*secondUs
		}
	}
	if leave < t1 {
		return leave, actDepart
	}
	if c.leaseStart+int64(c.lease)*secondUs*7/8 < leave && g.chance(0.015) {
		return t1, actRenewLost // the server will not answer until T2
	}
	return t1, actRenew
}

// hour returns the messages seen in [lo, hi) µs.
func (d *dhcpGen) hour(seed int64, abs, lo, hi int64) []schema.DHCPEvent {
	g := &d.g
	g.reseed(seed, streamDHCP, uint64(d.ed.index), uint64(abs))
	d.hi = hi
	d.rows = d.rows[:0]
	d.carry, d.pending = d.pending, d.carry[:0]
	for _, e := range d.carry {
		d.put(e)
	}
	// Rogue servers are plugged in by people: mostly in working hours.
	bias := 0.3
	if h := time.UnixMicro(lo).UTC().Hour(); h >= 8 && h < 18 {
		bias = 2.1
	}
	if lo >= d.rogueEnd && g.chance(bias*d.rogueP*float64(hi-lo)/float64(hourUs)) {
		d.rogueEnd = lo + int64(3600+g.intn(3*3600))*secondUs
		d.rogueIf = "GigabitEthernet1/0/" + strconv.Itoa(1+g.intn(48))
		d.rogueGrp = [...]uint8{grpGuest, grpGuest, grpGuest, grpEngineering, grpFinance}[g.intn(5)]
	}
	// The guest pool's reshuffle (addrAt): a bound client whose address
	// moves at the next boundary is moved just before it.
	b := (lo/swapEpoch + 1) * swapEpoch
	moving := b-moveLead >= lo && b-moveLead < hi
	for i := range d.clients {
		c := &d.clients[i]
		if moving && d.addrAt(c, b-1) != d.addrAt(c, b) {
			for c.next < b-moveLead {
				d.act(c, max(c.next, lo))
			}
			if c.bound {
				d.move(c, b)
			}
		}
		for c.next < hi {
			d.act(c, max(c.next, lo))
		}
	}
	return d.rows
}

// addrAt is the address c's server gives it at t.
func (d *dhcpGen) addrAt(c *dhcpClient, t int64) schema.Addr { return d.ed.site.addrAt(d.seed, c.h, t) }

// moveLead is how long before a reshuffle boundary a moving client's
// exchange starts.
const moveLead = 40 * 1000

// move runs the reshuffle of a bound client at boundary b: its renewal is
// NAKed (the address is no longer its), and a DORA gets the new address,
// ACKed at b exactly, so its flows from b on carry the new address.
func (d *dhcpGen) move(c *dhcpClient, b int64) {
	xid := uint32(d.g.u64())
	e := d.base(c, b-moveLead, schema.DHCPRequest, bootpRequest, xid)
	e.CIAddr, e.Broadcast, e.SrcAddr, e.DstAddr = c.ip, false, c.ip, c.server
	e.GIAddr, e.Hops, e.CircuitID, e.RemoteID = schema.Addr{}, 0, "", ""
	d.put(e)
	n := d.base(c, b-30*1000, schema.DHCPNak, bootpReply, xid)
	n.GIAddr, n.Hops, n.CircuitID, n.RemoteID = schema.Addr{}, 0, "", ""
	n.DstAddr, n.Message = c.ip, "address reassigned"
	d.put(n)
	c.ip = d.addrAt(c, b)
	xid = uint32(d.g.u64())
	e = d.base(c, b-20*1000, schema.DHCPDiscover, bootpRequest, xid)
	d.put(e)
	d.put(d.reply(c, b-15*1000, schema.DHCPOffer, xid))
	e = d.base(c, b-5*1000, schema.DHCPRequest, bootpRequest, xid)
	e.RequestedIP, e.ServerID, e.OfferServers = c.ip, c.server, c.server.String()
	d.put(e)
	ack := d.reply(c, b, schema.DHCPAck, xid)
	ack.OfferServers = c.server.String()
	d.put(ack)
	c.bound, c.leaseStart = true, b
	c.next, c.action = d.afterBound(c, b)
}

// put files a message under this hour or, when later, the next.
func (d *dhcpGen) put(e schema.DHCPEvent) {
	if e.Time < d.hi {
		d.rows = append(d.rows, e)
	} else {
		d.pending = append(d.pending, e)
	}
}

// act runs a client's scheduled action at t.
func (d *dhcpGen) act(c *dhcpClient, t int64) {
	g := &d.g
	switch c.action {
	case actArrive:
		leaseValid := t < c.leaseStart+int64(c.lease)*secondUs
		switch {
		case !c.alwaysOn && g.chance(0.03): // back from another site: its old address is wrong here
			t = d.initReboot(c, t, siteV4((d.ed.site.index+1)%15, int(c.h.group), c.slot), true)
			t = d.dora(c, t+int64(g.between(1, 3))*secondUs)
		case leaseValid && g.chance(0.8):
			// A guest whose address went to another in the reshuffle
			// is NAKed, and starts over.
			if want := d.addrAt(c, t); c.ip != want {
				t = d.initReboot(c, t, c.ip, true)
				t = d.dora(c, t+int64(g.between(1, 3))*secondUs)
				break
			}
			t = d.initReboot(c, t, c.ip, false)
		default:
			t = d.dora(c, t)
		}
		if c.h.os == osWindows && g.chance(0.1) {
			d.inform(c, t+int64(g.between(2, 30))*secondUs)
		}
	case actRenewLost:
		e := d.base(c, t, schema.DHCPRequest, bootpRequest, uint32(g.u64()))
		e.CIAddr, e.Broadcast, e.SrcAddr, e.DstAddr = c.ip, false, c.ip, c.server
		e.GIAddr, e.Hops, e.CircuitID, e.RemoteID = schema.Addr{}, 0, "", ""
		d.put(e)
		c.next, c.action = c.leaseStart+int64(c.lease)*secondUs*7/8, actRebind
		return
	case actRenew, actRebind:
		t = d.renew(c, t, c.action == actRebind)
	case actDepart:
		if g.chance(osProfiles[c.h.os].release) {
			x := g.u64()
			e := d.base(c, t, schema.DHCPRelease, bootpRequest, uint32(x))
			e.CIAddr, e.ServerID, e.SrcAddr, e.DstAddr = c.ip, c.server, c.ip, c.server
			e.GIAddr, e.Hops, e.CircuitID, e.RemoteID = schema.Addr{}, 0, "", ""
			e.Hostname, e.ParamList, e.VendorClass = "", "", ""
			d.put(e)
			c.leaseStart = t - int64(c.lease)*secondUs // released: nothing to reboot into
		}
		c.bound = false
		c.next, c.action = d.nextArrival(c, t), actArrive
		return
	}
	c.next, c.action = d.afterBound(c, t)
}

// base fills the fields every message of a client shares.
func (d *dhcpGen) base(c *dhcpClient, t int64, typ string, op uint8, xid uint32) schema.DHCPEvent {
	h := c.h
	p := &osProfiles[h.os]
	e := schema.DHCPEvent{
		Time: t, Edge: d.ed.id, Device: c.device, MsgType: typ, Op: op, XID: xid,
		CHAddr: h.mac, VLAN: groupDefs[h.group].vlan, Interface: c.port,
	}
	if op == bootpRequest {
		if p.clientID {
			e.ClientID = h.clientID
		}
		if c.sendsName {
			e.Hostname = h.name
			e.ClientFQDN = h.name + ".corp.example" // option 81, for dynamic DNS
		}
		e.ParamList, e.VendorClass = p.paramList, p.vendorClass
		e.SrcAddr, e.DstAddr = zero4, broadcast4
		e.Broadcast = p.broadcast
		if c.relayed { // seen as the relay forwards it to the server
			e.Hops, e.GIAddr, e.CircuitID, e.RemoteID = 1, c.gw, c.circuitID, c.remoteID
			e.SrcAddr, e.DstAddr = c.gw, c.server
		}
		return e
	}
	e.Trusted = true
	e.ClientID = "" // servers echo option 61 (RFC 6842): reply sets it
	e.Interface = d.ed.exporters[h.exporter].uplinkName
	e.ServerID, e.SrcAddr, e.DstAddr = c.server, c.server, broadcast4
	if !p.broadcast {
		e.DstAddr = c.ip
	}
	if c.relayed {
		e.Hops, e.GIAddr, e.CircuitID, e.RemoteID = 1, c.gw, c.circuitID, c.remoteID
		e.DstAddr = c.gw
	}
	return e
}

// reply builds the server's OFFER or ACK giving c.ip.
func (d *dhcpGen) reply(c *dhcpClient, t int64, typ string, xid uint32) schema.DHCPEvent {
	e := d.base(c, t, typ, bootpReply, xid)
	e.YIAddr, e.LeaseTime = c.ip, c.lease
	// The server echoes the client id (RFC 6842) and the host name the
	// client sent (option 12, as ISC dhcpd and Kea do): the binding the
	// edge derives from the ACK names its host.
	if osProfiles[c.h.os].clientID {
		e.ClientID = c.h.clientID
	}
	if c.sendsName {
		e.Hostname = c.h.name
	}
	// What every reply configures: options 1, 3, 6, 15, 58 and 59.
	e.SubnetMask, e.DNSServers, e.DomainName = addr4(255, 255, 255, 0), "10.0.0.53,10.0.0.54", "corp.example"
	e.RenewalTime, e.RebindTime = c.lease/2, c.lease/8*7
	e.Routers = c.server.String()
	if c.relayed {
		// Relayed subnets route through their relay and get a search list
		// and routes (options 119, 121); the relay's link selection
		// sub-option (5) comes back in option 82.
		e.Routers = c.gw.String()
		e.DomainSearch = "corp.example,example"
		e.ClasslessRoutes = "10.0.0.0/8 via " + c.gw.String()
		e.RelayOther = "5=" + hex.EncodeToString(c.gw.Netip().AsSlice())
	}
	switch c.h.os {
	case osNetdev: // provisioning: TFTP server and configuration file
		e.Option253 = cloudDomain
		e.SName, e.File = "tftp.corp.example", "netdev.cfg"
	case osPhone: // the phones' server moves options into the file field
		e.Overload = 1
	}
	if c.h.os == osNetdev || c.h.os == osPhone {
		e.SIAddr = c.server // TFTP / provisioning server
	}
	return e
}

// rogueSees reports whether a rogue server is up at t in c's VLAN, where
// it hears the client's broadcasts.
func (d *dhcpGen) rogueSees(c *dhcpClient, t int64) bool {
	return t < d.rogueEnd && c.h.group == d.rogueGrp
}

// latency is a server's (or relay round trip's) answer time in µs.
func (d *dhcpGen) latency(c *dhcpClient) int64 {
	l := int64(d.g.lognormal(8, 0.8)) // ~3 ms
	if c.relayed {
		l += int64(500 + d.g.intn(3000))
	}
	return l
}

// dora runs DISCOVER, OFFER, REQUEST, ACK (or a DECLINE after an address
// conflict, then again) from t and returns when it ended.
func (d *dhcpGen) dora(c *dhcpClient, t int64) int64 {
	g := &d.g
	for attempt := 0; ; attempt++ {
		xid := uint32(g.u64())
		secs := uint16(g.intn(4))
		e := d.base(c, t, schema.DHCPDiscover, bootpRequest, xid)
		e.Secs = secs
		if attempt == 0 && c.ip != d.addrAt(c, t) || g.chance(0.6) {
			e.RequestedIP = c.ip
		}
		d.put(e)
		if attempt > 0 { // after a conflict the server hands out a spare address
			c.ip = siteV4(d.ed.site.index, int(c.h.group), 40000+g.intn(8000))
		} else {
			c.ip = d.addrAt(c, t)
		}
		t += d.latency(c)
		d.put(d.reply(c, t, schema.DHCPOffer, xid))
		// What the edge's snooping records: every server that OFFERed.
		offers := c.server.String()
		if d.rogueSees(c, t) {
			offers += "," + rogueAddr.String()
			r := d.base(c, t+int64(g.intn(2000)), schema.DHCPOffer, bootpReply, xid)
			r.YIAddr, r.LeaseTime = addr4(192, 168, 1, byte(100+g.intn(100))), 86400
			r.ServerID, r.SrcAddr, r.DstAddr = rogueAddr, rogueAddr, broadcast4
			r.Hops, r.GIAddr, r.CircuitID, r.RemoteID = 0, schema.Addr{}, "", ""
			r.Interface, r.Trusted, r.RogueServer, r.Signals = d.rogueIf, false, true, "rogue_server"
			d.put(r)
		}
		t += int64(5000 + g.intn(200000))
		e = d.base(c, t, schema.DHCPRequest, bootpRequest, xid)
		e.Secs, e.RequestedIP, e.ServerID, e.OfferServers = secs+uint16(g.intn(2)), c.ip, c.server, offers
		d.put(e)
		t += d.latency(c)
		ack := d.reply(c, t, schema.DHCPAck, xid)
		ack.OfferServers = offers
		d.put(ack)
		c.bound, c.leaseStart = true, t
		if !g.chance(0.004) || attempt > 0 {
			return t
		}
		// The ARP probe found the address in use.
		t += int64(g.between(1000, 2000)) * 1000
		e = d.base(c, t, schema.DHCPDecline, bootpRequest, xid)
		e.RequestedIP, e.ServerID = c.ip, c.server
		e.Hostname, e.ParamList, e.VendorClass, e.ClientFQDN = "", "", "", ""
		e.Message = "address in use (ARP probe answered)"
		d.put(e)
		c.bound = false
		t += 10 * secondUs
	}
}

// initReboot runs the INIT-REBOOT exchange: a broadcast REQUEST for the
// remembered address, ACKed — or NAKed when the address belongs to another
// subnet (wrong is true). It returns when it ended.
func (d *dhcpGen) initReboot(c *dhcpClient, t int64, ip schema.Addr, wrong bool) int64 {
	g := &d.g
	xid := uint32(g.u64())
	e := d.base(c, t, schema.DHCPRequest, bootpRequest, xid)
	e.RequestedIP = ip
	d.put(e)
	if d.rogueSees(c, t) { // the rogue NAKs what it did not lease
		r := d.base(c, t+int64(d.g.intn(2000)), schema.DHCPNak, bootpReply, xid)
		r.Message = "wrong address"
		r.ServerID, r.SrcAddr, r.DstAddr = rogueAddr, rogueAddr, broadcast4
		r.Interface, r.Trusted, r.RogueServer = d.rogueIf, false, true
		d.put(r)
	}
	t += d.latency(c)
	if wrong {
		n := d.base(c, t, schema.DHCPNak, bootpReply, xid)
		n.DstAddr, n.Message = broadcast4, "requested address not available"
		if c.relayed {
			n.DstAddr = c.gw
		}
		d.put(n)
		c.bound = false
		return t
	}
	d.put(d.reply(c, t, schema.DHCPAck, xid))
	c.bound, c.leaseStart = true, t
	return t
}

// renew runs a renewal at T1 (unicast to the server) or a rebinding at T2
// (broadcast, after the unanswered T1 attempts); rarely the server NAKs and
// the client starts over.
func (d *dhcpGen) renew(c *dhcpClient, t int64, rebind bool) int64 {
	g := &d.g
	xid := uint32(g.u64())
	e := d.base(c, t, schema.DHCPRequest, bootpRequest, xid)
	e.CIAddr = c.ip
	e.Broadcast = false
	e.GIAddr, e.Hops, e.CircuitID, e.RemoteID = schema.Addr{}, 0, "", ""
	e.SrcAddr, e.DstAddr = c.ip, c.server
	if rebind {
		e.DstAddr = broadcast4
		e.Secs = uint16(min(int64(c.lease)*3/8, 65535))
	}
	d.put(e)
	t += d.latency(c)
	if g.chance(0.001) {
		n := d.base(c, t, schema.DHCPNak, bootpReply, xid)
		n.GIAddr, n.Hops, n.CircuitID, n.RemoteID = schema.Addr{}, 0, "", ""
		n.DstAddr = c.ip
		d.put(n)
		c.bound = false
		return d.dora(c, t+int64(g.between(1, 4))*secondUs)
	}
	a := d.reply(c, t, schema.DHCPAck, xid)
	a.CIAddr, a.DstAddr = c.ip, c.ip
	a.GIAddr, a.Hops, a.CircuitID, a.RemoteID = schema.Addr{}, 0, "", ""
	d.put(a)
	c.leaseStart = t
	return t
}

// inform sends DHCPINFORM from a configured address and its ACK.
func (d *dhcpGen) inform(c *dhcpClient, t int64) {
	xid := uint32(d.g.u64())
	e := d.base(c, t, schema.DHCPInform, bootpRequest, xid)
	e.CIAddr, e.ParamList, e.SrcAddr, e.DstAddr = c.ip, informParams, c.ip, broadcast4
	e.GIAddr, e.Hops, e.CircuitID, e.RemoteID = schema.Addr{}, 0, "", ""
	d.put(e)
	a := d.base(c, t+d.latency(c), schema.DHCPAck, bootpReply, xid)
	a.CIAddr, a.DstAddr = c.ip, c.ip
	a.GIAddr, a.Hops, a.CircuitID, a.RemoteID = schema.Addr{}, 0, "", ""
	d.put(a)
}
