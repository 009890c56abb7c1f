package tunnel

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/flowlake/flowlake/ingest/cloudconn"
	wire "github.com/flowlake/flowlake/tunnel"
)

// serve runs an established tunnel: a reader, the keepalive and ping
// tickers and the reconnect signal. It returns how the tunnel went down,
// with the down reason and its details.
func (c *Client) serve(ctx context.Context, conn *websocket.Conn) (outcome, string, string) {
	ctx, cancel := context.WithCancel(ctx)
	rs := c.startRequests()
	defer func() {
		cancel() // first: the requests being served see the tunnel end
		rs.stop()
	}()
	type readEnd struct{ reason, detail string }
	frames := make(chan wire.Frame)
	ended := make(chan readEnd, 1)
	go func() {
		for {
			typ, msg, err := conn.Read(ctx)
			if err != nil {
				if st := websocket.CloseStatus(err); st != -1 {
					var ce websocket.CloseError
					errors.As(err, &ce)
					ended <- readEnd{downClose, fmt.Sprintf("%d %s", st, ce.Reason)}
				} else if errors.Is(err, syscall.ECONNRESET) {
					ended <- readEnd{downReset, err.Error()}
				} else {
					ended <- readEnd{downSocket, err.Error()}
				}
				return
			}
			f, err := wire.DecodeFrame(msg)
			if err == nil && typ != websocket.MessageBinary {
				err = errors.New("text message")
			}
			if err != nil {
				ended <- readEnd{downPacket, err.Error()}
				return
			}
			select {
			case frames <- f:
			case <-ctx.Done():
				return
			}
		}
	}()
	kaC, kaStop := c.deps.NewTicker(c.cfg.Timing.Keepalive)
	defer kaStop()
	pingC, pingStop := c.deps.NewTicker(c.cfg.Timing.Ping)
	defer pingStop()
	var memC <-chan time.Time
	if c.cfg.MemoryThreshold > 0 {
		// The wall clock, not Deps.NewTicker: tests drive keepalives and
		// pings by hand, the memory check runs by itself.
		t := time.NewTicker(c.deps.MemoryEvery)
		defer t.Stop()
		memC = t.C
	}
	var seq uint64
	outstanding := 0
	count := c.cfg.Timing.KeepaliveCount
	for {
		select {
		case <-ctx.Done():
			return outDown, downReboot, "edge stopping"
		case <-c.reconnect:
			_ = conn.Close(websocket.StatusNormalClosure, "configuration changed")
			return outConfig, downConfig, "server domain from DHCP option 253"
		case e := <-ended:
			return outDown, e.reason, e.detail
		case <-kaC:
			if outstanding >= count {
				return outKeepalive, downKeepalive, fmt.Sprintf("no answer to %d keepalives", outstanding)
			}
			seq++
			outstanding++
			p := binary.BigEndian.AppendUint64(nil, seq)
			if err := c.send(ctx, conn, wire.Frame{Kind: wire.KindKeepalive, Payload: p}); err != nil {
				return outDown, downSocket, err.Error()
			}
		case <-memC:
			if used := c.deps.MemoryUsed(); used > c.cfg.MemoryThreshold {
				_ = conn.Close(websocket.StatusGoingAway, "memory reached threshold")
				return outMemory, downMemory, fmt.Sprintf("%d bytes in use, threshold %d", used, c.cfg.MemoryThreshold)
			}
		case <-pingC:
			if err := c.send(ctx, conn, wire.Frame{Kind: wire.KindPing}); err != nil {
				return outDown, downSocket, err.Error()
			}
		case f := <-frames:
			if f.Kind == wire.KindKeepaliveAck {
				outstanding = 0
				if c.deps.Answered != nil {
					c.deps.Answered(binary.BigEndian.Uint64(f.Payload))
				}
				continue
			}
			if err := c.frame(ctx, conn, rs, f); err != nil {
				_ = conn.Close(websocket.StatusPolicyViolation, err.Error())
				return outDown, downPacket, err.Error()
			}
		}
	}
}

func (c *Client) send(ctx context.Context, conn *websocket.Conn, f wire.Frame) error {
	return c.write(ctx, conn, wire.AppendFrame(nil, f))
}

