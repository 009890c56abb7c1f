package lake

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// tempPrefix starts the name of every file being written: readers, List and
// Hive-style engines ignore dot-files, so a partial file is never seen.
const tempPrefix = ".tmp-"

// FS is the Backend on a local filesystem directory. Publishing is atomic:
// write to a hidden temporary file in the target directory, fsync it, rename
// it into place and fsync the directory.
type FS struct {
	root       string
	bufs       sync.Pool // *bufio.Writer of uploads being written
	staleAfter time.Duration
	swept      sync.Once // stale temporary files removed
}

var (
	_ Backend         = (*FS)(nil)
	_ FolderVersioner = (*FS)(nil)
)

// NewFS returns the filesystem backend rooted at dir, creating dir. Temporary
// files older than staleAfter (left by a crash) are removed by the first
// listing of the whole lake (a full catalog refresh), not at once: opening
// a lake to read one hour walks nothing else.
func NewFS(dir string, staleAfter time.Duration) (*FS, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create lake root %s: %w", dir, err)
	}
	return &FS{root: dir, staleAfter: staleAfter}, nil
}

// Root returns the directory of the backend.
func (b *FS) Root() string { return b.root }

func (b *FS) path(key string) string { return filepath.Join(b.root, filepath.FromSlash(key)) }

// Create implements Backend.
func (b *FS) Create(ctx context.Context, key string) (Upload, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	final := b.path(key)
	dir := filepath.Dir(final)
	// Delete removes directories it leaves empty, so a concurrent Delete
	// may remove dir between its creation and the temporary file's: then
	// create both again (a directory holding the temporary file is never
	// empty, so once it exists the upload is safe).
	for attempt := 0; ; attempt++ {
		created, err := mkdirAllSynced(dir)
		var f *os.File
		if err == nil {
			f, err = os.CreateTemp(dir, tempPrefix+"*")
		}
		if errors.Is(err, fs.ErrNotExist) && attempt < 100 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", key, err)
		}
		return &fsUpload{b: b, f: f, final: final, syncDirs: created}, nil
	}
}

type fsUpload struct {
	b        *FS
	f        *os.File
	w        *bufio.Writer // nil until written to, and after Flush
	final    string
	syncDirs []string
	done     bool
}

// uploadBuffer is the write buffer of an upload: segments are written in
// pages of a few KiB to a few MiB.
const uploadBuffer = 1 << 20

func (u *fsUpload) Write(p []byte) (int, error) {
	if u.w == nil {
		if w, ok := u.b.bufs.Get().(*bufio.Writer); ok {
			w.Reset(u.f)
			u.w = w
		} else {
			u.w = bufio.NewWriterSize(u.f, uploadBuffer)
		}
	}
	return u.w.Write(p)
}

// Flush implements Upload: it writes the buffer to the file and returns
// it to the pool.
func (u *fsUpload) Flush() error {
	if u.w == nil {
		return nil
	}
	err := u.w.Flush()
	u.release()
	if err != nil {
		return fmt.Errorf("write %s: %w", u.f.Name(), err)
	}
	return nil
}

// release returns the write buffer to the pool without flushing it.
func (u *fsUpload) release() {
	if u.w != nil {
		u.w.Reset(nil)
		u.b.bufs.Put(u.w)
		u.w = nil
	}
}

func (u *fsUpload) Commit() error {
	if u.done {
		return errors.New("commit: upload already finished")
	}
	u.done = true
	tmp := u.f.Name()
	err := u.Flush()
	if err == nil {
		err = u.f.Sync()
	}
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, u.final)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("publish %s: %w", u.final, err)
	}
	// The rename is durable once the directory is; new parents likewise.
	for _, d := range append([]string{filepath.Dir(u.final)}, u.syncDirs...) {
		if err := syncDir(d); err != nil {
			return fmt.Errorf("publish %s: %w", u.final, err)
		}
	}
	return nil
}

func (u *fsUpload) Abort() error {
	if u.done {
		return nil
	}
	u.done = true
	u.release()
	return errors.Join(u.f.Close(), os.Remove(u.f.Name()))
}

// Open implements Backend.
func (b *FS) Open(ctx context.Context, key string) (Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(b.path(key))
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &fsObject{path: f.Name(), f: f, size: st.Size()}, nil
}

