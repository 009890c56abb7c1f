package lake

import (
	"context"
	"io"
	"time"
)

// Backend stores the lake's files. Keys are slash-separated paths relative to
// the lake root. It is the seam object storage plugs into: the local
// filesystem implementation is FS.
type Backend interface {
	// Create starts a new object. Nothing is visible under key until the
	// upload's Commit returns nil; after a crash at any point, either the
	// whole object or nothing is visible.
	Create(ctx context.Context, key string) (Upload, error)
	// Open opens a committed object for random access.
	Open(ctx context.Context, key string) (Object, error)
	// List returns the committed objects whose keys start with prefix, in
	// key order. Hidden names (starting with "." or "_") are skipped.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Delete removes an object; removing a missing object is not an error.
	Delete(ctx context.Context, key string) error
}

// Upload is an object being written.
type Upload interface {
	io.Writer
	// Flush hands what was written so far to the storage, so an upload
	// waiting for its Commit holds no buffer. It makes nothing durable
	// or visible.
	Flush() error
	// Commit makes the object durable and visible under its key.
	Commit() error
	// Abort discards the object. It is safe to call after Commit, which
	// makes it a no-op, so callers can always defer it.
	Abort() error
}

// Object is a committed object open for reading.
type Object interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// ObjectInfo describes a committed object.
type ObjectInfo struct {
	Key     string
	Size    int64
	ModTime time.Time
}
