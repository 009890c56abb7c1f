package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/flowlake/flowlake/api"
	"github.com/flowlake/flowlake/edge"
)

// coreFiles writes a TLS certificate for names and its key into dir and
// returns their files and the PEM of the certificate (an edge's ca_file).
func coreFiles(t *testing.T, dir string, names ...string) (certFile, keyFile, caPEM string) {
	t.Helper()
	srvTLS, _ := selfSigned(t, names...)
	cert := srvTLS.Certificates[0]
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "core.pem"), filepath.Join(dir, "core.key")
	caPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}))
	if err := os.WriteFile(certFile, []byte(caPEM), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, caPEM
}

// apiClient calls a `flowlake serve` process's API with a token.
type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (c apiClient) do(method, path, body string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(c.t.Context(), method, c.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// graphql posts a query and decodes the answer into out.
func (c apiClient) graphql(query string, out any) (int, string) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]string{"query": query})
	st, body := c.do(http.MethodPost, "/api/v1/graphql", string(b))
	if out != nil {
		if err := json.Unmarshal([]byte(body), out); err != nil {
			c.t.Fatalf("graphql answer %d: %v: %s", st, err, body)
		}
	}
	return st, body
}

// gqlSubscription is one subscription over the graphql-transport-ws
// protocol, on a WebSocket of its own.
type gqlSubscription struct {
	conn *websocket.Conn
}

// gqlMessage is a graphql-transport-ws message.
type gqlMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// subscribe opens a WebSocket with the client's token, acknowledges the
// connection and starts query.
func (c apiClient) subscribe(query string) *gqlSubscription {
	c.t.Helper()
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+c.token)
	conn, _, err := websocket.Dial(c.t.Context(), "ws"+strings.TrimPrefix(c.base, "http")+"/api/v1/graphql",
		&websocket.DialOptions{HTTPHeader: hdr, Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		c.t.Fatalf("graphql websocket: %v", err)
	}
	c.t.Cleanup(func() { _ = conn.CloseNow() })
	s := &gqlSubscription{conn: conn}
	s.send(c.t, gqlMessage{Type: "connection_init"})
	if m := s.next(c.t); m.Type != "connection_ack" {
		c.t.Fatalf("graphql websocket: %s, want connection_ack", m.Type)
	}
	payload, _ := json.Marshal(map[string]string{"query": query})
	s.send(c.t, gqlMessage{ID: "1", Type: "subscribe", Payload: payload})
	return s
}

func (s *gqlSubscription) send(t *testing.T, m gqlMessage) {
	t.Helper()
	b, _ := json.Marshal(m)
	if err := s.conn.Write(t.Context(), websocket.MessageText, b); err != nil {
		t.Fatalf("graphql websocket write: %v", err)
	}
}

// next reads the next message other than a ping, within 30 s (a deadline
// for a broken test, not a timing assertion).
func (s *gqlSubscription) next(t *testing.T) gqlMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		_, b, err := s.conn.Read(ctx)
		if err != nil {
			t.Fatalf("graphql websocket read: %v", err)
		}
		var m gqlMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("graphql websocket message %s: %v", b, err)
		}
		if m.Type == "ping" || m.Type == "pong" {
			continue
		}
		return m
	}
}

// edgeStateEvent is one edgeStateChanged event.
type edgeStateEvent struct {
	Serial    string  `json:"serial"`
	ConnState string  `json:"connState"`
	Detail    *string `json:"detail"`
	Missed    int64   `json:"missed"`
}

