// Package run owns the experiments that lesson widgets drive and the step
// control they all share: play, pause, step, reset, set-params and speed.
//
// A Run wraps one Experiment. It is owned by whoever started it (a web
// session) but is not tied to that owner's goroutines: while playing it
// advances on its own ticker, and every change is published to subscribers
// through a latest-value mailbox (see Subscription), so a slow subscriber
// gets fewer updates, never a growing queue, and several viewers could watch
// one run.
//
// Every command is validated before anything changes: a command that returns
// an error leaves the run exactly as it was.
//
// Package run knows nothing of HTTP; the web package maps its errors to
// protocol messages.
package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"sync"
	"time"

	"github.com/paramshare/paramshare/engine"
)

// State is where a run is in its life.
type State string

// The states of a run.
const (
	Paused   State = "paused"   // waiting for play or step
	Running  State = "running"  // advancing on its own ticker
	Done     State = "done"     // every step taken
	Diverged State = "diverged" // the experiment reported engine.ErrDiverged
	Failed   State = "error"    // a step failed; reset or set-params to recover
)

// Speed limits, in steps per second. The upper bound keeps one run from
// flooding its viewers; the lower bound keeps the ticker period finite.
const (
	MinSpeed     = 0.25
	MaxSpeed     = 120
	DefaultSpeed = 8
	// MaxStepN caps how many steps one step command may take at once.
	MaxStepN = 10000
)

// Error is a command's refusal: Code is a stable machine-readable word (the
// protocol's error codes) and Message a readable sentence.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "run: " + e.Message }

// Error codes returned by Run commands and experiments.
const (
	CodeBadParams         = "bad-params"         // a parameter is missing, of the wrong type or out of range
	CodeDone              = "run-done"           // step on a finished run
	CodeClosed            = "run-closed"         // the run was closed
	CodeUnknownExperiment = "unknown-experiment" // no experiment of that name
	CodeStepFailed        = "step-failed"        // the experiment could not take a step
)

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Experiment is one lesson's model and data, advanced one step at a time.
// Its methods are called by Run with Run's lock held, never concurrently.
type Experiment interface {
	// Total is the number of steps of a full run (positive).
	Total() int
	// Pos is the number of steps taken, 0 ≤ Pos ≤ Total.
	Pos() int
	// Advance takes the next step. It is called only when Pos < Total.
	Advance() error
	// Seek puts the experiment in the state it has after k steps from the
	// start, 0 ≤ k ≤ Total.
	Seek(k int) error
	// SetParams validates raw (a JSON object) and, only if it is valid,
	// takes the new parameters, keeping as many steps as the new setting
	// allows (min(Pos, new Total)). On error nothing changes; errors are
	// *Error with CodeBadParams.
	SetParams(raw json.RawMessage) error
	// Frame returns what a viewer draws now: Static is the large part that
	// changes only with the parameters (StaticRev changes with it), Data
	// the part that changes with each step. Both must be safe to read
	// after the call returns (not reused by later steps).
	Frame() Frame
}

// Frame is an experiment's picture of itself.
type Frame struct {
	StaticRev int
	Static    any
	Data      any
}

// Update is what subscribers receive: the run's state and its latest frame.
type Update struct {
	Seq   uint64 // increases with every update of the run
	State State
	Speed float64
	Step  int
	Total int
	Err   string // the failure's message when State is Failed or Diverged
	Frame Frame
}

// Run is the shared step control around one Experiment. It is safe for
// concurrent use.
type Run struct {
	mu      sync.Mutex
	exp     Experiment
	state   State
	speed   float64
	failure string
	seq     uint64
	gen     int           // incremented whenever a play loop must stop
	speedCh chan struct{} // tells the play loop its period changed
	subs    map[*Subscription]struct{}
	closed  bool
	loops   sync.WaitGroup
	// last is the last update built without a panic: what viewers keep
	// seeing once the experiment has crashed and cannot draw itself.
	last Update
}

