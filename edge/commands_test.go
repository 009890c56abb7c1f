package edge

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestFlushSpool: while the shipper backs off for an hour after a failed
// upload, FlushSpool makes it retry at once (with the tunnel still down:
// one more failure) and ship the whole spool once the tunnel is back;
// an embedded edge has no spool to flush.
func TestFlushSpool(t *testing.T) {
	up := &lakeUploader{lake: openLake(t)}
	up.down.Store(true)
	cfg := tunnelConfig(t)
	cfg.Ship.Interval, cfg.Ship.BackoffMin, cfg.Ship.BackoffMax = time.Hour, time.Hour, time.Hour
	e := startTunnelEdge(t, cfg, up)
	sendUnique(t, e, 10, 3)
	waitFor(t, func() bool { return e.Stats().RowsWritten.Load() == 30 && e.Stats().UploadFailures.Load() >= 1 }, "rows spooled, an upload failed")
	waitFor(t, func() bool { st := e.Status(t.Context()); return st.SpoolSegments == 10 }, "10 segments spooled")

	ctx := t.Context()
	ans, err := e.FlushSpool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	failed := ans.UploadFailures
	if !ans.Shipping || ans.SpoolSegments != 10 || ans.SpoolBytes <= 0 || ans.SegmentsShipped != 0 || failed == 0 {
		t.Errorf("flush with the tunnel down answered %+v: want 10 segments spooled, none shipped, failures counted", ans)
	}
	waitFor(t, func() bool { return e.Stats().UploadFailures.Load() > failed }, "the flush's upload, failing")

	up.down.Store(false)
	if _, err := e.FlushSpool(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return e.Stats().RowsShipped.Load() == 30 }, "the spool shipped")
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, up.lake, func(seq uint64) bool { return seq >= 1 && seq <= 30 }, 30)

	embedded := startEdge(t, testConfig(t), openLake(t))
	if _, err := embedded.FlushSpool(ctx); !errors.Is(err, ErrNoSpool) {
		t.Errorf("embedded flush: %v, want ErrNoSpool", err)
	}
}

// TestRestartReceivers rebinds listeners on their ports: the named one
// only (its SO_REUSEPORT siblings with it), then all; datagrams sent
// after a restart are received by the new sockets; a bad kind, an
// address no listener has and a stopped edge are errors.
func TestRestartReceivers(t *testing.T) {
	cfg := testConfig(t)
	cfg.SocketsPerAddress = 2
	e := startEdge(t, cfg, openLake(t))
	before := e.Addrs()
	nf := before["netflow"][0]
	sockets := func() map[*listener]bool {
		e.connsMu.Lock()
		defer e.connsMu.Unlock()
		out := map[*listener]bool{}
		for _, l := range e.conns {
			out[l] = true
		}
		return out
	}
	old := sockets()

	ctx := t.Context()
	ans, err := e.RestartReceivers(ctx, RestartQuery{Kind: "netflow", Addr: nf.String()})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(RestartAnswer{Restarted: []RestartedReceiver{{Kind: "netflow", Addr: nf.String(), Sockets: 2}}}, ans); diff != "" {
		t.Errorf("restart netflow (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(fmt.Sprint(before), fmt.Sprint(e.Addrs())); diff != "" {
		t.Errorf("addresses changed (-before +after):\n%s", diff)
	}
	now, kept := sockets(), 0
	for l := range now {
		if old[l] {
			kept++
			if l.kind == "netflow" && l.conn.LocalAddr().String() == nf.String() {
				t.Errorf("socket %s kept", nf)
			}
		}
	}
	if kept != len(old)-2 {
		t.Errorf("%d of %d sockets kept, want all but the 2 of %s", kept, len(old), nf)
	}
	send(t, e, nf, make([]byte, 20), make([]byte, 20)) // received by the new sockets (decode errors are fine)

	ans, err = e.RestartReceivers(ctx, RestartQuery{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, addrs := range before {
		n += len(addrs)
	}
	if len(ans.Restarted) != n {
		t.Errorf("restart all: %+v, want %d addresses", ans, n)
	}
	for l := range sockets() {
		if now[l] {
			t.Errorf("%s %s kept by restart all", l.kind, l.conn.LocalAddr())
		}
	}
	send(t, e, before["sflow"][0], make([]byte, 20))

	for _, tc := range []struct {
		name string
		q    RestartQuery
		want string
	}{
		{"bad kind", RestartQuery{Kind: "bgp"}, `kind "bgp"`},
		{"bad addr", RestartQuery{Addr: "nowhere"}, `addr "nowhere"`},
		{"no such listener", RestartQuery{Kind: "ipfix", Addr: nf.String()}, "no listener is ipfix " + nf.String()},
	} {
		if _, err := e.RestartReceivers(ctx, tc.q); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.RestartReceivers(ctx, RestartQuery{}); err == nil || !strings.Contains(err.Error(), "stopping") {
		t.Errorf("restart a stopped edge: %v", err)
	}
}
