package attnlearn

import (
	"encoding/json"
	"testing"

	"github.com/paramshare/paramshare/run"
)

var sink []byte

// BenchmarkStep is one step at the costliest values (2 blocks of 4 heads,
// learned positions): the training step, the probe's maps, the
// evaluations at three lengths amortized over EvalEvery steps, and the
// frame encoded to JSON as the run does after each step.
func BenchmarkStep(b *testing.B) {
	s, _ := run.Lookup(Name)
	l, err := newLearn(s.CostliestValues())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if l.pos == l.Total() {
			b.StopTimer()
			if err := l.Restart(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if err := l.Advance(); err != nil {
			b.Fatal(err)
		}
		if sink, err = json.Marshal(l.Frame().Data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(sink)), "frame-B")
}