// Notifier is implemented by an experiment that also changes between
// commands, from work of its own in the background (cnn-train's shift test
// reporting its progress). New hands it a function to call after each such
// change; the function publishes a fresh update to the run's subscribers.
// The experiment must not call it while a Run method is calling the
// experiment (Run's lock is held then), and must stop calling it once its
// Close has returned.
type Notifier interface {
	SetNotify(changed func())
}

// BackgroundFailer is implemented by a Notifier whose background work can
// fail (cnn-train's shift test recovers a panic at its goroutine's
// boundary). After each notification Run asks for the error; a non-nil one
// stops the run in Failed, as a failed step does. The experiment forgets
// the error when Seek(0) or SetParams starts it afresh.
type BackgroundFailer interface {
	BackgroundErr() error
}

// PanicError is a panic in an experiment, recovered where Run (or the
// experiment's own background goroutine) calls into it, so that a bug in
// one lesson's model stops that run, not the server.
type PanicError struct {
	Where string // what was running: "*run.ConvSlide", "cnn-train shift test"
	Value any    // what was passed to panic
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("run: %s crashed (a bug; the server logged it): %v", e.Where, e.Value)
}

// recovered turns a recovered panic value p into a *PanicError and logs it
// with its stack on slog's default logger (cmd/web points that at the
// server's log). It must be called from the deferred function that
// recovered p, so that the stack still shows where the panic happened.
func recovered(where string, p any) *PanicError {
	slog.Error("run: panic recovered", "where", where, "panic", p, "stack", string(debug.Stack()))
	return &PanicError{Where: where, Value: p}
}

// Closer is implemented by an experiment that holds background work; Run.Close
// calls Close once, after the run's own goroutine has ended and with no lock
// held, so Close may wait for that work to finish.
type Closer interface {
	Close()
}

// New returns a paused run of exp at its current position.
func New(exp Experiment) *Run {
	r := &Run{exp: exp, state: Paused, speed: DefaultSpeed, subs: map[*Subscription]struct{}{}}
	r.settleLocked()
	if n, ok := exp.(Notifier); ok {
		n.SetNotify(r.experimentChanged)
	}
	return r
}

// experimentChanged publishes the experiment's new picture (see Notifier),
// stopping the run first if its background work failed (BackgroundFailer).
func (r *Run) experimentChanged() {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.recoverLocked(nil)
	if r.closed {
		return
	}
	if bf, ok := r.exp.(BackgroundFailer); ok {
		if err := bf.BackgroundErr(); err != nil && r.state != Failed {
			r.failLocked(err)
		}
	}
	r.publishLocked()
}

// recoverLocked, deferred (after the lock's Unlock, so that it runs first)
// by every method that calls into the experiment, turns a panic there into
// the run's Failed state, publishes it and, when errp is not nil, returns
// it as a CodeStepFailed error. The lock must be held.
func (r *Run) recoverLocked(errp *error) {
	p := recover()
	if p == nil {
		return
	}
	err := r.failLocked(recovered(fmt.Sprintf("%T", r.exp), p))
	r.publishLocked()
	if errp != nil {
		*errp = err
	}
}

// Snapshot returns the run's current update.
func (r *Run) Snapshot() Update {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.updateLocked()
}

// updateLocked builds the run's update. If the experiment panics while
// drawing itself, the run fails and the update carries the last picture
// that was drawn.
func (r *Run) updateLocked() Update {
	step, total, frame, ok := r.pictureLocked()
	if !ok {
		step, total, frame = r.last.Step, r.last.Total, r.last.Frame
	} else {
		r.last.Step, r.last.Total, r.last.Frame = step, total, frame
	}
	return Update{
		Seq: r.seq, State: r.state, Speed: r.speed,
		Step: step, Total: total, Err: r.failure, Frame: frame,
	}
}

// pictureLocked asks the experiment where it is and what it shows; ok is
// false, and the run Failed, if that panicked.
func (r *Run) pictureLocked() (step, total int, frame Frame, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			r.failLocked(recovered(fmt.Sprintf("%T", r.exp), p))
			ok = false
		}
	}()
	return r.exp.Pos(), r.exp.Total(), r.exp.Frame(), true
}

