package graph

import (
	"context"
	"fmt"
	"sync"

	"github.com/flowlake/flowlake/graph/model"
	"github.com/flowlake/flowlake/storage/meta"
)

// Fleet is the core's view of the edges holding a tunnel to it. The
// server adapts its tunnel end to it (graph does not import the tunnel).
type Fleet interface {
	// Edges lists the edges with their status pulled over their tunnels.
	Edges(ctx context.Context) ([]*model.Edge, error)
	// Watch returns the changes of the edges' tunnels until ctx ends,
	// when the channel is closed.
	Watch(ctx context.Context) <-chan model.EdgeStateEvent
}

// SubscriptionStats counts the subscriptions the handler holds and
// refused.
type SubscriptionStats struct {
	// Active is the subscriptions running now, over all callers.
	Active int64
	// Refused counts subscriptions refused because their caller held
	// Config.MaxSubscriptionsPerCaller already.
	Refused int64
}

// SubscriptionStats returns the counts (metrics).
func (h *Handler) SubscriptionStats() SubscriptionStats { return h.subs.stats() }

// subscriptions bounds the subscriptions of each caller (a user, over all
// their tokens, sessions and WebSockets).
type subscriptions struct {
	max int

	mu      sync.Mutex
	held    map[string]int
	active  int64
	refused int64
}

func newSubscriptions(max int) *subscriptions {
	return &subscriptions{max: max, held: map[string]int{}}
}

// acquire takes one of the caller's subscriptions for as long as ctx
// lives; it is refused (and counted) when the caller holds max already.
func (s *subscriptions) acquire(ctx context.Context, c Caller) error {
	key := c.Principal.User.ID
	s.mu.Lock()
	if s.held[key] >= s.max {
		s.refused++
		s.mu.Unlock()
		return fmt.Errorf("%w: %s holds %d subscriptions, the most one caller may hold; end one first", ErrSubscriptionLimit, c.Principal.User.Name, s.max)
	}
	s.held[key]++
	s.active++
	s.mu.Unlock()
	context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.held[key]--; s.held[key] <= 0 {
			delete(s.held, key)
		}
		s.active--
	})
	return nil
}

func (s *subscriptions) stats() SubscriptionStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SubscriptionStats{Active: s.active, Refused: s.refused}
}

// subscribe checks perm and takes one of the caller's subscriptions.
func (r *Resolver) subscribe(ctx context.Context, perm meta.Permission) error {
	c, err := require(ctx, perm)
	if err != nil {
		return err
	}
	return r.subs.acquire(ctx, c)
}

// edgeStateChanged streams the fleet's tunnel changes, narrowed to
// serial when it is set.
func (r *Resolver) edgeStateChanged(ctx context.Context, serial string) (<-chan *model.EdgeStateEvent, error) {
	if _, err := require(ctx, meta.PermConfigRead); err != nil {
		return nil, err
	}
	if r.deps.Fleet == nil {
		return nil, fmt.Errorf("%w: this core runs no tunnel", ErrUnavailable)
	}
	if err := r.subscribe(ctx, meta.PermConfigRead); err != nil {
		return nil, err
	}
	events := r.deps.Fleet.Watch(ctx)
	out := make(chan *model.EdgeStateEvent, 1)
	go func() { // owned by the subscription: ends with its context, which closes events
		defer close(out)
		var missed int64 // events of other edges are no loss to this one, but a missed one may be
		for ev := range events {
			missed += ev.Missed
			if serial != "" && ev.Serial != serial {
				continue
			}
			e := ev
			e.Missed = missed
			missed = 0
			select {
			case out <- &e:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
