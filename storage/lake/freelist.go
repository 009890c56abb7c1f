package lake

import "sync"

// freeList keeps a few idle values across garbage collections, and any
// more in a sync.Pool. A sync.Pool alone empties at every other
// collection, and a writer under a memory limit — an edge's, collecting
// several times a second — found it empty for most segments and allocated
// its buffers (megabytes of tables) again each time, which made more
// collections. The kept values stay allocated while idle: keep only a few
// small ones.
type freeList[T any] struct {
	kept  chan T
	extra sync.Pool
}

func newFreeList[T any](keep int) *freeList[T] {
	return &freeList[T]{kept: make(chan T, keep)}
}

// get returns an idle value, or ok false when there is none.
func (f *freeList[T]) get() (v T, ok bool) {
	select {
	case v = <-f.kept:
		return v, true
	default:
	}
	v, ok = f.extra.Get().(T)
	return v, ok
}

// put makes v available to get.
func (f *freeList[T]) put(v T) {
	select {
	case f.kept <- v:
	default:
		f.extra.Put(v)
	}
}
