//go:build unix

package lake

import (
	"errors"
	"os"
	"syscall"
)

// flockExclusive blocks until f holds an exclusive flock.
func flockExclusive(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
