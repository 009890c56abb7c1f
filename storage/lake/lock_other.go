//go:build !unix

package lake

import (
	"errors"
	"os"
)

// flockExclusive is not available here: FS.Lock fails, and the lake falls
// back to in-process locks (see Open).
func flockExclusive(*os.File) error { return errors.New("file locks are not supported on this system") }
