package query

import (
	"container/list"
	"context"
	"sync"

	"github.com/flowlake/flowlake/storage/lake"
)

// fileCache keeps recently used segments open with their parsed footers,
// so a dashboard's repeated queries do not reopen and reparse the same
// files. Segments are immutable and uniquely named, so an entry is never
// stale; a segment deleted by compaction or a rollup rebuild simply ages
// out (its open handle keeps nothing visible). Entries in use by a query
// are closed only when it releases them.
type fileCache struct {
	lake *lake.Lake
	max  int

	mu    sync.Mutex
	byKey map[string]*list.Element
	lru   list.List // of *cachedFile, most recent first
}

type cachedFile struct {
	key     string
	f       *lake.SegmentFile
	refs    int
	evicted bool
}

func newFileCache(l *lake.Lake, max int) *fileCache {
	return &fileCache{lake: l, max: max, byKey: map[string]*list.Element{}}
}

// acquire returns seg opened, and the function that gives it back.
func (c *fileCache) acquire(ctx context.Context, seg lake.Segment) (*lake.SegmentFile, func(), error) {
	c.mu.Lock()
	if e, ok := c.byKey[seg.Key]; ok {
		cf := e.Value.(*cachedFile)
		cf.refs++
		c.lru.MoveToFront(e)
		c.mu.Unlock()
		return cf.f, func() { c.release(cf) }, nil
	}
	c.mu.Unlock()
	f, err := c.lake.OpenSegment(ctx, seg)
	if err != nil {
		return nil, nil, err
	}
	if c.max <= 0 {
		return f, func() { f.Close() }, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[seg.Key]; ok { // another query opened it meanwhile
		f.Close()
		cf := e.Value.(*cachedFile)
		cf.refs++
		return cf.f, func() { c.release(cf) }, nil
	}
	cf := &cachedFile{key: seg.Key, f: f, refs: 1}
	c.byKey[seg.Key] = c.lru.PushFront(cf)
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		oc := old.Value.(*cachedFile)
		c.lru.Remove(old)
		delete(c.byKey, oc.key)
		oc.evicted = true
		if oc.refs == 0 {
			oc.f.Close()
		}
	}
	return f, func() { c.release(cf) }, nil
}

func (c *fileCache) release(cf *cachedFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cf.refs--
	if cf.refs == 0 && cf.evicted {
		cf.f.Close()
	}
}

// close closes every cached segment no query holds, and marks the others
// to close when released.
func (c *fileCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.lru.Front(); e != nil; e = e.Next() {
		cf := e.Value.(*cachedFile)
		cf.evicted = true
		if cf.refs == 0 {
			cf.f.Close()
		}
	}
	c.lru.Init()
	clear(c.byKey)
	return nil
}