func (s *gqlSubscription) event(t *testing.T) edgeStateEvent {
	t.Helper()
	m := s.next(t)
	var p struct {
		Data struct {
			EdgeStateChanged edgeStateEvent `json:"edgeStateChanged"`
		} `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if m.Type != "next" || json.Unmarshal(m.Payload, &p) != nil || len(p.Errors) > 0 {
		t.Fatalf("subscription message %s: %s", m.Type, m.Payload)
	}
	return p.Data.EdgeStateChanged
}

// TestTunnelFleetView runs a core (`flowlake serve` with its tunnel end)
// and an edge (`flowlake edge` with its tunnel, receiving IPFIX, its core
// for uploads unreachable) as processes, and checks the operators' fleet
// view through the core's API: GET /api/v1/edges and GraphQL's edges show
// the edge's tunnel state, version, rates, spool depth, upload failures
// and drops; edgeStateChanged streams the tunnel's going down and coming
// back when a reconnect is pushed; both need config.read (a viewer is
// refused); a caller's subscriptions are bounded
// (graphql.max_subscriptions_per_caller) and the refusals counted in the
// core's metrics.
func TestTunnelFleetView(t *testing.T) {
	skipShort(t, "runs a core and an edge as processes")
	tmp := t.TempDir()
	certFile, keyFile, caPEM := coreFiles(t, tmp, "core.test", "127.0.0.1")
	metaEnv := "FLOWLAKE_META_DSN=" + filepath.Join(tmp, "meta.db")
	admin := filepath.Join(tmp, "admin")
	out, stderr, code := runCLI(t, []string{metaEnv}, "edge", "admit", "SN-FLEET", "--data", admin, "--json")
	var adm EdgeAdmitted
	if code != 0 || json.Unmarshal([]byte(out), &adm) != nil {
		t.Fatalf("edge admit: exit %d: %s %s", code, out, stderr)
	}
	token := func(name, role string) string {
		out, stderr, code := runCLI(t, []string{metaEnv}, "user", "add", "--name", name, "--role", role, "--token", "--json", "--data", admin)
		var u UserAdded
		if code != 0 || json.Unmarshal([]byte(out), &u) != nil {
			t.Fatalf("user add %s: exit %d: %s %s", name, code, out, stderr)
		}
		return u.Secret
	}
	core := &coreProcess{name: "core", auth: freePort(t, "tcp"), conn: freePort(t, "tcp"), http: freePort(t, "tcp")}
	core.env = []string{metaEnv, "FLOWLAKE_TUNNEL_CORE_CERT_FILE=" + certFile, "FLOWLAKE_TUNNEL_CORE_KEY_FILE=" + keyFile,
		fmt.Sprintf("FLOWLAKE_TUNNEL_CORE_AUTH_LISTEN=127.0.0.1:%d", core.auth), fmt.Sprintf("FLOWLAKE_TUNNEL_CORE_CONN_LISTEN=127.0.0.1:%d", core.conn),
		"FLOWLAKE_SERVE_GRAPHQL_MAX_SUBSCRIPTIONS_PER_CALLER=2"}
	core.args = []string{"serve", "--data", filepath.Join(tmp, "lake"), "--listen", fmt.Sprintf("127.0.0.1:%d", core.http), "--log-level", "warn",
		"--netflow-listen=", "--ipfix-listen=", "--sflow-listen="}
	core.start(t)
	t.Cleanup(core.kill)
	ac := apiClient{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", core.http), token: token("admin", "admin")}
	viewer := apiClient{t: t, base: ac.base, token: token("viewer", "viewer")}

	// The edge: flows in, the tunnel to the core, over which it ships
	// with a 1 ms upload timeout: uploads time out, so its spool fills
	// and its upload failures count.
	write := func(name, text string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	udpPort, statusPort := freePort(t, "udp"), freePort(t, "tcp")
	cfgFile := write("edge.yaml", fmt.Sprintf(`edge:
  id: SN-FLEET
  netflow_listen: ["127.0.0.1:%d"]
  ipfix_listen: []
  sflow_listen: []
  batch_rows: 100
  batch_age: 100ms
  status_listen: 127.0.0.1:%d
  spool: {dir: %q}
  ship: {url: "http://127.0.0.1:%d", token_file: %q, interval: 100ms, backoff_min: 50ms, backoff_max: 300ms, timeout: 1ms}
tunnel:
  edge:
    serial: SN-FLEET
    enroll_file: %q
    ca_file: %q
    primary: "127.0.0.1:%d"
`, udpPort, statusPort, filepath.Join(tmp, "spool"), freePort(t, "tcp"), write("token", "flk_unused\n"),
		write("enroll", adm.Enroll+"\n"), write("ca.pem", caPEM), core.auth))
	cmd := exec.Command(os.Args[0], "-test.run=^TestEdgeHelperProcess$")
	var edgeLog bytes.Buffer
	cmd.Stdout, cmd.Stderr = &edgeLog, &edgeLog
	cmd.Env = append(os.Environ(), edgeHelperEnv+"="+strings.Join([]string{"edge", "--config", cfgFile, "--log-level", "warn"}, "\x1f"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	statusURL := fmt.Sprintf("http://127.0.0.1:%d", statusPort)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	exporter := writerTo{pc, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: udpPort}}
	var x ipfix
	var st edge.Status
	for deadline, next := time.Now().Add(60*time.Second), uint64(1); ; time.Sleep(50 * time.Millisecond) {
		_, _ = exporter.Write(x.template())
		_, _ = exporter.Write(x.data(next, 10))
		next += 10
		st, err = fetchEdgeStatus(t.Context(), statusURL)
		if err == nil && st.RowsAcknowledged > 0 && st.SpoolSegments > 0 && st.UploadFailures > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the edge neither spooled rows nor failed uploads: %+v, %v: %s", st, err, edgeLog.String())
		}
	}

	// The REST fleet list, once the core holds the edge's tunnel.
	var fleet api.EdgesResponse
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		status, body := ac.do(http.MethodGet, "/api/v1/edges", "")
		if status != http.StatusOK || json.Unmarshal([]byte(body), &fleet) != nil {
			t.Fatalf("GET /api/v1/edges: %d %s", status, body)
		}
		if len(fleet.Edges) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the core never listed the edge: %s; edge log: %s", body, edgeLog.String())
		}
	}
	e := fleet.Edges[0]
	var state map[string]any
	_ = json.Unmarshal(e.State, &state)
	if e.Serial != "SN-FLEET" || e.StateError != "" || state["conn_state"] != "Established" || state["device_state"] != "Request_success" {
		t.Errorf("fleet entry's state: %+v %v", e, state)
	}
	if e.Since.IsZero() || e.LastSeen.Before(e.Since) {
		t.Errorf("fleet entry's since %v, last seen %v", e.Since, e.LastSeen)
	}
	if e.Version != versionInfo().Version || e.StartedAt == nil || e.StartedAt.IsZero() {
		t.Errorf("fleet entry's version %q (want %q), started %v", e.Version, versionInfo().Version, e.StartedAt)
	}
	if e.Rates == nil || e.Rates.WindowSeconds <= 0 || e.Rates.RowsPerSecond <= 0 || e.Rates.DatagramsPerSecond <= 0 {
		t.Errorf("fleet entry's rates: %+v", e.Rates)
	}
	if e.SpoolSegments == nil || *e.SpoolSegments < 1 || e.SpoolBytes == nil || *e.SpoolBytes <= 0 || e.UploadFailures == nil || *e.UploadFailures < 1 {
		t.Errorf("fleet entry's spool and upload failures: %v %v %v", e.SpoolSegments, e.SpoolBytes, e.UploadFailures)
	}
	var sum uint64
	for _, n := range e.Drops {
		sum += n
	}
	if _, ok := e.Drops["spool_full"]; !ok || e.DropsTotal == nil || *e.DropsTotal != sum {
		t.Errorf("fleet entry's drops: %v, total %v", e.Drops, e.DropsTotal)
	}
	if status, body := viewer.do(http.MethodGet, "/api/v1/edges", ""); status != http.StatusForbidden {
		t.Errorf("a viewer listed the fleet: %d %s", status, body)
	}

	// The same through GraphQL.
	const edgesQuery = `{ edges { serial since lastSeen connState deviceState serverDomain authPort stateError version startedAt
		rates { windowSeconds rowsPerSecond datagramsPerSecond } spoolSegments spoolBytes drops { cause count } dropsTotal uploadFailures } }`
	var gq struct {
		Data struct {
			Edges []struct {
				Serial, ConnState, DeviceState, ServerDomain, Version string
				Since, LastSeen                                       time.Time
				AuthPort                                              int
				StateError                                            *string
				Rates                                                 struct{ WindowSeconds, RowsPerSecond, DatagramsPerSecond float64 }
				SpoolSegments                                         int
				Drops                                                 []struct {
					Cause string
					Count uint64
				}
				UploadFailures uint64
			} `json:"edges"`
		} `json:"data"`
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if status, body := ac.graphql(edgesQuery, &gq); status != http.StatusOK || len(gq.Errors) > 0 || len(gq.Data.Edges) != 1 {
		t.Fatalf("graphql edges: %d %s", status, body)
	}
	ge := gq.Data.Edges[0]
	if ge.Serial != "SN-FLEET" || ge.ConnState != "Established" || ge.DeviceState != "Request_success" || ge.ServerDomain != "127.0.0.1" ||
		ge.AuthPort != core.auth || ge.StateError != nil || ge.Version != versionInfo().Version || ge.Rates.WindowSeconds <= 0 ||
		ge.SpoolSegments < 1 || len(ge.Drops) != len(e.Drops) || ge.UploadFailures < 1 || !ge.Since.Equal(e.Since) ||
		!ge.LastSeen.After(ge.Since) { // the REST list's status answer came after the tunnel's start
		t.Errorf("graphql edge: %+v", ge)
	}
	gq.Errors = nil
	if _, body := viewer.graphql(`{ edges { serial } }`, &gq); len(gq.Errors) != 1 || gq.Errors[0].Extensions["code"] != "FORBIDDEN" {
		t.Errorf("a viewer's graphql edges: %s", body)
	}

	// edgeStateChanged: a reconnect pushed through the API takes the
	// tunnel down and up again, and the subscription sees both.
	sub := ac.subscribe(`subscription { edgeStateChanged(serial: "SN-FLEET") { serial connState detail missed } }`)
	other := ac.subscribe(`subscription { edgeStateChanged(serial: "SN-NONE") { serial } }`)
	// The subscription is running once its resolver returned; the core
	// says so in its metrics (a wait with a deadline, not a timing
	// assertion).
	waitMetric := func(name, want string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			_, body := ac.do(http.MethodGet, "/metrics", "")
			if strings.Contains(body, "\n"+name+" "+want+"\n") {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("metric %s never %s: %s", name, want, grepLines(body, "flowlake_graphql"))
			}
		}
	}
	waitMetric("flowlake_graphql_subscriptions_active", "2")
	if status, body := ac.do(http.MethodPost, "/api/v1/edges/SN-FLEET/commands", `{"command":"reconnect"}`); status != http.StatusOK {
		t.Fatalf("reconnect: %d %s", status, body)
	}
	down := sub.event(t)
	if down.Serial != "SN-FLEET" || down.ConnState != "Unconnected" || down.Detail == nil || down.Missed != 0 {
		t.Errorf("first event after the reconnect: %+v", down)
	}
	if up := sub.event(t); up.Serial != "SN-FLEET" || up.ConnState != "Established" || up.Detail != nil {
		t.Errorf("second event after the reconnect: %+v", up)
	}

	// A third subscription of the same caller is refused, and counted;
	// once one ends, a new one is taken.
	third := ac.subscribe(`subscription { edgeStateChanged { serial } }`)
	if m := third.next(t); !refused(m, "SUBSCRIPTION_LIMIT_EXCEEDED") {
		t.Errorf("third subscription: %s %s", m.Type, m.Payload)
	}
	waitMetric("flowlake_graphql_subscriptions_refused_total", "1")
	other.send(t, gqlMessage{ID: "1", Type: "complete"})
	waitMetric("flowlake_graphql_subscriptions_active", "1")
	fourth := ac.subscribe(`subscription { edgeStateChanged { serial } }`)
	waitMetric("flowlake_graphql_subscriptions_active", "2")
	_ = fourth
	vs := viewer.subscribe(`subscription { edgeStateChanged { serial } }`)
	if m := vs.next(t); !refused(m, "FORBIDDEN") {
		t.Errorf("a viewer's subscription: %s %s", m.Type, m.Payload)
	}
}

// refused reports whether m ends a subscription with an error of code:
// gqlgen sends a resolver's refusal as a "next" with errors and no data
// (then "complete"), a failed operation as "error".
func refused(m gqlMessage, code string) bool {
	var p struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if m.Type == "error" {
		return strings.Contains(string(m.Payload), `"code":"`+code+`"`)
	}
	return m.Type == "next" && json.Unmarshal(m.Payload, &p) == nil && string(p.Data) == "null" &&
		len(p.Errors) == 1 && p.Errors[0].Extensions["code"] == code
}

// grepLines keeps the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
