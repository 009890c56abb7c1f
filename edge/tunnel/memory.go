package tunnel

import (
	"context"
	"runtime/metrics"
	"time"
)

// runtimeMemory is the memory the Go runtime holds from the system, less
// what it has released back: the process's own share of its resident
// memory, read without stopping the world.
func runtimeMemory() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64() - s[1].Value.Uint64()
}

// waitMemory waits, after the tunnel went down over the memory threshold,
// until the memory falls to the threshold or below, checking every
// Deps.MemoryEvery: reconnecting earlier would only drop the tunnel again.
func (c *Client) waitMemory(ctx context.Context) error {
	t := time.NewTicker(c.deps.MemoryEvery)
	defer t.Stop()
	for c.deps.MemoryUsed() > c.cfg.MemoryThreshold {
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