// frame handles a stream frame from the core: answers to the edge's
// uploads (odd streams) and the core's requests (even streams). A
// request takes one of rs's slots at its open (refused at once when none
// is free) and, once complete, is answered off the frame loop.
func (c *Client) frame(ctx context.Context, conn *websocket.Conn, rs *requests, f wire.Frame) error {
	if f.Kind == wire.KindKeepalive || f.Kind == wire.KindPing {
		return fmt.Errorf("%s frame from the core", f.Kind)
	}
	if f.Stream%2 == 1 {
		c.mu.Lock()
		defer c.mu.Unlock()
		w := c.waiting[f.Stream]
		if w == nil {
			return fmt.Errorf("%s frame on stream %d, which the edge has not open", f.Kind, f.Stream)
		}
		switch f.Kind {
		case wire.KindData:
			if len(w.buf)+len(f.Payload) > 1<<20 {
				return fmt.Errorf("answer on stream %d over 1 MiB", f.Stream)
			}
			w.buf = append(w.buf, f.Payload...)
		case wire.KindClose:
			w.done <- w.buf
			delete(c.waiting, f.Stream)
		default:
			return fmt.Errorf("%s frame on the edge's stream %d", f.Kind, f.Stream)
		}
		return nil
	}
	// A request of the core, answered at its close.
	c.mu.Lock()
	req := c.waiting[f.Stream]
	switch {
	case f.Kind == wire.KindOpen && req == nil:
		req = &outStream{service: string(f.Payload), refused: !rs.acquire()}
		c.waiting[f.Stream] = req
		c.mu.Unlock()
		if req.refused { // its data and close are then read and dropped
			return rs.refuse(ctx, conn, f.Stream, req.service)
		}
		return nil
	case f.Kind == wire.KindOpen || req == nil:
		c.mu.Unlock()
		return fmt.Errorf("%s frame on stream %d, which the core has not open or opened twice", f.Kind, f.Stream)
	case f.Kind == wire.KindData:
		defer c.mu.Unlock()
		if req.refused {
			return nil
		}
		if len(req.buf)+len(f.Payload) > 1<<20 {
			return fmt.Errorf("request on stream %d over 1 MiB", f.Stream)
		}
		req.buf = append(req.buf, f.Payload...)
		return nil
	}
	delete(c.waiting, f.Stream)
	c.mu.Unlock()
	if req.refused {
		return nil
	}
	rs.dispatch(ctx, conn, f.Stream, req.service, req.buf)
	return nil
}

// ConfigPush is the body of the config service: the settings the core
// may change without a restart (null or absent: unchanged).
type ConfigPush struct {
	// DHCPDomain replaces the primary server's domain, as DHCP option 253
	// does: a different one forces a reconnect.
	DHCPDomain *string `json:"dhcp_domain"`
}

// CommandRequest is the body of the command service.
type CommandRequest struct {
	Command string          `json:"command"`
	Args    json.RawMessage `json:"args,omitempty"`
}

// serveRequest answers one request of the core.
func (c *Client) serveRequest(ctx context.Context, service string, body []byte) ([]byte, error) {
	switch service {
	case wire.ServiceStatus:
		if c.deps.Status != nil {
			return c.deps.Status()
		}
		return c.statusAnswer(ctx)
	case wire.ServiceConfig:
		var push ConfigPush
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&push); err != nil {
			return nil, fmt.Errorf("configuration: %w", err)
		}
		applied := []string{}
		if push.DHCPDomain != nil {
			// The reconnect a new domain needs waits for this answer
			// (answer asks for it once written): the core gets it first.
			changed, err := c.setDHCPDomain(*push.DHCPDomain)
			if err != nil {
				return nil, err
			}
			if changed {
				c.mu.Lock()
				c.reconnectAfter = true
				c.mu.Unlock()
			}
			applied = append(applied, "dhcp_domain")
		}
		return json.Marshal(map[string]any{"applied": applied})
	case wire.ServiceCommand:
		var cmd CommandRequest
		if err := json.Unmarshal(body, &cmd); err != nil {
			return nil, fmt.Errorf("command: %w", err)
		}
		switch cmd.Command {
		case "state":
			return json.Marshal(cloudconn.Columns(c.State()))
		case "reconnect":
			// The tunnel goes down once this answer is written (answer
			// signals c.reconnect after it): the core gets it first.
			return []byte(`{"reconnecting":true}`), nil
		}
		if c.deps.Command != nil {
			return c.deps.Command(ctx, cmd.Command, cmd.Args)
		}
		return nil, fmt.Errorf("unknown command %q (this edge runs: state, reconnect)", cmd.Command)
	}
	return nil, fmt.Errorf("service %q is not served by this edge", service)
}

// statusAnswer is the status service's answer: the state and the
// collector's status (a failing EdgeStatus leaves it out, logged: the
// state still answers).
func (c *Client) statusAnswer(ctx context.Context) ([]byte, error) {
	state, err := json.Marshal(cloudconn.Columns(c.State()))
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	ans := wire.StatusAnswer{State: state}
	if c.deps.EdgeStatus != nil {
		st, err := c.deps.EdgeStatus(ctx)
		if err != nil {
			c.log.Warn("tunnel: status pull without the collector's status", "err", err)
		}
		ans.Edge = st
	}
	return json.Marshal(ans)
}

// SegmentAnswer is the core's answer to a segment upload.
type SegmentAnswer struct {
	ID      string `json:"id"`
	Rows    int64  `json:"rows"`
	Created bool   `json:"created"`
	// DuplicateOf is the id under which the same bytes are in the lake
	// (the core's content-hash ledger); nothing was written for this one.
	DuplicateOf string `json:"duplicate_of"`
	Error       string `json:"error"`
	// Invalid marks an Error retrying the same bytes cannot cure.
	Invalid bool `json:"invalid"`
}

// ErrNoTunnel is returned by Upload when no tunnel is established.
var ErrNoTunnel = errors.New("no tunnel established")

// Upload sends one spool segment over the tunnel and returns the core's
// answer: UploadFrom with the bytes in memory.
func (c *Client) Upload(ctx context.Context, id string, data []byte) (SegmentAnswer, error) {
	return c.UploadFrom(ctx, id, bytes.NewReader(data), int64(len(data)))
}
