package tunnelcore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	wire "github.com/flowlake/flowlake/tunnel"
)

// session is one edge's tunnel.
type session struct {
	serial string
	conn   *websocket.Conn
	since  time.Time
	idle   time.Duration
	// lastSeen is when the edge's last message arrived (Unix
	// nanoseconds): keepalives and pings make it recent on an idle tunnel.
	lastSeen atomic.Int64

	mu       sync.Mutex
	streams  map[uint32]*inStream       // edge-opened subconnections
	pending  map[uint32]chan edgeAnswer // core-opened subconnections awaiting an answer
	answers  map[uint32][]byte
	nextID   uint32
	closed   chan struct{}
	closeMsg string
	once     sync.Once
}

// edgeAnswer is the edge's answer to a core-opened subconnection: its body,
// or the error its close carried.
type edgeAnswer struct {
	body []byte
	err  string
}

// ErrEdge marks an error the edge answered a request with.
var ErrEdge = errors.New("the edge refused")

// ErrNoTunnel is returned by Request for an edge without a tunnel here.
var ErrNoTunnel = errors.New("no tunnel to this core")

// close ends the tunnel with a close frame saying why. The closing
// handshake (up to seconds with a silent peer) runs on its own, so callers
// holding the server's lock never wait for it.
func (ss *session) close(why string) {
	ss.once.Do(func() {
		ss.closeMsg = why
		close(ss.closed)
		go func() { _ = ss.conn.Close(websocket.StatusGoingAway, why) }()
	})
}

// EdgeInfo is one connected edge.
type EdgeInfo struct {
	Serial string    `json:"serial"`
	Since  time.Time `json:"since"`
	// LastSeen is when the core last received a message of the edge (a
	// frame of any kind; Since before the first).
	LastSeen time.Time `json:"last_seen"`
}

// Edges lists the edges holding a tunnel now, by serial.
func (s *Server) Edges() []EdgeInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]EdgeInfo, 0, len(s.sessions))
	for _, ss := range s.sessions {
		out = append(out, EdgeInfo{Serial: ss.serial, Since: ss.since, LastSeen: time.Unix(0, ss.lastSeen.Load())})
	}
	return out
}

// handleTunnel answers GET /cloud/v1/tunnel: a bound edge's credential
// upgrades the request to the edge's WebSocket; a tunnel the same serial
// held before is closed (one tunnel per edge).
func (s *Server) handleTunnel(w http.ResponseWriter, r *http.Request) {
	serial := r.Header.Get(wire.HeaderSerial)
	cred, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	bound, err := s.deps.Admissions.AuthenticateEdge(r.Context(), serial, cred)
	if err != nil || !bound {
		s.refused("tunnel")
		s.log.Warn("tunnel handshake refused", "serial", serial, "remote", r.RemoteAddr, "err", err)
		refuse(w, http.StatusUnauthorized, "tunnel refused: not a bound edge's credential")
		return
	}
	keep, err := strconv.Atoi(r.Header.Get(wire.HeaderKeepalive))
	if err != nil || keep < int(wire.MinInterval/time.Second) || keep > int(wire.MaxInterval/time.Second) {
		keep = int(wire.DefaultKeepalive / time.Second)
	}
	s.mu.Lock()
	full := len(s.sessions) >= s.cfg.MaxEdges && s.sessions[serial] == nil
	s.mu.Unlock()
	if full {
		s.refused("tunnel")
		refuse(w, http.StatusServiceUnavailable, "tunnel refused: this core holds its maximum of edges")
		return
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{})
	if err != nil {
		s.refused("tunnel")
		return
	}
	conn.SetReadLimit(wire.MaxFrame)
	ss := &session{serial: serial, conn: conn, since: s.deps.Now(), idle: time.Duration(keep) * time.Second * 4,
		streams: map[uint32]*inStream{}, pending: map[uint32]chan edgeAnswer{}, answers: map[uint32][]byte{}, nextID: 2, closed: make(chan struct{})}
	ss.lastSeen.Store(ss.since.UnixNano())
	s.mu.Lock()
	if old := s.sessions[serial]; old != nil {
		old.close("replaced by a new tunnel of the same edge")
	}
	s.sessions[serial] = ss
	s.mu.Unlock()
	// An unbinding or revocation that ran between the check above and the
	// session's entry in the map found no tunnel to close: check again now
	// that it is there (either this check fails, or the unbinding sees it).
	if bound, err := s.deps.Admissions.AuthenticateEdge(s.ctx, serial, cred); err != nil || !bound {
		s.refused("tunnel")
		ss.close("unbound")
	}
	s.tunnels.Add(1)
	s.log.Info("tunnel established", "serial", serial, "remote", r.RemoteAddr)
	s.publishUp(serial, ss.since)
	err = s.serve(s.ctx, ss)
	ss.close("tunnel ended")
	s.mu.Lock()
	current := s.sessions[serial] == ss
	if current {
		delete(s.sessions, serial)
	}
	s.mu.Unlock()
	if current { // a replaced tunnel's end is no change of the edge's state
		detail := ss.closeMsg
		if err != nil && detail == "tunnel ended" {
			detail = err.Error()
		}
		s.publishDown(serial, detail)
	}
	ss.mu.Lock()
	for _, st := range ss.streams {
		st.discard()
	}
	ss.mu.Unlock()
	s.log.Info("tunnel ended", "serial", serial, "err", err)
}