// Play starts advancing at the run's speed. Playing a finished run starts
// it again from step 0; playing a running run does nothing.
func (r *Run) Play() (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.recoverLocked(&err)
	if r.closed {
		return errorf(CodeClosed, "the run is closed")
	}
	switch r.state {
	case Running:
		return nil
	case Done, Diverged, Failed:
		if err := r.exp.Seek(0); err != nil {
			return r.failLocked(err)
		}
		r.failure = ""
	}
	r.state = Running
	r.gen++
	r.speedCh = make(chan struct{}, 1)
	r.loops.Add(1)
	go r.loop(r.gen, r.speedCh)
	r.publishLocked()
	return nil
}

// Pause stops a running run where it is. Pausing a run that is not running
// does nothing.
func (r *Run) Pause() (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.recoverLocked(&err)
	if r.closed {
		return errorf(CodeClosed, "the run is closed")
	}
	if r.state != Running {
		return nil
	}
	r.stopLoopLocked()
	r.state = Paused
	r.publishLocked()
	return nil
}

// Step pauses the run and takes n steps (fewer if the run ends first). It
// returns an error, changing nothing, unless 1 ≤ n ≤ MaxStepN and the run
// has steps left.
func (r *Run) Step(n int) (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.recoverLocked(&err)
	if r.closed {
		return errorf(CodeClosed, "the run is closed")
	}
	if n < 1 || n > MaxStepN {
		return errorf(CodeBadParams, "step count must be between 1 and %d, got %d", MaxStepN, n)
	}
	switch r.state {
	case Done:
		return errorf(CodeDone, "the run is finished; reset it to start again")
	case Diverged, Failed:
		return errorf(CodeDone, "the run has stopped (%s); reset it to start again", r.state)
	}
	r.stopLoopLocked()
	r.state = Paused
	for i := 0; i < n && r.exp.Pos() < r.exp.Total(); i++ {
		if err := r.exp.Advance(); err != nil {
			r.failLocked(err)
			break
		}
	}
	r.settleLocked()
	r.publishLocked()
	return nil
}

// Seek pauses the run and puts it at step k (0 ≤ k ≤ Total), backwards or
// forwards: a lesson can step back through what it showed. A run that had
// diverged or failed may be sought back to an earlier step. An out-of-range
// k changes nothing.
func (r *Run) Seek(k int) (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.recoverLocked(&err)
	if r.closed {
		return errorf(CodeClosed, "the run is closed")
	}
	if total := r.exp.Total(); k < 0 || k > total {
		return errorf(CodeBadParams, "seek position must be between 0 and %d, got %d", total, k)
	}
	r.stopLoopLocked()
	if err := r.exp.Seek(k); err != nil {
		r.failLocked(err)
	} else {
		r.state = Paused
		r.failure = ""
	}
	r.settleLocked()
	r.publishLocked()
	return nil
}

// Reset pauses the run and takes it back to step 0.
func (r *Run) Reset() (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.recoverLocked(&err)
	if r.closed {
		return errorf(CodeClosed, "the run is closed")
	}
	if err := r.exp.Seek(0); err != nil {
		return errorf(CodeStepFailed, "reset failed: %v", err)
	}
	r.stopLoopLocked()
	r.state = Paused
	r.failure = ""
	r.publishLocked()
	return nil
}

// SetParams hands raw to the experiment. If it is accepted, the run keeps
// its state (a running run goes on with the new parameters) at the same
// step or the new last one; if not, the run is left exactly as it was and
// the experiment's error is returned.
func (r *Run) SetParams(raw json.RawMessage) (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.recoverLocked(&err)
	if r.closed {
		return errorf(CodeClosed, "the run is closed")
	}
	if err := r.exp.SetParams(raw); err != nil {
		var re *Error
		if errors.As(err, &re) {
			return re
		}
		return errorf(CodeBadParams, "%v", err)
	}
	if r.state == Failed || r.state == Diverged {
		r.state = Paused
		r.failure = ""
	}
	if r.state == Done && r.exp.Pos() < r.exp.Total() {
		r.state = Paused
	}
	r.settleLocked()
	r.publishLocked()
	return nil
}

