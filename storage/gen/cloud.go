package gen

import (
	"fmt"
	"math"

	"github.com/flowlake/flowlake/storage/schema"
)

// Process states of `display cloud-management state`.
const (
	procDNSNotParsed = "DNS not parsed"
	procDNSParsed    = "DNS parsed"
	procNotSent      = "Message not sent"
	procSent         = "Message sent"
	procNotReceived  = "Message not received"
	procReceived     = "Message received"
)

// cloudServers are the failover order's domains and addresses: the primary
// first, then up to eight backups.
var cloudServers = []struct {
	domain string
	addr   schema.Addr
}{
	{"oasis.h3c.com", addr4(139, 217, 27, 153)},
	{"oasiscloud.h3c.com", addr4(139, 217, 8, 42)},
	{"oasis-bak1.h3c.com", addr4(40, 73, 105, 18)},
	{"oasis-bak2.h3c.com", addr4(52, 130, 84, 7)},
	{"oasis-bak3.h3c.com", addr4(52, 130, 84, 8)},
	{"oasis-bak4.h3c.com", addr4(40, 73, 105, 19)},
	{"oasis-bak5.h3c.com", addr4(139, 217, 8, 43)},
	{"oasis-bak6.h3c.com", addr4(139, 217, 27, 154)},
	{"oasis-bak7.h3c.com", addr4(52, 130, 84, 9)},
}

// downWeights weighs schema.CloudDownReasons(): keepalive loss and socket
// errors dominate, memory alarms are rare.
var downWeights = []float64{8, 22, 6, 12, 25, 6, 6, 10, 2}

// downDetails are the details some down reasons carry; the rest show N/A.
var downDetails = map[string][]string{
	"Socket connection error":                    {"ssl error syscall", "ssl error zero return", "ssl error read"},
	"Received websocket close packet from cloud": {"close code 1000", "close code 1001", "close code 1011"},
}

// failureWeights weighs schema.CloudFailureReasons().
var failureWeights = []float64{15, 30, 5, 3, 2, 2, 3, 2, 2, 2, 2, 3, 2, 4, 8, 3, 2}

// failureStates maps each failure reason to the states the display shows
// with it: connection state, device state, process state.
var failureStates = [][3]string{
	{schema.CloudUnconnected, "Connecting", procDNSNotParsed},
	{schema.CloudUnconnected, "Connecting", procDNSParsed},
	{schema.CloudUnconnected, "Connecting", procDNSParsed},
	{schema.CloudRequest, "Request_CAS_url", procNotSent},
	{schema.CloudRequest, "Request_CAS_TGT", procNotSent},
	{schema.CloudRequest, "Request_CAS_ST", procNotSent},
	{schema.CloudRequest, "Request_cloud_auth", procNotSent},
	{schema.CloudRequest, "Register", procNotSent},
	{schema.CloudRequest, "Request_CAS_url", procReceived},
	{schema.CloudRequest, "Request_CAS_TGT", procReceived},
	{schema.CloudRequest, "Request_CAS_ST", procReceived},
	{schema.CloudRequest, "Request_cloud_auth", procReceived},
	{schema.CloudRequest, "Register", procReceived},
	{schema.CloudRequest, "Request", procNotSent},
	{schema.CloudRequest, "Request", procNotReceived},
	{schema.CloudRequest, "Request", procNotSent},
	{schema.CloudRequest, "Request", procReceived},
}

var (
	reportFailures    = []string{"SSL sending failure", "Tunnel is not ready", "SSL sending failure", "Tunnel socket is invalid", "Tunnel is being deleted", "Failed to create packet buffer", "Failed to convert json to string"}
	reportIncompletes = []string{"Socket buffer is full", "Socket buffer is full", "Interrupted system call"}
)

// cloudDevice is a cloud-managed device's fixed traits.
type cloudDevice struct {
	serial  string
	servers int // primary plus backups configured (1..4)
	flappy  bool
}

func buildCloudDevices(g *rng, ed *edge, n int) []cloudDevice {
	var out []cloudDevice
	for i := range n {
		d := cloudDevice{
			serial:  fmt.Sprintf("219801A%c%c%c8%03dQ%05d", alnum[g.intn(24)], alnum[g.intn(24)], alnum[24+g.intn(10)], 200+g.intn(100), ed.index*1000+i*37+g.intn(30)),
			servers: 1 + g.intn(4), // most configure a few backups, some all eight
			flappy:  g.chance(0.25),
		}
		if g.chance(0.1) {
			d.servers = len(cloudServers)
		}
		out = append(out, d)
	}
	return out
}

// cloudState is a device's connection state, carried from hour to hour.
type cloudState struct {
	row      schema.CloudConn // the display as it stands
	up       bool
	nextAt   int64 // next transition (down, or the next connection attempt)
	obsAt    int64 // next periodic sample
	attempts int   // failed attempts left in the current outage
	failures int   // consecutive failures on the current server
}

// cloudGen simulates the cloud connections of one edge's devices.
type cloudGen struct {
	ed       *edge
	devs     []cloudDevice
	st       []cloudState
	interval int64
	uptime   float64 // µs
	rows     []schema.CloudConn
	down     alias
	fail     alias
	g        rng
}