// serve reads the edge's frames until the tunnel ends. A malformed frame
// ends this edge's tunnel with a policy-violation close naming the
// reason, and is counted; other edges are not affected.
func (s *Server) serve(ctx context.Context, ss *session) error {
	// The library reads one byte past its limit (wire.MaxFrame) before it
	// refuses a message: the buffer has room for that byte and one more.
	buf := make([]byte, wire.MaxFrame+2)
	for {
		rctx, cancel := context.WithTimeout(ctx, ss.idle)
		typ, msg, err := readMessage(rctx, ss.conn, buf)
		cancel()
		if err == nil {
			ss.lastSeen.Store(s.deps.Now().UnixNano())
		}
		if err != nil {
			if strings.Contains(err.Error(), "read limited at") { // the library's oversized-message error
				s.refused("frame")
				s.log.Warn("tunnel message refused: larger than a frame", "serial", ss.serial, "limit", wire.MaxFrame)
			}
			return err
		}
		if typ != websocket.MessageBinary {
			s.refused("frame")
			_ = ss.conn.Close(websocket.StatusUnsupportedData, "tunnel frames are binary messages")
			return errors.New("text message")
		}
		f, err := wire.DecodeFrame(msg)
		if err != nil {
			s.refused("frame")
			s.log.Warn("tunnel frame refused", "serial", ss.serial, "err", err)
			reason := err.Error()
			if len(reason) > 120 {
				reason = reason[:120]
			}
			_ = ss.conn.Close(websocket.StatusPolicyViolation, reason)
			return err
		}
		if err := s.frame(ctx, ss, f); err != nil {
			s.refused("frame")
			s.log.Warn("tunnel frame refused", "serial", ss.serial, "err", err)
			_ = ss.conn.Close(websocket.StatusPolicyViolation, err.Error())
			return err
		}
	}
}

// send writes one frame. ctx decides only whether to start: the library
// closes the whole connection when a write's context ends during it (or
// before), which would end every subconnection of the edge because one
// caller gave up (TestTunnelFleetView lost its tunnel that way), so the
// write itself is bounded by one keepalive interval, the time after which
// a write that has not gone out means the tunnel is stuck.
func (ss *session) send(ctx context.Context, f wire.Frame) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ss.idle/4)
	defer cancel()
	return ss.conn.Write(wctx, websocket.MessageBinary, wire.AppendFrame(nil, f))
}

