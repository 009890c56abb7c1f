package lake

import "sync"

// freeList keeps a few idle values across garbage collections, and any
// others in a sync.Pool. A sync.Pool alone empties at every other
// collection, and a writer under a memory limit — an edge's, collecting
// several times a second — found it empty for most segments and allocated
// its buffers (megabytes of tables) again each time, which made more
// collections. Kept values stay allocated while idle, so only small ones
// are kept: the edge's, not those a compaction of a whole hour grew.
type freeList[T any] struct {
	kept  chan T
	small func(T) bool // whether a value may be kept (nil: any)
	extra sync.Pool
}

func newFreeList[T any](keep int, small func(T) bool) *freeList[T] {
	return &freeList[T]{kept: make(chan T, keep), small: small}
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
	if f.small == nil || f.small(v) {
		select {
		case f.kept <- v:
			return
		default:
		}
	}
	f.extra.Put(v)
}
