package tunnelcore

import (
	"context"
	"sync"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// EdgeEvent is a change of an edge's tunnel at this core: established,
// or ended (with why, as far as the core knows).
type EdgeEvent struct {
	Serial string
	// ConnState is the cloud_conn connection state the edge is in now at
	// this core: Established or Unconnected.
	ConnState string
	At        time.Time
	// Detail says why a tunnel ended (the core's side of it: the read
	// error, "unbound", "replaced by a new tunnel of the same edge").
	Detail string
	// Missed counts the events this watcher lost just before this one
	// because it did not take them in time (its buffer was full).
	Missed uint64
}

// watchBuffer is how many events a watcher may fall behind before it
// misses some (counted, in Stats and in the next event's Missed).
const watchBuffer = 256

// watcher is one Watch call's channel.
type watcher struct {
	ch     chan EdgeEvent
	missed uint64
}

// watchers is the set of watchers; its own lock, so publishing never
// waits for the server's.
type watchers struct {
	mu  sync.Mutex
	set map[*watcher]struct{}
}

// Watch returns the changes of every edge's tunnel at this core until
// ctx ends, when the channel is closed. A watcher that falls behind by
// more than 256 events misses events; they are counted (Stats, and the
// next event's Missed), never silently.
func (s *Server) Watch(ctx context.Context) <-chan EdgeEvent {
	w := &watcher{ch: make(chan EdgeEvent, watchBuffer)}
	s.watch.mu.Lock()
	if s.watch.set == nil {
		s.watch.set = map[*watcher]struct{}{}
	}
	s.watch.set[w] = struct{}{}
	s.watch.mu.Unlock()
	context.AfterFunc(ctx, func() {
		s.watch.mu.Lock()
		delete(s.watch.set, w)
		close(w.ch)
		s.watch.mu.Unlock()
	})
	return w.ch
}

// publish hands ev to every watcher without waiting for any.
func (s *Server) publish(ev EdgeEvent) {
	s.watch.mu.Lock()
	defer s.watch.mu.Unlock()
	for w := range s.watch.set {
		e := ev
		e.Missed = w.missed
		select {
		case w.ch <- e:
			w.missed = 0
		default:
			w.missed++
			s.eventsMissed.Add(1)
		}
	}
}

func (s *Server) publishUp(serial string, at time.Time) {
	s.publish(EdgeEvent{Serial: serial, ConnState: schema.CloudEstablished, At: at})
}

func (s *Server) publishDown(serial, detail string) {
	s.publish(EdgeEvent{Serial: serial, ConnState: schema.CloudUnconnected, At: s.deps.Now(), Detail: detail})
}
