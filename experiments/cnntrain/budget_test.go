//go:build unix

package cnntrain

import (
	"encoding/json"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/paramshare/paramshare/lab"
)

// heapNow is the live heap after two collections.
func heapNow() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// cpuTime is the CPU time the process has used: a step's cost measured
// with it does not depend on what else the machine is running.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestBudget measures a race at the fields' most expensive values (batch
// 256, 5,000 training digits, 50 epochs — the 600-step cap — and Adam)
// against the spec's budget: the heap it holds beyond the shared digits,
// with a full history and the step's evaluation and shift test run; the
// longest Advance, a training step or a gate piece; and the frame's bytes.
// A race held 140–280 MB before it trained in passes of one example and
// evaluated on its own models' buffers.
func TestBudget(t *testing.T) {
	skipTrainingInShort(t, "trains 3 steps at batch 256 and runs a full evaluation and shift test (~3 s)")
	b := spec(t).Budget
	lab.TrainSet()
	lab.TestSet()
	shiftedTest() // the shared data, loaded before the measurement
	before := heapNow()

	r := newTestRace(t, `{"batch":256,"trainSize":5000,"epochs":50}`)
	if r.Total() != maxSteps || r.v.String("optimizer") != "adam" {
		t.Fatalf("total %d, optimizer %s", r.Total(), r.v.String("optimizer"))
	}
	var worst, steps time.Duration
	for range 3 {
		start := cpuTime(t)
		if err := r.Advance(); err != nil {
			t.Fatal(err)
		}
		d := cpuTime(t) - start
		worst, steps = max(worst, d), steps+d
	}
	t.Logf("a step at batch 256: %v of CPU on average, %v at most", (steps / 3).Round(time.Millisecond), worst.Round(time.Millisecond))
	// The step's weights through an evaluation and a shift test, piece by
	// piece, as Advance runs them.
	r.mu.Lock()
	r.setGateLocked(true, true)
	pieces := len(r.gate.pieces)
	r.mu.Unlock()
	var slowest, all time.Duration
	for r.gate != nil {
		start := cpuTime(t)
		if err := r.Advance(); err != nil {
			t.Fatal(err)
		}
		d := cpuTime(t) - start
		slowest, all = max(slowest, d), all+d
	}
	t.Logf("an evaluation and a shift test: %d pieces, %v of CPU in all, %v at most", pieces, all.Round(time.Millisecond), slowest.Round(time.Millisecond))
	worst = max(worst, slowest)
	// The longest history a frame may carry: every step of the cap, and an
	// evaluation every EvalEvery steps.
	for i := range r.loss {
		for len(r.loss[i]) < maxSteps {
			r.loss[i] = append(r.loss[i], r.loss[i][0])
			r.smooth[i] = append(r.smooth[i], r.smooth[i][0])
		}
	}
	for len(r.evals) < maxSteps/EvalEvery(r.v)+1 {
		r.evals = append(r.evals, r.evals[0])
	}
	r.shifts = append(r.shifts, r.shifts[0], r.shifts[0])
	r.pos = maxSteps
	f := r.Frame()
	data, _ := json.Marshal(f.Data)
	static, _ := json.Marshal(f.Static)
	held := heapNow() - before
	runtime.KeepAlive(r)
	t.Logf("one race holds %.1f MB beyond the shared digits (budget %.1f MB); frame data %d bytes (budget %d), static %d (budget %d)",
		float64(held)/1e6, float64(b.Memory)/1e6, len(data), b.FrameBytes, len(static), b.StaticBytes)
	t.Logf("the longest Advance: %v of CPU (budget %v)", worst.Round(time.Millisecond), b.Step)
	if held > b.Memory {
		t.Errorf("a race holds %d bytes, over its budget of %d", held, b.Memory)
	}
	if len(data) > b.FrameBytes || len(static) > b.StaticBytes {
		t.Errorf("frame of %d + %d bytes, over the budget of %d + %d", len(data), len(static), b.FrameBytes, b.StaticBytes)
	}
	if worst > b.Step {
		t.Errorf("an Advance took %v, over the budget of %v", worst, b.Step)
	}
	if slices.ContainsFunc(r.last, func(l lastStep) bool { return l.norms == nil }) {
		t.Error("a model has no gradient norms after healthy steps")
	}
}
