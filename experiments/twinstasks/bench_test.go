package twinstasks

import (
	"encoding/json"
	"testing"

	"github.com/paramshare/paramshare/run"
)

var sink []byte

// benchRace is one race step at the defaults (batch 16 is also the most
// a run allows): the training steps, the ledger, the evaluations the
// schedule owes amortized, and the frame encoded to JSON as the run does
// after each step.
func benchRace(b *testing.B, name string, build func(run.Values) (run.Experiment, error)) {
	e, err := build(defaults(b, name))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if e.Pos() == e.Total() {
			b.StopTimer()
			if err := e.Restart(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if err := e.Advance(); err != nil {
			b.Fatal(err)
		}
		if sink, err = json.Marshal(e.Frame().Data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(sink)), "frame-B")
}

func BenchmarkTwinsStep(b *testing.B) {
	benchRace(b, TwinsName, func(v run.Values) (run.Experiment, error) { return newTwins(v) })
}

func BenchmarkTasksStep(b *testing.B) {
	benchRace(b, TasksName, func(v run.Values) (run.Experiment, error) { return newTasks(v) })
}
