//go:build !linux

package experiments_test

import "time"

// threadCPU falls back to wall time where the thread's CPU time is not
// available.
var start0 = time.Now()

func threadCPU() time.Duration { return time.Since(start0) }

const threadCPUWorks = false
