package cliff

import (
	"testing"

	"github.com/paramshare/paramshare/run"
)

var sink any

// benchStep measures one Advance (one gradient-descent step on every
// path), restarting the run when it ends.
func benchStep(b *testing.B, over map[string]any) {
	v := run.Defaults(fields)
	for k, x := range over {
		v[k] = x
	}
	c, err := newCliff(v)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if c.Pos() == c.Total() {
			c.Restart()
		}
		if err := c.Advance(); err != nil {
			b.Fatal(err)
		}
	}
	sink = c
}

func BenchmarkStepDefault(b *testing.B) { benchStep(b, nil) }
func BenchmarkStepCostliest(b *testing.B) {
	benchStep(b, map[string]any{"clip": clipBoth, "k": T - 1, "steps": maxSteps})
}

// BenchmarkFrame measures the frame's data part at the last step of the
// longest run (both paths, 201 points each).
func BenchmarkFrame(b *testing.B) {
	c, err := newCliff(run.Defaults(fields))
	if err != nil {
		b.Fatal(err)
	}
	c.load(c.v, c.Total())
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		sink = c.Frame()
	}
}

// BenchmarkSurface measures the surface: 120 forwards of the 50-step
// model, each a batch of 120.
func BenchmarkSurface(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		s, err := computeSurface(surfaceN)
		if err != nil {
			b.Fatal(err)
		}
		sink = s
	}
}
