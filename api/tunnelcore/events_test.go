package tunnelcore

import (
	"context"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// TestWatchMissedCounted: a watcher that does not read misses events
// beyond its buffer; they are counted in Stats and in the Missed of the
// next event it gets, and a watcher that reads misses nothing. A
// watcher's channel closes when its context ends.
func TestWatchMissedCounted(t *testing.T) {
	s := &Server{deps: Deps{Now: time.Now}}
	ctx, cancel := context.WithCancel(t.Context())
	slow := s.Watch(ctx)
	fast := s.Watch(t.Context())
	const extra = 5
	for i := range watchBuffer + extra {
		s.publishUp("SN-1", time.Unix(int64(i), 0))
		<-fast // keeps up
	}
	if st := s.Stats(); st.EventsMissed != extra {
		t.Fatalf("EventsMissed %d, want %d", st.EventsMissed, extra)
	}
	for i := range watchBuffer {
		if ev := <-slow; ev.Missed != 0 || ev.At.Unix() != int64(i) {
			t.Fatalf("buffered event %d: %+v", i, ev)
		}
	}
	s.publishDown("SN-1", "read: EOF")
	if ev := <-slow; ev.Missed != extra || ev.ConnState != schema.CloudUnconnected || ev.Detail != "read: EOF" {
		t.Errorf("event after the misses: %+v; want Missed %d", ev, extra)
	}
	if ev := <-fast; ev.Missed != 0 {
		t.Errorf("the watcher that kept up: %+v", ev)
	}
	cancel()
	if _, open := <-slow; open {
		t.Error("a watcher's channel stayed open after its context ended")
	}
	s.publishUp("SN-2", time.Now()) // a publish after a watcher left does not block or panic
	if ev := <-fast; ev.Serial != "SN-2" {
		t.Errorf("after the slow watcher left: %+v", ev)
	}
}
