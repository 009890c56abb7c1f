package edge

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// restoreTemplates loads the template snapshot, if any. A missing file is
// normal (first start); an unreadable one is logged and counted, and the
// edge starts without it: exporters re-send templates.
func (e *Edge) restoreTemplates() {
	if e.cfg.TemplateFile == "" {
		return
	}
	b, err := os.ReadFile(e.cfg.TemplateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err == nil {
		var n int
		if n, err = e.dec.UnmarshalTemplates(b); err == nil {
			e.log.Info("templates restored", "file", e.cfg.TemplateFile, "templates", n)
			return
		}
	}
	e.stats.TemplateSaveErrors.Add(1)
	e.log.Warn("templates not restored", "file", e.cfg.TemplateFile, "err", err)
}

// saveTemplates writes the snapshot atomically (temp file, fsync, rename,
// directory fsync).
func (e *Edge) saveTemplates() error {
	if e.cfg.TemplateFile == "" {
		return nil
	}
	err := func() error {
		b, err := e.dec.MarshalTemplates()
		if err != nil {
			return err
		}
		dir := filepath.Dir(e.cfg.TemplateFile)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		f, err := os.CreateTemp(dir, ".templates-*")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name()) // no-op after the rename
		if _, err := f.Write(b); err != nil {
			_ = f.Close()
			return err
		}
		if err := errors.Join(f.Sync(), f.Close()); err != nil {
			return err
		}
		if err := os.Rename(f.Name(), e.cfg.TemplateFile); err != nil {
			return err
		}
		d, err := os.Open(dir)
		if err != nil {
			return err
		}
		return errors.Join(d.Sync(), d.Close())
	}()
	if err != nil {
		e.stats.TemplateSaveErrors.Add(1)
		return fmt.Errorf("save templates to %s: %w", e.cfg.TemplateFile, err)
	}
	return nil
}

// saveTemplatesEvery saves the snapshot every TemplateInterval until ctx
// is done.
func (e *Edge) saveTemplatesEvery(ctx context.Context) {
	t := time.NewTicker(e.cfg.TemplateInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := e.saveTemplates(); err != nil {
				e.log.Warn("save templates", "err", err)
			}
		}
	}
}
