package lake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// lockDir holds the lock files of FS, one per partition ever locked. The
// leading underscore hides it from List. Lock files are never deleted:
// deleting a file another process is about to flock would let two
// processes hold "the same" lock.
const lockDir = "_locks"

var _ Locker = (*FS)(nil)

// Lock implements Locker with an exclusive flock(2) on
// <root>/_locks/<name>.lock. The kernel releases it when the holder's
// process dies, so a crash never leaves a partition locked. flock locks
// belong to the open file, so two goroutines of one process exclude each
// other as two processes do.
func (b *FS) Lock(ctx context.Context, name string) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := filepath.Join(b.root, lockDir, filepath.FromSlash(name)+".lock")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- flockExclusive(f) }()
	select {
	case err := <-done:
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		return func() { _ = f.Close() }, nil // closing the file releases the lock
	case <-ctx.Done():
		// The flock call cannot be interrupted: release the lock as soon
		// as it is granted.
		go func() {
			<-done
			_ = f.Close()
		}()
		return nil, ctx.Err()
	}
}
