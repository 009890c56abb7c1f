package lake

import (
	"runtime"
	"testing"
)

// TestFreeListKeepsAcrossCollections checks what the free lists are for:
// small values put back survive garbage collections (a sync.Pool alone
// drops them within two), up to the list's size, and values too large to
// keep go to the pool only.
func TestFreeListKeepsAcrossCollections(t *testing.T) {
	f := newFreeList(2, func(b *[]byte) bool { return cap(*b) <= 64 })
	small1, small2, small3 := new(make([]byte, 64)), new(make([]byte, 64)), new(make([]byte, 64))
	f.put(small1)
	f.put(small2)
	f.put(small3) // beyond the two kept: into the pool
	runtime.GC()
	runtime.GC()
	got := map[*[]byte]bool{}
	for range 2 {
		v, ok := f.get()
		if !ok {
			t.Fatal("a kept value was lost to garbage collections")
		}
		got[v] = true
	}
	if !got[small1] || !got[small2] {
		t.Errorf("got %v, want the first two values put", got)
	}

	f.put(new(make([]byte, 65)))
	if len(f.kept) != 0 {
		t.Errorf("a value too large to keep is in the kept list")
	}
}