// SetSpeed sets the steps per second used while playing. It returns an
// error, changing nothing, unless MinSpeed ≤ sps ≤ MaxSpeed.
func (r *Run) SetSpeed(sps float64) (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.recoverLocked(&err)
	if r.closed {
		return errorf(CodeClosed, "the run is closed")
	}
	if math.IsNaN(sps) || sps < MinSpeed || sps > MaxSpeed {
		return errorf(CodeBadParams, "speed must be between %g and %g steps per second, got %g", float64(MinSpeed), float64(MaxSpeed), sps)
	}
	if sps == r.speed {
		return nil
	}
	r.speed = sps
	if r.state == Running {
		select {
		case r.speedCh <- struct{}{}:
		default: // the loop has a change pending already; it reads the new speed
		}
	}
	r.publishLocked()
	return nil
}

// Close stops the run, waits for its ticker goroutine to end and closes
// every subscription. Commands on a closed run return CodeClosed.
func (r *Run) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.stopLoopLocked()
	for s := range r.subs {
		s.close()
	}
	clear(r.subs)
	r.mu.Unlock()
	r.loops.Wait()
	if c, ok := r.exp.(Closer); ok {
		defer func() {
			if p := recover(); p != nil {
				recovered(fmt.Sprintf("%T.Close", r.exp), p) // logged; the run is closed anyway
			}
		}()
		c.Close()
	}
}

// loop advances the run while it plays. It belongs to play generation gen
// and ends as soon as the run's generation moves on (pause, step, reset,
// close) or the run stops running.
func (r *Run) loop(gen int, speedCh <-chan struct{}) {
	defer r.loops.Done()
	r.mu.Lock()
	period := periodOf(r.speed)
	r.mu.Unlock()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-speedCh:
			r.mu.Lock()
			stopped := r.gen != gen || r.state != Running
			period = periodOf(r.speed)
			r.mu.Unlock()
			if stopped {
				return
			}
			t.Reset(period)
			continue
		case <-t.C:
		}
		if !r.tick(gen) {
			return
		}
	}
}

// tick takes one step of play generation gen and reports whether the run
// is still playing. It runs on the loop's own goroutine, where nothing else
// would recover a panic in the experiment: recoverLocked turns one into the
// run's Failed state instead of a crash of the whole process.
func (r *Run) tick(gen int) (running bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.recoverLocked(nil)
	if r.gen != gen || r.state != Running {
		return false
	}
	if r.exp.Pos() < r.exp.Total() {
		if err := r.exp.Advance(); err != nil {
			r.failLocked(err)
		}
	}
	r.settleLocked()
	r.publishLocked()
	return r.state == Running
}

func periodOf(sps float64) time.Duration {
	return time.Duration(float64(time.Second) / sps)
}

// stopLoopLocked makes a play loop, if any, stop at its next wake-up.
func (r *Run) stopLoopLocked() {
	r.gen++
	if r.speedCh != nil {
		// Wake the loop so it notices at once rather than a period later.
		select {
		case r.speedCh <- struct{}{}:
		default:
		}
		r.speedCh = nil
	}
}

// settleLocked marks a run with no steps left as done.
func (r *Run) settleLocked() {
	if (r.state == Paused || r.state == Running) && r.exp.Pos() >= r.exp.Total() {
		r.stopLoopLocked()
		r.state = Done
	}
}

// failLocked records a failed step: the run stops in Failed, or Diverged
// when the experiment's error wraps engine.ErrDiverged.
func (r *Run) failLocked(err error) error {
	r.stopLoopLocked()
	r.state = Failed
	if errors.Is(err, engine.ErrDiverged) {
		r.state = Diverged
	}
	r.failure = err.Error()
	return errorf(CodeStepFailed, "%v", err)
}

// publishLocked sends the run's update to every subscriber's mailbox.
func (r *Run) publishLocked() {
	r.seq++
	if len(r.subs) == 0 {
		return
	}
	u := r.updateLocked()
	for s := range r.subs {
		s.put(u)
	}
}
