package tunnelcore

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/flowlake/flowlake/storage/meta"
	wire "github.com/flowlake/flowlake/tunnel"
)

// env is a started core with an admitted, bound edge's helpers.
type env struct {
	srv   *Server
	store *meta.Store
	hc    *http.Client
	auth  string
	// frames receives one value per refused frame.
	frames chan struct{}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	mcfg := meta.DefaultConfig()
	mcfg.DSN = filepath.Join(t.TempDir(), "meta.db")
	store, err := meta.Open(t.Context(), mcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg := DefaultConfig()
	cfg.AuthListen, cfg.ConnListen, cfg.PublicHost = "127.0.0.1:0", "127.0.0.1:0", "localhost"
	refusedFrames := make(chan struct{}, 100)
	srv, err := New(cfg, Deps{Admissions: store, Refused: func(what string) {
		if what == "frame" {
			refusedFrames <- struct{}{}
		}
	}, TLS: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
	return &env{srv: srv, store: store, hc: hc, frames: refusedFrames, auth: "https://" + srv.AuthAddr().String()}
}

func (e *env) post(t *testing.T, path string, in, out any) int {
	t.Helper()
	body, _ := json.Marshal(in)
	res, err := e.hc.Post(e.auth+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil && res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return res.StatusCode
}

// bind admits serial and registers it; it returns the tunnel URL and the
// credential.
func (e *env) bind(t *testing.T, serial string) (string, string) {
	t.Helper()
	enroll, err := e.store.AdmitEdge(t.Context(), serial, "test")
	if err != nil {
		t.Fatal(err)
	}
	var a wire.AuthResponse
	if st := e.post(t, wire.PathAuth, wire.AuthRequest{Serial: serial, Secret: enroll}, &a); st != http.StatusOK {
		t.Fatalf("auth %s: %d", serial, st)
	}
	var r wire.RegisterResponse
	if st := e.post(t, wire.PathRegister, wire.RegisterRequest{Serial: serial, Ticket: a.Ticket, Enroll: enroll}, &r); st != http.StatusOK {
		t.Fatalf("register %s: %d", serial, st)
	}
	// The same registration again is a replay: refused, counted.
	if st := e.post(t, wire.PathRegister, wire.RegisterRequest{Serial: serial, Ticket: a.Ticket, Enroll: enroll}, nil); st != http.StatusUnauthorized {
		t.Errorf("replayed registration: %d, want 401", st)
	}
	return r.URL, r.Credential
}

func (e *env) dial(t *testing.T, url, serial, cred string) *websocket.Conn {
	t.Helper()
	h := http.Header{}
	h.Set(wire.HeaderSerial, serial)
	h.Set("Authorization", "Bearer "+cred)
	c, _, err := websocket.Dial(t.Context(), url, &websocket.DialOptions{HTTPClient: e.hc, HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(wire.MaxFrame)
	return c
}

// keepalive sends a keepalive on c and reads its answer.
func keepalive(ctx context.Context, c *websocket.Conn, seq byte) error {
	f := wire.Frame{Kind: wire.KindKeepalive, Payload: []byte{0, 0, 0, 0, 0, 0, 0, seq}}
	if err := c.Write(ctx, websocket.MessageBinary, wire.AppendFrame(nil, f)); err != nil {
		return err
	}
	_, msg, err := c.Read(ctx)
	if err != nil {
		return err
	}
	ans, err := wire.DecodeFrame(msg)
	if err != nil || ans.Kind != wire.KindKeepaliveAck || ans.Payload[7] != seq {
		return errors.Join(err, errors.New("not the keepalive's answer"))
	}
	return nil
}

// TestHostileInput sends the core what a hostile or broken edge could: a
// serial with odd characters, a replayed registration, a tunnel without
// a credential, malformed frames, an oversized message, a text message.
// Each is refused with a reason and counted, and a well-behaved edge's
// tunnel keeps being served throughout.
func TestHostileInput(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	goodURL, goodCred := e.bind(t, "SN-GOOD")
	good := e.dial(t, goodURL, "SN-GOOD", goodCred)
	defer good.CloseNow()
	if err := keepalive(ctx, good, 1); err != nil {
		t.Fatal(err)
	}

	for _, serial := range []string{"bad/serial", "a b", "ünï", "", strings.Repeat("x", 65), "../../etc"} {
		if st := e.post(t, wire.PathAuth, wire.AuthRequest{Serial: serial, Secret: "x"}, nil); st != http.StatusBadRequest {
			t.Errorf("serial %q: %d, want 400", serial, st)
		}
	}
	if st := e.post(t, wire.PathAuth, map[string]any{"serial": "SN-GOOD", "secret": goodCred, "extra": 1}, nil); st != http.StatusBadRequest {
		t.Errorf("unknown field: %d, want 400", st)
	}
	if st := e.post(t, wire.PathAuth, wire.AuthRequest{Serial: "SN-GOOD", Secret: "flc_" + strings.Repeat("A", 43)}, nil); st != http.StatusUnauthorized {
		t.Errorf("wrong credential: %d, want 401", st)
	}
	h := http.Header{}
	h.Set(wire.HeaderSerial, "SN-GOOD")
	if _, res, err := websocket.Dial(ctx, goodURL, &websocket.DialOptions{HTTPClient: e.hc, HTTPHeader: h}); err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("tunnel without a credential: %v", err)
	}

	url, cred := e.bind(t, "SN-BAD")
	for _, tc := range []struct {
		name   string
		typ    websocket.MessageType
		msg    []byte
		status websocket.StatusCode
		reason string
	}{
		{"bad version", websocket.MessageBinary, []byte{7, 2, 0, 0, 0, 1}, websocket.StatusPolicyViolation, "version 7"},
		{"short frame", websocket.MessageBinary, []byte{1}, websocket.StatusPolicyViolation, "shorter than"},
		{"unknown service", websocket.MessageBinary, wire.AppendFrame(nil, wire.Frame{Kind: wire.KindOpen, Stream: 1, Payload: []byte("shell")}), websocket.StatusPolicyViolation, "unknown service"},
		{"data on a closed stream", websocket.MessageBinary, wire.AppendFrame(nil, wire.Frame{Kind: wire.KindData, Stream: 5, Payload: []byte("x")}), websocket.StatusPolicyViolation, "not open"},
		{"answer nobody asked for", websocket.MessageBinary, wire.AppendFrame(nil, wire.Frame{Kind: wire.KindData, Stream: 2}), websocket.StatusPolicyViolation, "did not open"},
		{"edge opens status", websocket.MessageBinary, wire.AppendFrame(nil, wire.Frame{Kind: wire.KindOpen, Stream: 1, Payload: []byte(wire.ServiceStatus)}), websocket.StatusPolicyViolation, "only the segments"},
		{"text message", websocket.MessageText, []byte("hello"), websocket.StatusUnsupportedData, "binary"},
		{"oversized", websocket.MessageBinary, make([]byte, wire.MaxFrame+1), websocket.StatusMessageTooBig, "read limited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dial(t, url, "SN-BAD", cred)
			defer c.CloseNow()
			_ = c.Write(ctx, tc.typ, tc.msg)
			_, _, err := c.Read(ctx)
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != tc.status || !strings.Contains(ce.Reason, tc.reason) {
				t.Errorf("got %v, want close %v saying %q", err, tc.status, tc.reason)
			}
			select { // counted
			case <-e.frames:
			case <-time.After(30 * time.Second):
				t.Fatal("the refused frame was not counted within 30 s")
			}
		})
	}
	if err := keepalive(ctx, good, 2); err != nil {
		t.Errorf("the good edge's tunnel after the hostile input: %v", err)
	}
	st := e.srv.Stats()
	if st.AuthRefused != 8 || st.RegisterRefused != 2 || st.TunnelRefused != 1 || st.FramesRefused != 8 {
		t.Errorf("stats %+v: want 8 refused authentications, 2 registrations, 1 tunnel, 8 frames", st)
	}
}
