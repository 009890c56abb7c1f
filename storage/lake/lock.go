package lake

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Locker is implemented by backends that can hold a named, exclusive lock
// shared by every process using the same storage, released by the system
// when its holder dies. FS implements it with flock(2) on files under
// <root>/_locks. On a backend without it, the lake serialises writers
// within the process only, and several processes must not maintain the
// same lake (docs/lake-format.md, "Concurrency").
type Locker interface {
	// Lock blocks until it holds the lock called name or ctx ends, and
	// returns the function that releases it.
	Lock(ctx context.Context, name string) (unlock func(), err error)
}

// localLocks is the in-process Locker used when the backend has none.
type localLocks struct {
	mu    sync.Mutex
	locks map[string]chan struct{}
}

func (k *localLocks) Lock(ctx context.Context, name string) (func(), error) {
	for {
		k.mu.Lock()
		if k.locks == nil {
			k.locks = map[string]chan struct{}{}
		}
		held, busy := k.locks[name]
		if !busy {
			ch := make(chan struct{})
			k.locks[name] = ch
			k.mu.Unlock()
			return func() {
				k.mu.Lock()
				delete(k.locks, name)
				k.mu.Unlock()
				close(ch)
			}, nil
		}
		k.mu.Unlock()
		select {
		case <-held:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// lockPartition takes the writer lock of one hour partition of a dataset:
// compaction, retention, uploads (Publish) and rollup rebuilds hold it
// while they read the partition and change it, so two of them never work
// on the same partition at once, in this process or another.
func (l *Lake) lockPartition(ctx context.Context, dataset string, hour time.Time) (func(), error) {
	name := partitionKey(dataset, hour)
	unlock, err := l.locker.Lock(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("lock partition %s: %w", name, err)
	}
	return unlock, nil
}

// LockPartition takes the writer lock of the hour partition of dataset
// holding hour, for code outside the lake that replaces files in it (the
// rollup builder) and must not race compaction, retention or another
// process doing the same. Release it with the returned function.
func (l *Lake) LockPartition(ctx context.Context, dataset string, hour time.Time) (func(), error) {
	if err := checkHour(hour); err != nil {
		return nil, err
	}
	return l.lockPartition(ctx, dataset, hourOf(hour.UnixMicro()))
}
