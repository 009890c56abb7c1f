package main

import (
	"os"
	"path/filepath"
	"strings"
)

// selfCommand returns how a user at the same shell runs this binary again:
// the path it was started by when that names a file (./bin/flowlake after
// `make demo`), "flowlake" when it was found on PATH, else the absolute
// path of the running executable.
func (a *app) selfCommand() string {
	argv0 := a.hooks.argv0
	switch {
	case strings.ContainsRune(argv0, filepath.Separator) || strings.Contains(argv0, "/"):
		return argv0
	case argv0 != "":
		return argv0 // found on PATH
	}
	if exe, err := os.Executable(); err == nil {
		return exe
	}
	return "flowlake"
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe
// characters.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
