//go:build !unix

package engine

import "time"

// processCPU is 0 where getrusage is not available: benchmarks then report
// wall time only.
func processCPU() time.Duration { return 0 }
