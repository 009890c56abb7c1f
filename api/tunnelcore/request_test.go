package tunnelcore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coder/websocket"

	wire "github.com/flowlake/flowlake/tunnel"
)

// TestRequestAnsweredThenClosed: an edge that answers a request and closes
// its tunnel at once (as a "reconnect" command does) has its answer
// returned, never "tunnel closed": the answer came first. Run 100 times,
// since the order in which the core's waiting request sees the two is
// the scheduler's.
func TestRequestAnsweredThenClosed(t *testing.T) {
	e := newEnv(t)
	url, cred := e.bind(t, "SN-ANSWER")
	for i := range 100 {
		conn := e.dial(t, url, "SN-ANSWER", cred)
		edgeDone := make(chan error, 1)
		go func() { // the edge: answers the core's request, then closes
			edgeDone <- func() error {
				for {
					_, msg, err := conn.Read(t.Context())
					if err != nil {
						return err
					}
					f, err := wire.DecodeFrame(msg)
					if err != nil {
						return err
					}
					if f.Kind != wire.KindClose {
						continue
					}
					for _, a := range []wire.Frame{{Kind: wire.KindData, Stream: f.Stream, Payload: []byte(`{"reconnecting":true}`)}, {Kind: wire.KindClose, Stream: f.Stream}} {
						if err := conn.Write(t.Context(), websocket.MessageBinary, wire.AppendFrame(nil, a)); err != nil {
							return err
						}
					}
					return conn.Close(websocket.StatusNormalClosure, "configuration changed")
				}
			}()
		}()
		var ans []byte
		var err error
		for deadline := time.Now().Add(10 * time.Second); ; { // the session is listed an instant after the upgrade
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			ans, err = e.srv.Request(ctx, "SN-ANSWER", wire.ServiceCommand, []byte(`{"command":"reconnect"}`))
			cancel()
			if !errors.Is(err, ErrNoTunnel) || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if err != nil || string(ans) != `{"reconnecting":true}` {
			t.Fatalf("try %d: %s, %v; want the answer that came before the close", i, ans, err)
		}
		<-edgeDone
		conn.CloseNow()
	}
}

// TestCancelledRequestKeepsTunnel: a request whose caller has already
// gone (its context ended: a REST client that left, a status pull's
// deadline) is refused without ending the edge's tunnel (the library
// closes a connection whose write context ends), and the next request is
// answered over the same connection.
func TestCancelledRequestKeepsTunnel(t *testing.T) {
	e := newEnv(t)
	url, cred := e.bind(t, "SN-CANCEL")
	conn := e.dial(t, url, "SN-CANCEL", cred)
	defer conn.CloseNow()
	go func() { // the edge: answers every request at its close
		for {
			_, msg, err := conn.Read(t.Context())
			if err != nil {
				return
			}
			f, err := wire.DecodeFrame(msg)
			if err != nil || f.Kind != wire.KindClose {
				continue
			}
			for _, a := range []wire.Frame{{Kind: wire.KindData, Stream: f.Stream, Payload: []byte(`{"ok":true}`)}, {Kind: wire.KindClose, Stream: f.Stream}} {
				if conn.Write(t.Context(), websocket.MessageBinary, wire.AppendFrame(nil, a)) != nil {
					return
				}
			}
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) { // listed an instant after the upgrade
		if len(e.srv.Edges()) == 1 || time.Now().After(deadline) {
			break
		}
	}
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := e.srv.Request(gone, "SN-CANCEL", wire.ServiceStatus, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("request of a caller that left: %v, want context.Canceled", err)
	}
	ctx, stop := context.WithTimeout(t.Context(), 10*time.Second)
	defer stop()
	ans, err := e.srv.Request(ctx, "SN-CANCEL", wire.ServiceStatus, nil)
	if err != nil || string(ans) != `{"ok":true}` {
		t.Fatalf("the next request: %s, %v; want the edge's answer over the same tunnel", ans, err)
	}
}