// frame handles one decoded frame.
func (s *Server) frame(ctx context.Context, ss *session, f wire.Frame) error {
	switch f.Kind {
	case wire.KindKeepalive:
		return ss.send(ctx, wire.Frame{Kind: wire.KindKeepaliveAck, Payload: f.Payload})
	case wire.KindPing, wire.KindKeepaliveAck:
		return nil
	}
	if f.Stream%2 == 0 { // the answer to a subconnection the core opened
		ss.mu.Lock()
		defer ss.mu.Unlock()
		ch, ok := ss.pending[f.Stream]
		if !ok {
			return fmt.Errorf("frame for stream %d the core did not open", f.Stream)
		}
		switch f.Kind {
		case wire.KindData:
			if len(ss.answers[f.Stream])+len(f.Payload) > wire.MaxPayload*4 {
				return fmt.Errorf("answer on stream %d larger than %d bytes", f.Stream, wire.MaxPayload*4)
			}
			ss.answers[f.Stream] = append(ss.answers[f.Stream], f.Payload...)
		case wire.KindClose:
			ch <- edgeAnswer{body: ss.answers[f.Stream], err: string(f.Payload)}
			delete(ss.pending, f.Stream)
			delete(ss.answers, f.Stream)
		default:
			return fmt.Errorf("%s frame on the core's stream %d", f.Kind, f.Stream)
		}
		return nil
	}
	ss.mu.Lock()
	st := ss.streams[f.Stream]
	ss.mu.Unlock()
	switch f.Kind {
	case wire.KindOpen:
		if st != nil {
			return fmt.Errorf("stream %d opened twice", f.Stream)
		}
		if f.Payload == nil || string(f.Payload) != wire.ServiceSegments {
			return fmt.Errorf("the edge may open only the %s service, not %q", wire.ServiceSegments, f.Payload)
		}
		ss.mu.Lock()
		if len(ss.streams) >= 16 {
			ss.mu.Unlock()
			return errors.New("more than 16 subconnections open at once")
		}
		ss.streams[f.Stream] = &inStream{service: string(f.Payload)}
		ss.mu.Unlock()
		return nil
	case wire.KindData:
		if st == nil {
			return fmt.Errorf("data on stream %d, which is not open", f.Stream)
		}
		return st.data(f.Payload)
	case wire.KindClose:
		if st == nil {
			return fmt.Errorf("close of stream %d, which is not open", f.Stream)
		}
		ss.mu.Lock()
		delete(ss.streams, f.Stream)
		ss.mu.Unlock()
		if len(f.Payload) > 0 { // the edge gave the upload up: nothing to publish
			st.discard()
			s.log.Info("segment upload over the tunnel abandoned by the edge", "serial", ss.serial, "id", st.id, "why", string(f.Payload))
			return ss.send(ctx, wire.Frame{Kind: wire.KindClose, Stream: f.Stream, Payload: []byte("abandoned")})
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.finishSegment(ctx, ss, f.Stream, st)
		}()
	}
	return nil
}

// Request opens a subconnection of service to the edge serial, sends
// body and returns the edge's answer (status pull, configuration push,
// remote command).
func (s *Server) Request(ctx context.Context, serial, service string, body []byte) ([]byte, error) {
	s.mu.Lock()
	ss := s.sessions[serial]
	s.mu.Unlock()
	if ss == nil {
		return nil, fmt.Errorf("edge %q: %w", serial, ErrNoTunnel)
	}
	ch := make(chan edgeAnswer, 1)
	ss.mu.Lock()
	id := ss.nextID
	ss.nextID += 2
	ss.pending[id] = ch
	ss.mu.Unlock()
	frames := []wire.Frame{{Kind: wire.KindOpen, Stream: id, Payload: []byte(service)}}
	for len(body) > 0 {
		n := min(len(body), wire.MaxPayload)
		frames = append(frames, wire.Frame{Kind: wire.KindData, Stream: id, Payload: body[:n]})
		body = body[n:]
	}
	frames = append(frames, wire.Frame{Kind: wire.KindClose, Stream: id})
	answered := func(ans edgeAnswer) ([]byte, error) {
		if ans.err != "" {
			return nil, fmt.Errorf("%s request to %s: %w: %s", service, serial, ErrEdge, ans.err)
		}
		return ans.body, nil
	}
	for i, f := range frames {
		sctx := ctx
		if i > 0 {
			// Once opened, the request is sent whole (it is small): a
			// stream left half-sent would hold one of the edge's request
			// slots until the tunnel ends.
			sctx = context.WithoutCancel(ctx)
		}
		if err := ss.send(sctx, f); err != nil {
			// The frame may have reached the edge before the tunnel
			// closed under the write ("reconnect" answers, then closes):
			// the reader hands over an answer that came before it marks
			// the session closed, so wait for either, briefly.
			wait := time.NewTimer(time.Second)
			defer wait.Stop()
			select {
			case ans := <-ch:
				return answered(ans)
			case <-ss.closed:
				select {
				case ans := <-ch:
					return answered(ans)
				default:
				}
			case <-wait.C:
			case <-ctx.Done():
			}
			ss.mu.Lock()
			delete(ss.pending, id)
			ss.mu.Unlock()
			return nil, fmt.Errorf("%s request to %s: %w", service, serial, err)
		}
	}
	select {
	case ans := <-ch:
		return answered(ans)
	case <-ss.closed:
		// The answer may have come just before the tunnel ended (a
		// "reconnect" command answers, then closes): select picks either
		// of two ready cases, so look once more.
		select {
		case ans := <-ch:
			return answered(ans)
		default:
		}
		return nil, fmt.Errorf("%s request to %s: tunnel closed (%s)", service, serial, ss.closeMsg)
	case <-ctx.Done():
		ss.mu.Lock()
		delete(ss.pending, id)
		ss.mu.Unlock()
		return nil, ctx.Err()
	}
}
