package run

import (
	"context"
	"errors"
	"time"

	"github.com/paramshare/paramshare/engine"
)

// ErrStepRange is Replay's refusal of a step beyond the experiment's end.
var ErrStepRange = errors.New("run: step out of range")

// Replay builds the experiment spec makes of v and takes it to step (-1:
// the last step), holding a slot of sched for owner a quantum at a time as
// a run does, so that an export costs what the same steps cost a run and
// stops when ctx ends (returning ctx's error). A step past the end returns
// the built experiment with ErrStepRange. Panics in the experiment come
// back as *PanicError.
func Replay(ctx context.Context, spec *Spec, v Values, step int, sched *Scheduler, owner Owner) (exp Experiment, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Recovered(spec.Name+" replay", p)
		}
	}()
	if exp, err = spec.New(v); err != nil {
		return nil, err
	}
	if step < 0 {
		step = exp.Total()
	}
	if step > exp.Total() {
		return exp, ErrStepRange
	}
	for exp.Pos() < step {
		release, err := sched.Acquire(ctx, owner)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		for exp.Pos() < step && time.Since(start) < quantum && ctx.Err() == nil {
			if err := exp.Advance(); err != nil {
				release()
				if errors.Is(err, engine.ErrDiverged) {
					return exp, nil // the figure shows where it diverged
				}
				return nil, err
			}
		}
		release()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return exp, nil
}
