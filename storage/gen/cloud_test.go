package gen

import (
	"slices"
	"testing"

	"github.com/flowlake/flowlake/storage/schema"
)

func TestCloudConnections(t *testing.T) {
	c := collect(t, testConfig(7*24, 0.01))
	type counters struct{ total, limit, full uint64 }
	last := map[string]counters{}
	lastTime := map[string]int64{}
	downs := map[string]int{}
	states := map[string]int{}
	var backup, naDown, failures int
	for i := range c.CloudRows {
		r := &c.CloudRows[i]
		states[r.ConnState]++
		if r.Time < lastTime[r.Device] {
			t.Fatalf("device %s: rows out of time order", r.Device)
		}
		lastTime[r.Device] = r.Time
		p := last[r.Device]
		if r.DroppedTotal < p.total || r.DroppedBufferLimit < p.limit || r.BufferFullCount < p.full {
			t.Fatalf("device %s: counters went back: %+v after %+v", r.Device, r, p)
		}
		if r.DroppedBufferLimit > r.DroppedTotal {
			t.Fatalf("device %s: more buffer-limit drops than drops", r.Device)
		}
		last[r.Device] = counters{r.DroppedTotal, r.DroppedBufferLimit, r.BufferFullCount}
		if r.LastDownReason == "" {
			naDown++
			if r.LastDownAt != 0 {
				t.Fatalf("down time without a down reason: %+v", r)
			}
		} else if !slices.Contains(schema.CloudDownReasons(), r.LastDownReason) {
			t.Fatalf("unknown down reason %q", r.LastDownReason)
		}
		if r.LastDownAt != 0 && r.LastDownAt == r.Time {
			downs[r.LastDownReason]++
		}
		if r.FailureReason != "" {
			failures++
			if !slices.Contains(schema.CloudFailureReasons(), r.FailureReason) || r.ConnState == schema.CloudEstablished {
				t.Fatalf("failure reason %q in state %s", r.FailureReason, r.ConnState)
			}
		}
		switch r.ConnState {
		case schema.CloudEstablished:
			if r.ConnectedAt == 0 || r.ConnectedAt > r.Time || r.ProcessState != "Message received" || r.ServerAddr.IsZero() {
				t.Fatalf("established without a consistent connection: %+v", r)
			}
			if uint32((r.Time-r.ConnectedAt)/1e6) != r.DurationS {
				t.Fatalf("duration %d s does not match connected at", r.DurationS)
			}
		default:
			if r.ConnectedAt != 0 || r.DurationS != 0 {
				t.Fatalf("%s with a connection time: %+v", r.ConnState, r)
			}
		}
		if r.BackupServer != (r.ServerIndex > 0) {
			t.Fatalf("backup flag %v with server index %d", r.BackupServer, r.ServerIndex)
		}
		if r.BackupServer {
			backup++
		}
		if r.AuthPort != 19443 || r.ConnPort != 443 || r.ConnMode != "Https" {
			t.Fatalf("ports/mode %d/%d/%s", r.AuthPort, r.ConnPort, r.ConnMode)
		}
	}
	if len(downs) < 3 {
		t.Errorf("downs by reason %v: want several reasons in a week", downs)
	}
	for _, st := range []string{schema.CloudEstablished, schema.CloudUnconnected, schema.CloudRequest} {
		if states[st] == 0 {
			t.Errorf("no %s rows in a week (%v)", st, states)
		}
	}
	if states[schema.CloudEstablished] < 10*(states[schema.CloudUnconnected]+states[schema.CloudRequest]) {
		t.Errorf("states %v: want mostly established", states)
	}
	if naDown == 0 || failures == 0 || backup == 0 {
		t.Errorf("want rows before any down (%d), failure reasons (%d) and backup servers (%d)", naDown, failures, backup)
	}
	t.Logf("states %v, downs %v, backup rows %d", states, downs, backup)
}
