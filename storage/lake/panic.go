package lake

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// decoderPanic is a panic recovered while reading a file: parquet-go
// panics on some hostile bytes, and a reader must turn that into an error
// (it wraps ErrCorrupt). It keeps the stack, so tests and fuzz targets can
// tell hostile input caught in the library from a bug in Flowlake's own
// code, which must fail them.
type decoderPanic struct {
	value any
	stack string
}

// recovered wraps a recovered panic value; call it in the deferred
// function that recovered, so the stack still shows where it started.
func recovered(p any) error { return &decoderPanic{value: p, stack: string(debug.Stack())} }

func (p *decoderPanic) Error() string {
	return fmt.Sprintf("%v: parquet decoder panic: %v", ErrCorrupt, p.value)
}

func (p *decoderPanic) Unwrap() error { return ErrCorrupt }

// ownPrefix starts the function names of Flowlake's code in a stack.
const ownPrefix = "github.com/flowlake/flowlake/"

// inOwnCode reports whether the panic was raised by Flowlake's code (the
// first frame after runtime's panic machinery is ours) rather than by a
// library it called.
func (p *decoderPanic) inOwnCode() bool {
	lines := strings.Split(p.stack, "\n")
	for i, line := range lines {
		if !strings.HasPrefix(line, "panic(") {
			continue
		}
		// Function lines alternate with their file:line lines.
		for j := i + 2; j < len(lines); j += 2 {
			fn := lines[j]
			if strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "\t") || fn == "" {
				continue
			}
			return strings.HasPrefix(fn, ownPrefix)
		}
	}
	return false
}