func newCloudGen(ed *edge, cfg *Config, start int64) *cloudGen {
	c := &cloudGen{ed: ed, devs: ed.cloud, interval: cfg.CloudInterval.Microseconds(),
		uptime: float64(cfg.CloudMeanUptime.Microseconds()), down: newAlias(downWeights),
		fail: newAlias(failureWeights), g: newRNG(cfg.Seed, streamCloud, uint64(ed.index))}
	g := &c.g
	for i := range c.devs {
		dev := &c.devs[i]
		s := cloudState{up: true}
		s.row = schema.CloudConn{
			Edge: ed.id, Device: dev.serial, ConnState: schema.CloudEstablished, DeviceState: "Request_success",
			ServerAddr: cloudServers[0].addr, ServerDomain: cloudServers[0].domain, ConnMode: "Https",
			AuthPort: 19443, ConnPort: 443, ProcessState: procReceived,
			ConnectedAt:  start - int64(g.lognormal(math.Log(3*86400), 1)*1e6),
			DroppedTotal: uint64(g.intn(3)),
		}
		s.obsAt = start + int64(g.intn(int(c.interval)))
		s.nextAt = start + c.uptimeDraw(dev)
		c.st = append(c.st, s)
	}
	return c
}

func (c *cloudGen) uptimeDraw(dev *cloudDevice) int64 {
	mean := c.uptime
	if dev.flappy {
		mean /= 8
	}
	return int64(c.g.expo(mean)) + 1
}

// hour returns the observations in [lo, hi) µs: every sample on the
// device's interval, and every state change as it happens.
func (c *cloudGen) hour(seed int64, abs, lo, hi int64) []schema.CloudConn {
	g := &c.g
	g.reseed(seed, streamCloud, uint64(c.ed.index), uint64(abs))
	c.rows = c.rows[:0]
	for i := range c.st {
		s, dev := &c.st[i], &c.devs[i]
		for {
			t := min(s.obsAt, s.nextAt)
			if t >= hi {
				break
			}
			t = max(t, lo)
			if s.nextAt <= s.obsAt {
				c.transition(s, dev, t)
				c.emit(s, t)
				continue
			}
			c.sample(s, t)
			c.emit(s, t)
			s.obsAt += c.interval
		}
	}
	return c.rows
}

// emit appends the display as it stands at t.
func (c *cloudGen) emit(s *cloudState, t int64) {
	s.row.Time = t
	s.row.DurationS = 0
	if s.up {
		s.row.DurationS = uint32((t - s.row.ConnectedAt) / secondUs)
	}
	c.rows = append(c.rows, s.row)
}

// sample advances the counters between two samples: a few dropped packets,
// now and then a full buffer or a failed report.
func (c *cloudGen) sample(s *cloudState, t int64) {
	g, r := &c.g, &s.row
	if g.chance(0.04) {
		r.DroppedTotal += uint64(1 + g.intn(4))
	}
	if g.chance(0.005) {
		k := uint64(5 + g.intn(200))
		r.BufferFullCount++
		r.DroppedBufferLimit += k
		r.DroppedTotal += k
	}
	if s.up && g.chance(0.004) {
		r.LastReportFailureReason, r.LastReportFailureAt = reportFailures[g.intn(len(reportFailures))], t
	}
	if s.up && g.chance(0.003) {
		r.LastReportIncompleteReason, r.LastReportIncompleteAt = reportIncompletes[g.intn(len(reportIncompletes))], t
	}
}

// transition applies the state change due at t: the connection goes down,
// or a reconnection attempt fails or succeeds.
func (c *cloudGen) transition(s *cloudState, dev *cloudDevice, t int64) {
	g, r := &c.g, &s.row
	if s.up {
		reasons := schema.CloudDownReasons()
		reason := reasons[c.down.pick(g)]
		r.LastDownReason, r.LastDownAt, r.LastDownDetail = reason, t, ""
		if d := downDetails[reason]; d != nil && g.chance(0.5) {
			r.LastDownDetail = d[g.intn(len(d))]
		}
		if g.chance(0.3) {
			r.LastReportFailureReason, r.LastReportFailureAt = "Tunnel is not ready", t
		}
		s.up = false
		r.ConnState, r.DeviceState, r.ProcessState = schema.CloudUnconnected, "Idle", procDNSNotParsed
		r.ConnectedAt, r.FailureReason, r.ServerAddr = 0, "", schema.Addr{}
		// Most outages are blips of one to a few attempts; some last hours,
		// until a failover to the next server (when there is one) helps.
		s.attempts = g.intn(3)
		if g.chance(0.08) {
			s.attempts = 20 + g.intn(150)
		}
		if reason == "Configuration changed" {
			s.attempts = 0
		}
		s.failures = 0
		s.nextAt = t + int64(g.between(3, 15))*secondUs
		return
	}
	idx := int(r.ServerIndex)
	if s.attempts == 0 { // connected
		srv := cloudServers[idx]
		s.up = true
		r.ConnState, r.DeviceState, r.ProcessState = schema.CloudEstablished, "Request_success", procReceived
		r.ServerAddr, r.ServerDomain, r.FailureReason = srv.addr, srv.domain, ""
		r.ConnectedAt = t
		s.nextAt = t + c.uptimeDraw(dev)
		return
	}
	// A failed attempt.
	s.attempts--
	s.failures++
	fi := c.fail.pick(g)
	st := failureStates[fi]
	r.ConnState, r.DeviceState, r.ProcessState = st[0], st[1], st[2]
	r.FailureReason = schema.CloudFailureReasons()[fi]
	r.ServerAddr = cloudServers[idx].addr
	if st[2] == procDNSNotParsed {
		r.ServerAddr = schema.Addr{}
	}
	s.nextAt = t + int64(g.between(30, 90))*secondUs
	if s.failures >= 3 && dev.servers > 1 { // fail over, never back
		idx = (idx + 1) % dev.servers
		r.ServerIndex, r.BackupServer = uint8(idx), idx > 0
		r.ServerDomain = cloudServers[idx].domain
		s.failures = 0
		s.attempts = min(s.attempts, g.intn(3))
	}
}
