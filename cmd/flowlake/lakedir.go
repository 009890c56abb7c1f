package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// lakeCatalogFile is the file every lake holds at its root once it has been
// opened for writing (storage/lake's catalog cache). With the dataset
// directories it is how the CLI tells a lake from any other directory.
const lakeCatalogFile = "_catalog.json"

// errNotALake is wrapped by the errors of commands that read a directory
// that is not a lake.
var errNotALake = errors.New("not a Flowlake lake")

// checkLakeDir returns nil when root looks like a lake: a directory that
// holds the catalog or at least one dataset directory. Commands that only
// read (query, lake stats/ls/verify/compact) call it before opening the
// lake, since opening creates the directory and the catalog: a mistyped
// --data, or running from another directory, must be an error, not an
// empty answer that leaves an empty lake behind.
func checkLakeDir(root string) error {
	hint := "point --data (or FLOWLAKE_DATA, lake.root) at a lake, or create one with 'flowlake gen', 'flowlake demo' or 'flowlake serve'"
	info, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("lake %s: %w: the directory does not exist; %s", root, errNotALake, hint)
	case err != nil:
		return fmt.Errorf("lake %s: %w", root, err)
	case !info.IsDir():
		return fmt.Errorf("lake %s: %w: it is a file, not a directory; %s", root, errNotALake, hint)
	}
	if _, err := os.Stat(filepath.Join(root, lakeCatalogFile)); err == nil {
		return nil
	}
	for _, name := range schema.Names() {
		if info, err := os.Stat(filepath.Join(root, name)); err == nil && info.IsDir() {
			return nil
		}
	}
	return fmt.Errorf("lake %s: %w: it holds neither %s nor a dataset directory (%s/); %s",
		root, errNotALake, lakeCatalogFile, strings.Join(schema.Names(), "/, "), hint)
}

// openLake opens the configured lake for a command that reads it (or
// maintains what is there): a directory that is not a lake is an error
// (see checkLakeDir), and nothing is created.
func (a *app) openLake() (*lake.Lake, error) {
	if err := checkLakeDir(a.cfg.Lake.Root); err != nil {
		return nil, err
	}
	return a.createLake()
}

// createLake opens the configured lake, creating the directory if needed:
// for the commands that write data (serve, demo, gen). A new lake gets
// its flows dataset directory at once, so that the commands that read
// (checkLakeDir) know it for a lake even before a row or a catalog was
// written, as when serve ran on an empty directory and stopped.
func (a *app) createLake() (*lake.Lake, error) {
	l, err := lake.Open(a.cfg.Lake, a.logger)
	if err != nil {
		return nil, fmt.Errorf("open lake %s: %w", a.cfg.Lake.Root, err)
	}
	if err := checkLakeDir(a.cfg.Lake.Root); errors.Is(err, errNotALake) {
		if err := os.MkdirAll(filepath.Join(a.cfg.Lake.Root, schema.Flows), 0o755); err != nil {
			return nil, errors.Join(fmt.Errorf("create lake %s: %w", a.cfg.Lake.Root, err), l.Close())
		}
	}
	return l, nil
}
