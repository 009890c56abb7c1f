package tunnel

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/coder/websocket"

	wire "github.com/flowlake/flowlake/tunnel"
)

// MaxRequests bounds the core's requests (status pulls, configuration
// pushes, remote commands) in flight on one tunnel: being received or
// served. Each is answered off the tunnel's frame loop, so a slow one (a
// command that takes seconds) delays neither the keepalives and pings nor
// the other subconnections; a request opened beyond the bound is refused
// at once with a close frame saying so, and counted
// (Client.RequestsRefused).
const MaxRequests = 8

// requests serves the core's requests of one tunnel: each in a goroutine
// of its own, except configuration pushes, which are applied one after
// the other in the order they arrived (a later push of the DHCP domain
// must win over an earlier one).
type requests struct {
	c      *Client
	slots  chan struct{} // one per request being received or served (MaxRequests)
	config chan func()   // configuration pushes, in arrival order
	wg     sync.WaitGroup
}

// startRequests starts the serving of one tunnel's requests; their
// context is the tunnel's, and stop waits for them.
func (c *Client) startRequests() *requests {
	rs := &requests{c: c, slots: make(chan struct{}, MaxRequests), config: make(chan func(), MaxRequests)}
	rs.wg.Go(func() {
		for run := range rs.config {
			run()
		}
	})
	return rs
}

// stop waits for the requests being served. The tunnel's context is
// cancelled first, so a handler that honours it returns at once; an
// answer to a tunnel that went down is dropped (its write fails).
func (rs *requests) stop() {
	close(rs.config) // only the frame loop sends, and it has returned
	rs.wg.Wait()
}

// acquire takes a slot for a request of the core opened now; false when
// MaxRequests are in flight (being received or served).
func (rs *requests) acquire() bool {
	select {
	case rs.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// refuse answers a request opened beyond MaxRequests at once, and counts
// it.
func (rs *requests) refuse(ctx context.Context, conn *websocket.Conn, id uint32, service string) error {
	rs.c.refused.Add(1)
	rs.c.log.Warn("tunnel: request of the core refused: too many in flight", "service", service, "stream", id, "max", MaxRequests)
	why := fmt.Sprintf("edge busy: %d requests of the core in flight on this tunnel, at most %d; ask again when one is answered", MaxRequests, MaxRequests)
	return rs.c.send(ctx, conn, wire.Frame{Kind: wire.KindClose, Stream: id, Payload: []byte(why)})
}

// dispatch serves the complete request of the core on stream id, which
// holds a slot (acquire), off the frame loop; the slot is given back with
// its answer.
func (rs *requests) dispatch(ctx context.Context, conn *websocket.Conn, id uint32, service string, body []byte) {
	run := func() {
		released := false
		release := func() {
			if !released {
				released = true
				<-rs.slots
			}
		}
		defer release()
		if ctx.Err() != nil {
			return // the tunnel went down while the request waited
		}
		rs.c.answer(ctx, conn, id, service, body, release)
	}
	if service == wire.ServiceConfig {
		rs.config <- run // never blocks: it holds at most MaxRequests, as slots do
		return
	}
	rs.wg.Go(run)
}

// answer serves one request and writes its answer: data frames and a
// close, or a close carrying the refusal. It calls release, giving the
// request's slot back, before the close is written: the core that reads
// the answer can count on the slot being free. A write that fails means
// the tunnel is going down; its reader reports why.
func (c *Client) answer(ctx context.Context, conn *websocket.Conn, id uint32, service string, body []byte, release func()) {
	ans, err := c.serveRequest(ctx, service, body)
	reconnect := service == wire.ServiceCommand && isReconnect(body) || service == wire.ServiceConfig && c.takeReconnect()
	if err != nil {
		release()
		if reconnect {
			c.askReconnect()
		}
		if werr := c.send(ctx, conn, wire.Frame{Kind: wire.KindClose, Stream: id, Payload: []byte(err.Error())}); werr != nil {
			c.log.Debug("tunnel: refusal not sent", "service", service, "stream", id, "err", werr)
		}
		return
	}
	for len(ans) > 0 {
		n := min(len(ans), wire.MaxPayload)
		if err := c.send(ctx, conn, wire.Frame{Kind: wire.KindData, Stream: id, Payload: ans[:n]}); err != nil {
			c.log.Debug("tunnel: answer not sent", "service", service, "stream", id, "err", err)
			return
		}
		ans = ans[n:]
	}
	release()
	if err := c.send(ctx, conn, wire.Frame{Kind: wire.KindClose, Stream: id}); err != nil {
		c.log.Debug("tunnel: answer not sent", "service", service, "stream", id, "err", err)
		return
	}
	if reconnect {
		c.askReconnect() // the frame loop drops the tunnel and connects again
	}
}

// isReconnect reports whether a command request body is "reconnect".
func isReconnect(body []byte) bool {
	var cmd CommandRequest
	return json.Unmarshal(body, &cmd) == nil && cmd.Command == "reconnect"
}

// RequestsRefused counts the core's requests refused because MaxRequests
// were being served on the tunnel.
func (c *Client) RequestsRefused() uint64 { return c.refused.Load() }
