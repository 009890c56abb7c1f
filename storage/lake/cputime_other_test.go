//go:build !unix

package lake_test

import "time"

// cpuTime is not measured here: benchmarks report 0 cpu-ns/row.
func cpuTime() time.Duration { return 0 }