// fsObject is an open file that can give its descriptor back between
// reads (Park): a query over tens of thousands of files keeps their
// parsed footers, not their descriptors.
type fsObject struct {
	path string
	size int64

	mu       sync.Mutex
	f        *os.File // nil while parked
	inflight int      // reads in progress
	closed   bool
}

var _ Parker = (*fsObject)(nil)

func (o *fsObject) Size() int64 { return o.size }

// ReadAt implements io.ReaderAt, opening the file again if it was parked.
// Segments are immutable, so the file reopened is the one first opened
// unless it was deleted meanwhile (then the read fails).
func (o *fsObject) ReadAt(p []byte, off int64) (int, error) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return 0, os.ErrClosed
	}
	if o.f == nil {
		f, err := os.Open(o.path)
		if err != nil {
			o.mu.Unlock()
			return 0, err
		}
		o.f = f
	}
	f := o.f
	o.inflight++
	o.mu.Unlock()
	n, err := f.ReadAt(p, off)
	o.mu.Lock()
	o.inflight--
	o.mu.Unlock()
	return n, err
}

// Park closes the descriptor unless a read is in progress; the next read
// opens the file again.
func (o *fsObject) Park() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f != nil && o.inflight == 0 {
		_ = o.f.Close()
		o.f = nil
	}
}

// Close implements io.Closer.
func (o *fsObject) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	if o.f == nil {
		return nil
	}
	err := o.f.Close()
	o.f = nil
	return err
}

// List implements Backend.
func (b *FS) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	// Walk from the deepest directory the prefix names, then filter.
	start := b.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = b.path(prefix[:i])
	}
	if prefix == "" {
		b.swept.Do(func() { b.removeStaleTemp(b.staleAfter) })
	}
	var out []ObjectInfo
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking, or prefix absent
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := d.Name()
		if p != start && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(b.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		out = append(out, ObjectInfo{Key: key, Size: info.Size(), ModTime: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	slices.SortFunc(out, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete implements Backend. Directories left empty are removed up to the
// root, so retention leaves no empty partition folders behind.
func (b *FS) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := b.path(key)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	for dir := filepath.Dir(p); dir != b.root && strings.HasPrefix(dir, b.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil { // not empty (or gone): stop
			break
		}
	}
	return syncDir(filepath.Dir(p))
}

// FolderVersion implements FolderVersioner with the directory's
// modification time, which changes whenever a file is created, renamed
// into or removed from it. A time less than racyWindow old is not trusted
// (a change within the filesystem's timestamp granularity could leave it
// as it was): the folder is then listed every time until it settles.
func (b *FS) FolderVersion(ctx context.Context, name string) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	info, err := os.Stat(b.path(name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("stat folder %s: %w", name, err)
	case !info.IsDir():
		return "", true, nil
	}
	if time.Since(info.ModTime()) < racyWindow {
		return "", true, nil
	}
	return strconv.FormatInt(info.ModTime().UnixNano(), 36), true, nil
}

// Folders implements FolderVersioner.
func (b *FS) Folders(ctx context.Context, name string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(b.path(name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("list folder %s: %w", name, err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && !strings.HasPrefix(e.Name(), "_") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// racyWindow is how old a folder's modification time must be before
// FolderVersion vouches for it.
const racyWindow = 2 * time.Second

func (b *FS) removeStaleTemp(staleAfter time.Duration) {
	cutoff := time.Now().Add(-staleAfter)
	_ = filepath.WalkDir(b.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // best effort: an unreadable corner does not block opening
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tempPrefix) {
			if info, err := d.Info(); err == nil && info.ModTime().Before(cutoff) {
				_ = os.Remove(p)
			}
		}
		return nil
	})
}

// mkdirAllSynced creates dir and its missing parents and returns the parents
// whose entries changed (to be fsynced once the file is published).
func mkdirAllSynced(dir string) ([]string, error) {
	if _, err := os.Stat(dir); err == nil {
		return nil, nil
	}
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		missing = append(missing, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	parents := make([]string, 0, len(missing))
	for _, d := range missing {
		parents = append(parents, filepath.Dir(d))
	}
	return parents, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}
