package tunnel

import (
	"net/netip"

	"github.com/flowlake/flowlake/ingest/cloudconn"
	"github.com/flowlake/flowlake/storage/schema"
	wire "github.com/flowlake/flowlake/tunnel"
)

// Device states of the connection procedure the edge goes through (the
// CAS states of the documents never occur: Flowlake has no CAS server).
const (
	stIdle           = "Idle"
	stConnecting     = "Connecting"
	stAuth           = "Request_cloud_auth"
	stAuthOK         = "Request_cloud_auth_success"
	stRegister       = "Register"
	stRegisterOK     = "Register_success"
	stHandshake      = "Request"
	stHandshakeOK    = "Request_success"
	modeHTTPS        = "Https"
	failDNS          = "DNS parse failed"
	failSocket       = "Socket connection failed"
	failSSL          = "SSL creation failed"
	failSendAuth     = "Sending cloud auth failed"
	failAuthResp     = "Processing cloud auth response failed"
	failSendRegister = "Sending register failed"
	failRegisterResp = "Processing register response failed"
	failSendHS       = "Sending handshake request failed"
	failHS           = "Processing handshake failed"
	downSocket       = "Socket connection error"
	downConfig       = "Configuration changed"
	downClose        = "Received websocket close packet from cloud"
	downKeepalive    = "Keepalive expired"
	downPacket       = "Packet processing failed"
	downReboot       = "Device or process rebooted"
	downReset        = "Cloud reset connection"
	downMemory       = "Memory reached threshold"
)

// transition changes the current row with set and records a copy: every
// state change is a cloud_conn row.
func (c *Client) transition(set func(r *schema.CloudConn)) {
	c.mu.Lock()
	set(&c.row)
	now := c.deps.Now()
	c.row.Time = schema.Micros(now)
	c.row.DurationS = duration(c.row, now.UnixMicro())
	row := c.row
	c.mu.Unlock()
	if c.deps.Record != nil {
		c.deps.Record(row)
	}
}

func duration(r schema.CloudConn, nowUS int64) uint32 {
	if r.ConnectedAt == 0 || nowUS < r.ConnectedAt {
		return 0
	}
	return uint32(min((nowUS-r.ConnectedAt)/1e6, 1<<32-1))
}

// State returns the current state, as `flowlake edge state` prints it.
func (c *Client) State() schema.CloudConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.row
	now := c.deps.Now()
	r.Time = schema.Micros(now)
	r.DurationS = duration(r, now.UnixMicro())
	return r
}

// attempting is the row of a new attempt on ep.
func attempting(ep wire.Endpoint) func(r *schema.CloudConn) {
	return func(r *schema.CloudConn) {
		r.ConnState, r.DeviceState, r.ProcessState = schema.CloudUnconnected, stConnecting, cloudconn.ProcessDNSNotParsed
		r.ServerDomain, r.AuthPort, r.ConnMode = ep.Domain, ep.Port, modeHTTPS
		r.ServerAddr, r.ConnPort = schema.Addr{}, 0
		r.ServerIndex, r.BackupServer = uint8(ep.Index), ep.Index > 0
		r.ConnectedAt = 0
	}
}

func resolved(a netip.Addr) func(r *schema.CloudConn) {
	return func(r *schema.CloudConn) {
		r.ServerAddr, r.ProcessState = schema.AddrFrom(a), cloudconn.ProcessDNSParsed
	}
}

func step(device, process string) func(r *schema.CloudConn) {
	return func(r *schema.CloudConn) { r.DeviceState, r.ProcessState = device, process }
}

func failed(reason string) func(r *schema.CloudConn) {
	return func(r *schema.CloudConn) {
		r.ConnState, r.FailureReason = schema.CloudUnconnected, reason
	}
}
