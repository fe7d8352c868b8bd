// Package run owns the step control that every lesson widget shares: play,
// pause, step, seek, reset, set-params and speed, the registry of
// experiments (Spec), the one parameter decoder and the CPU scheduler.
//
// A Run wraps one Experiment and gives it a goroutine of its own, the
// worker: only the worker calls the experiment, and it holds no lock while
// it does. Commands change the run's control state under a short lock and
// return at once; long work (a 600-step seek, a replay after new
// parameters) happens on the worker, one step at a time, each step holding
// a slot of the Scheduler, and any later command (pause, seek, close)
// interrupts it between two steps. Every change is published to subscribers
// through a latest-value mailbox (see Subscription) as an Update whose
// frame is encoded to JSON once, whatever the number of viewers.
//
// Every command is validated before anything changes: a command that
// returns an error leaves the run exactly as it was.
//
// Package run knows nothing of HTTP; the web package maps its errors to
// protocol messages.
package run

import (
	"context"
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
	Running  State = "running"  // advancing at its speed
	Working  State = "working"  // moving to Update.Target (a step, seek or replay)
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
	// MaxStepN caps how many steps one step command may ask for.
	MaxStepN = 10000
)

// quantum is how long the worker keeps a CPU slot while it works through a
// long step or seek before it lets other runs have a turn; progressEvery is
// how often such work publishes its progress.
const (
	quantum       = 20 * time.Millisecond
	progressEvery = 100 * time.Millisecond
)

// Error is a command's refusal: Code is a stable machine-readable word (the
// protocol's error codes) and Text a readable sentence in both languages.
type Error struct {
	Code string
	Text Text
}

func (e *Error) Error() string { return "run: " + e.Text.En }

// Error codes returned by Run commands and experiments.
const (
	CodeBadParams         = "bad-params"         // a parameter is missing, of the wrong type or out of range
	CodeDone              = "run-done"           // step on a finished run
	CodeClosed            = "run-closed"         // the run was closed
	CodeUnknownExperiment = "unknown-experiment" // no experiment of that name
	CodeStepFailed        = "step-failed"        // the experiment could not take a step
)

// NewError returns an *Error with code and its text in both languages.
func NewError(code, en, zh string) *Error {
	return &Error{Code: code, Text: Text{En: en, Zh: zh}}
}

// DivergedError returns re as a step's error that also wraps
// engine.ErrDiverged: the run turns Diverged and shows re's text in the
// page's language.
func DivergedError(re *Error) error { return &divergedError{re} }

type divergedError struct{ re *Error }

func (e *divergedError) Error() string   { return "diverged: " + e.re.Text.En }
func (e *divergedError) Unwrap() []error { return []error{e.re, engine.ErrDiverged} }

// Message returns a refusal's sentence in lang, for any error a command
// returns: *Error and *ParamError have both languages; other errors are
// the engine's or an experiment's own words.
func Message(err error, lang string) (code, message string) {
	var re *Error
	var pe *ParamError
	switch {
	case errors.As(err, &pe):
		return CodeBadParams, pe.Text.In(lang)
	case errors.As(err, &re):
		return re.Code, re.Text.In(lang)
	}
	return CodeStepFailed, err.Error()
}

// Experiment is one lesson's model and data, advanced one step at a time.
// Its methods are called only by the run's worker (or whoever built it, as
// an export does), never concurrently.
type Experiment interface {
	// Total is the number of steps of a full run (positive).
	Total() int
	// Pos is the number of steps taken, 0 ≤ Pos ≤ Total.
	Pos() int
	// Advance takes the next step, within the spec's Budget.Step. It is
	// called only when Pos < Total.
	Advance() error
	// Restart puts the experiment back at step 0 with its parameters.
	Restart() error
	// SetParams takes new values (decoded and checked against the spec),
	// keeping as many steps as the change allows (Pos may drop, to 0 when
	// models must be trained again). On error nothing changes.
	SetParams(v Values) error
	// Frame returns what a viewer draws now: Static is the large part that
	// changes only with the parameters (StaticRev changes with it), Data
	// the part that changes with each step.
	Frame() Frame
}

// Rewinder is implemented by an experiment that can go back to an earlier
// step k < Pos cheaply (without replaying from 0).
type Rewinder interface {
	Rewind(k int) error
}

// Host is what a run offers an experiment with background work of its own
// (cnn-train's shift test): Changed publishes a fresh update, Compute runs f
// holding one of the scheduler's slots for the run's owner (it returns
// ctx's error if ctx ends first; f is not called then), and Fail stops the
// run in Failed, as a failed step does.
type Host interface {
	Changed()
	Compute(ctx context.Context, f func()) error
	Fail(err error)
}

// Attacher is implemented by an experiment with background work: New calls
// Attach once, before any other method. The experiment must stop calling
// the host once its Close has returned.
type Attacher interface {
	Attach(h Host)
}

// Scorer is implemented by an experiment that trains: the loss of its
// primary model's last step and its latest measured accuracy (NaN when
// none yet), for a teacher's dashboard and the class board. It is called
// on the worker after each step, so it must only read what the step kept.
type Scorer interface {
	Score() Score
}

// Score is a Scorer's numbers.
type Score struct {
	Loss, Accuracy float64
}

// Cloner is implemented by an experiment that can copy itself: an
// independent experiment in exactly its state (same step, same future
// steps), so that a run can be forked without replaying it (Run.Fork).
type Cloner interface {
	Clone() (Experiment, error)
}

// ErrCannotFork is Fork's error for a run whose experiment is no Cloner:
// the caller starts a run of the same parameters and seeks it instead.
var ErrCannotFork = errors.New("run: this experiment cannot be copied")

// Closer is implemented by an experiment that holds background work; the
// worker calls Close once, when the run is closed.
type Closer interface {
	Close()
}

// Frame is an experiment's picture of itself.
type Frame struct {
	StaticRev int
	Static    any
	Data      any
}

// Update is what subscribers receive: the run's state and its latest frame,
// encoded once.
type Update struct {
	Seq    uint64 // increases with every update of the run
	State  State
	Speed  float64
	Step   int
	Total  int
	Target int    // the step a Working run is moving to
	Err    Text   // the failure when State is Failed or Diverged
	Params Values // the parameters the frame was drawn with
	// ParamsJSON is Params encoded once, when they last changed, shared by
	// every viewer like Static and Data: it must not be modified.
	ParamsJSON json.RawMessage
	Score      *Score // a Scorer's numbers after a step; nil at step 0 or for others

	StaticRev int
	// Static and Data are the frame's parts as JSON, shared by every
	// viewer: they must not be modified.
	Static, Data json.RawMessage
}

// PanicError is a panic in an experiment, recovered where the run calls
// into it, so that a bug in one lesson's model stops that run, not the
// server.
type PanicError struct {
	Where string // what was running
	Value any    // what was passed to panic
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("run: %s crashed (a bug; the server logged it): %v", e.Where, e.Value)
}

// Recovered turns a recovered panic value p into a *PanicError and logs it
// with its stack. It must be called from the deferred function that
// recovered p, so that the stack still shows where the panic happened.
func Recovered(where string, p any) *PanicError {
	slog.Error("run: panic recovered", "where", where, "panic", p, "stack", string(debug.Stack()))
	return &PanicError{Where: where, Value: p}
}

// Options are where a run gets its CPU.
type Options struct {
	Sched *Scheduler // nil: a scheduler of its own with DefaultSlots
	Owner Owner
}

// Run is the shared step control around one Experiment. It is safe for
// concurrent use; no method waits for the experiment.
type Run struct {
	spec   *Spec
	sched  *Scheduler
	owner  Owner
	scored bool          // the experiment is a Scorer: it trains
	cloner bool          // the experiment is a Cloner: Fork copies it
	wake   chan struct{} // capacity 1: the worker has something to look at
	done   chan struct{} // closed when the worker has ended

	mu      sync.Mutex
	closed  bool
	state   State // the state commands set; published as is
	speed   float64
	failure Text
	seq     uint64
	params  Values // the parameters of the last applied set-params
	// paramsJSON is params encoded, once per change.
	paramsJSON json.RawMessage
	pending    Values // parameters the worker has yet to apply, or nil
	target     int    // the step a Working run moves to
	restart    bool   // the worker must restart before moving to target
	cancel     context.CancelFunc
	jobCtx     context.Context
	// closeCtx ends when the run is closed: work that must not be lost to
	// a later command (new parameters, a restart) waits for a CPU slot
	// under it alone.
	closeCtx  context.Context
	closeDone context.CancelFunc
	nextTick  time.Time
	last      Update // the last update published
	subs      map[*Subscription]struct{}
	bgErr     error // a failure reported by background work
	dirty     bool  // background work changed the picture
	// forks are Fork's requests waiting for the worker.
	forks []chan forkResult
	// playAfter: a play came while the run was working towards its
	// target; it plays from there once it arrives (a page reconnecting
	// mid-run sends start, seek to its step, then play).
	playAfter bool
}

// Start decodes raw onto the spec's defaults, builds the experiment and
// returns a paused run of it. Unknown names are an *Error with
// CodeUnknownExperiment, bad parameters a *ParamError.
func Start(name string, raw json.RawMessage, opts Options) (*Run, error) {
	spec, ok := Lookup(name)
	if !ok {
		return nil, unknownExperiment(name)
	}
	v, err := spec.Decode(nil, raw)
	if err != nil {
		return nil, err
	}
	exp, err := build(spec, v)
	if err != nil {
		return nil, err
	}
	return New(spec, v, exp, opts), nil
}

// build calls spec.New, recovering a panic.
func build(spec *Spec, v Values) (exp Experiment, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Recovered(spec.Name+" New", p)
		}
	}()
	return spec.New(v)
}

// New returns a paused run of exp, built by spec from v, and starts its
// worker.
func New(spec *Spec, v Values, exp Experiment, opts Options) *Run {
	if opts.Sched == nil {
		opts.Sched = NewScheduler(0)
	}
	r := &Run{
		spec: spec, sched: opts.Sched, owner: opts.Owner,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		state: Paused, speed: DefaultSpeed, params: v, paramsJSON: encodeValues(v), subs: map[*Subscription]struct{}{},
	}
	r.jobCtx, r.cancel = context.WithCancel(context.Background())
	r.closeCtx, r.closeDone = context.WithCancel(context.Background())
	if a, ok := exp.(Attacher); ok {
		a.Attach(host{r})
	}
	_, r.scored = exp.(Scorer)
	_, r.cloner = exp.(Cloner)
	r.publish(exp)
	go r.work(exp)
	return r
}

// forkResult is the worker's answer to a Fork.
type forkResult struct {
	exp Experiment
	v   Values
	err error
}

// Fork returns a new paused run of a copy of r's experiment, at r's step
// and with r's parameters, owned as opts say; r goes on as it was. The
// worker copies between two steps; Fork waits for it until ctx ends. A
// run whose experiment is no Cloner returns ErrCannotFork at once.
func (r *Run) Fork(ctx context.Context, opts Options) (*Run, error) {
	if !r.cloner {
		return nil, ErrCannotFork
	}
	reply := make(chan forkResult, 1) // a copy made after ctx ended is dropped
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, closedError()
	}
	r.forks = append(r.forks, reply)
	r.signal()
	r.mu.Unlock()
	select {
	case res := <-reply:
		if res.err != nil {
			return nil, res.err
		}
		return New(r.spec, res.v, res.exp, opts), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-r.done:
		return nil, closedError()
	}
}

// serveForks copies exp for every Fork waiting. Called by the worker.
func (r *Run) serveForks(exp Experiment, forks []chan forkResult) {
	for _, reply := range forks {
		var res forkResult
		res.err = r.call(exp, "Clone", func() error {
			c, err := exp.(Cloner).Clone()
			res.exp = c
			return err
		})
		r.mu.Lock()
		res.v = r.params
		r.mu.Unlock()
		reply <- res
	}
}

// encodeValues is v as JSON (keys sorted), or nil if a value cannot be
// encoded (none of the field kinds' values can fail).
func encodeValues(v Values) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// Scored reports whether the run's experiment trains (is a Scorer).
func (r *Run) Scored() bool { return r.scored }

// Spec returns the spec the run was started from.
func (r *Run) Spec() *Spec { return r.spec }

// Done is closed when the run's worker has ended after Close (the
// experiment's background work stopped with it).
func (r *Run) Done() <-chan struct{} { return r.done }

// Snapshot returns the run's current update.
func (r *Run) Snapshot() Update {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// interruptLocked cancels the worker's current job and signals it.
func (r *Run) interruptLocked() {
	r.cancel()
	r.jobCtx, r.cancel = context.WithCancel(context.Background())
	r.signal()
}

func (r *Run) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func closedError() *Error {
	return NewError(CodeClosed, "the run is closed", "这个运行已关闭")
}

// Play starts advancing at the run's speed. Playing a finished run starts
// it again from step 0; playing a running run does nothing.
func (r *Run) Play() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return closedError()
	}
	switch r.state {
	case Running:
		return nil
	case Working:
		r.playAfter = true
		return nil
	case Done, Diverged, Failed:
		r.restart, r.failure = true, Text{}
	}
	r.state = Running
	r.nextTick = time.Time{}
	r.interruptLocked()
	r.publishStateLocked()
	return nil
}

// Pause stops a running or working run where it is. Pausing a run that
// is neither does nothing.
func (r *Run) Pause() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return closedError()
	}
	if r.state != Running && r.state != Working {
		return nil
	}
	r.state = Paused
	r.restart, r.playAfter = false, false
	r.interruptLocked()
	r.publishStateLocked()
	return nil
}

// Step pauses the run and takes n more steps (fewer if the run ends
// first), from where the run is (or is heading). It returns an error,
// changing nothing, unless 1 ≤ n ≤ MaxStepN and the run has steps left.
func (r *Run) Step(n int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return closedError()
	}
	if n < 1 || n > MaxStepN {
		return NewError(CodeBadParams,
			fmt.Sprintf("the step count must be a whole number from 1 to %d; got %d", MaxStepN, n),
			fmt.Sprintf("步数必须是 1 到 %d 之间的整数；收到的是 %d", MaxStepN, n))
	}
	switch r.state {
	case Done:
		return NewError(CodeDone, "the run is finished; reset it to start again", "这个运行已经结束；重置后可以重新开始")
	case Diverged, Failed:
		return NewError(CodeDone, "the run has stopped; reset it to start again", "这个运行已经停止；重置后可以重新开始")
	}
	from := r.last.Step
	if r.state == Working {
		from = r.target
	}
	r.target = min(from+n, r.last.Total)
	r.state, r.playAfter = Working, false
	r.interruptLocked()
	r.publishStateLocked()
	return nil
}

// Seek pauses the run and moves it to step k (0 ≤ k ≤ Total), backwards or
// forwards: a lesson can step back through what it showed. A run that had
// diverged or failed may be sought back to an earlier step. An
// out-of-range k changes nothing.
func (r *Run) Seek(k int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return closedError()
	}
	if total := r.last.Total; k < 0 || k > total {
		return NewError(CodeBadParams,
			fmt.Sprintf("the position must be a whole number from 0 to %d; got %d", total, k),
			fmt.Sprintf("位置必须是 0 到 %d 之间的整数；收到的是 %d", total, k))
	}
	if r.state == Diverged || r.state == Failed {
		r.failure = Text{}
		if k >= r.last.Step {
			r.restart = true // the failed step cannot be taken again as it is
		}
	}
	r.target, r.state, r.playAfter = k, Working, false
	r.interruptLocked()
	r.publishStateLocked()
	return nil
}

// Reset pauses the run and takes it back to step 0.
func (r *Run) Reset() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return closedError()
	}
	r.target, r.state, r.restart, r.failure, r.playAfter = 0, Working, true, Text{}, false
	r.interruptLocked()
	r.publishStateLocked()
	return nil
}

// SetParams decodes raw onto the current parameters. If they are valid
// the run takes them (the worker applies them next: a running run goes on
// with them, at the same step or as many as they allow); if not, the run
// is left exactly as it was and the *ParamError is returned.
func (r *Run) SetParams(raw json.RawMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return closedError()
	}
	base := r.params
	if r.pending != nil {
		base = r.pending
	}
	v, err := r.spec.Decode(base, raw)
	if err != nil {
		return err
	}
	r.pending = v
	if r.state == Failed || r.state == Diverged || r.state == Done {
		r.state, r.failure = Paused, Text{}
	}
	if r.state == Working {
		r.state, r.playAfter = Paused, false
	}
	r.interruptLocked()
	return nil
}

// SetSpeed sets the steps per second used while playing. It returns an
// error, changing nothing, unless MinSpeed ≤ sps ≤ MaxSpeed.
func (r *Run) SetSpeed(sps float64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return closedError()
	}
	if math.IsNaN(sps) || sps < MinSpeed || sps > MaxSpeed {
		return NewError(CodeBadParams,
			fmt.Sprintf("the speed must be a number from %g to %g steps per second; got %g", float64(MinSpeed), float64(MaxSpeed), sps),
			fmt.Sprintf("速度必须是每秒 %g 到 %g 步之间的数；收到的是 %g", float64(MinSpeed), float64(MaxSpeed), sps))
	}
	if sps == r.speed {
		return nil
	}
	r.speed = sps
	if next := time.Now().Add(periodOf(sps)); r.nextTick.After(next) {
		r.nextTick = next // faster: do not wait out the slow period
	}
	r.signal()
	r.publishStateLocked()
	return nil
}

// Close stops the run and closes every subscription; it does not wait:
// the worker ends after the step it is taking, if any (Done is closed
// then). Commands on a closed run return CodeClosed.
func (r *Run) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	r.closeDone()
	for s := range r.subs {
		s.close()
	}
	clear(r.subs)
	r.interruptLocked()
}

// host is the run as an experiment's background work sees it.
type host struct{ r *Run }

func (h host) Changed() {
	h.r.mu.Lock()
	h.r.dirty = true
	h.r.mu.Unlock()
	h.r.signal()
}

func (h host) Compute(ctx context.Context, f func()) error {
	return h.r.sched.Do(ctx, h.r.owner, f)
}

func (h host) Fail(err error) {
	h.r.mu.Lock()
	h.r.bgErr = err
	h.r.mu.Unlock()
	h.r.signal()
}

// job is what the worker does next, read under the lock.
type job struct {
	ctx     context.Context
	closed  bool
	params  Values
	restart bool
	state   State
	target  int
	bgErr   error
	dirty   bool
	wait    time.Duration // Running: how long until the next step is due
	forks   []chan forkResult
}

func (r *Run) nextJob() job {
	r.mu.Lock()
	defer r.mu.Unlock()
	j := job{ctx: r.jobCtx, closed: r.closed, params: r.pending, restart: r.restart, state: r.state, target: r.target, bgErr: r.bgErr, dirty: r.dirty, forks: r.forks}
	r.pending, r.restart, r.bgErr, r.dirty, r.forks = nil, false, nil, false, nil
	if j.params != nil {
		r.params, r.paramsJSON = j.params, encodeValues(j.params)
	}
	if r.state == Running {
		now := time.Now()
		if r.nextTick.IsZero() {
			r.nextTick = now
		}
		j.wait = r.nextTick.Sub(now)
	}
	return j
}

// work is the worker: the only caller of the experiment.
func (r *Run) work(exp Experiment) {
	defer close(r.done)
	defer func() {
		if c, ok := exp.(Closer); ok {
			r.call(exp, "Close", func() error { c.Close(); return nil })
		}
	}()
	for {
		j := r.nextJob()
		if j.closed {
			return
		}
		changed := j.dirty
		if j.bgErr != nil {
			r.fail(j.bgErr)
			changed = true
		}
		if j.params != nil {
			if err := r.scheduled(exp, "SetParams", func() error { return exp.SetParams(j.params) }); err != nil {
				r.fail(err)
			}
			changed = true
		}
		if j.restart {
			if err := r.scheduled(exp, "Restart", exp.Restart); err != nil {
				r.fail(err)
			}
			changed = true
		}
		if len(j.forks) > 0 {
			r.serveForks(exp, j.forks)
		}
		switch j.state {
		case Working:
			r.moveTo(exp, j)
			continue
		case Running:
			if j.wait <= 0 {
				r.tick(exp, j)
				continue
			}
		}
		if changed {
			r.settle(exp)
			r.publish(exp)
		}
		r.sleep(j)
	}
}

// sleep waits for a command, or for the next step of a running run.
func (r *Run) sleep(j job) {
	if j.state == Running {
		t := time.NewTimer(j.wait)
		defer t.Stop()
		select {
		case <-r.wake:
		case <-t.C:
		}
		return
	}
	<-r.wake
}

// tick takes one step of a running run and publishes it, both holding
// the slot: drawing and encoding the frame is the run's work too.
func (r *Run) tick(exp Experiment, j job) {
	r.sched.Do(j.ctx, r.owner, func() {
		if j.ctx.Err() != nil {
			return // paused (or anything else) while waiting: no step
		}
		if exp.Pos() < exp.Total() {
			if err := r.call(exp, "Advance", exp.Advance); err != nil {
				r.fail(err)
			}
		}
		r.mu.Lock()
		if r.state == Running {
			r.nextTick = r.nextTick.Add(periodOf(r.speed))
			if now := time.Now(); r.nextTick.Before(now.Add(-time.Second)) {
				r.nextTick = now // fell behind (a busy server): do not catch up in a burst
			}
			if exp.Pos() >= exp.Total() {
				r.state = Done
			}
		}
		r.mu.Unlock()
		r.publish(exp)
	}) // an error: interrupted while waiting for a slot
}

// moveTo takes the experiment to j.target: back by Rewind or by Restart
// and replay, forward step by step, in quanta of the scheduler, publishing
// progress now and then and stopping as soon as a command interrupts.
func (r *Run) moveTo(exp Experiment, j job) {
	target := min(j.target, exp.Total())
	if target < exp.Pos() {
		var err error
		if rw, ok := exp.(Rewinder); ok {
			err = r.scheduled(exp, "Rewind", func() error { return rw.Rewind(target) })
		} else {
			err = r.scheduled(exp, "Restart", exp.Restart)
		}
		if err != nil {
			r.fail(err)
			r.publish(exp)
			return
		}
	}
	lastPub := time.Now()
	for exp.Pos() < target && j.ctx.Err() == nil && !r.failed() {
		release, err := r.sched.Acquire(j.ctx, r.owner)
		if err != nil {
			break
		}
		start := time.Now()
		for exp.Pos() < target && j.ctx.Err() == nil {
			if err := r.call(exp, "Advance", exp.Advance); err != nil {
				r.fail(err)
				break
			}
			if time.Since(start) >= quantum {
				break
			}
		}
		release()
		if time.Since(lastPub) >= progressEvery {
			lastPub = time.Now()
			r.publish(exp)
		}
	}
	r.mu.Lock()
	if j.ctx.Err() == nil && r.state == Working {
		r.state = Paused
		switch {
		case exp.Pos() >= exp.Total():
			r.state = Done
		case r.playAfter:
			r.state, r.nextTick = Running, time.Time{}
		}
		r.playAfter = false
	}
	r.mu.Unlock()
	r.publish(exp)
}

// settle marks a paused run with no steps left as done, and a done run
// that has steps again (new parameters) as paused.
func (r *Run) settle(exp Experiment) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.state == Paused && exp.Pos() >= exp.Total():
		r.state = Done
	case r.state == Done && exp.Pos() < exp.Total():
		r.state = Paused
	}
}

func (r *Run) failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state == Failed || r.state == Diverged
}

// scheduled calls a method of exp holding a CPU slot: work that a later
// command does not undo, so only closing the run gives it up (a closed
// run's worker ends anyway).
func (r *Run) scheduled(exp Experiment, method string, f func() error) error {
	var err error
	if r.sched.Do(r.closeCtx, r.owner, func() { err = r.call(exp, method, f) }) != nil {
		return nil // closed while waiting
	}
	return err
}

// call runs one method of exp, turning a panic into a *PanicError.
func (r *Run) call(exp Experiment, method string, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Recovered(fmt.Sprintf("%s %s", r.spec.Name, method), p)
		}
	}()
	return f()
}

// fail stops the run in Failed, or Diverged when err wraps
// engine.ErrDiverged.
func (r *Run) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state = Failed
	if errors.Is(err, engine.ErrDiverged) {
		r.state = Diverged
	}
	var re *Error
	var pe *PanicError
	switch {
	case errors.As(err, &re):
		r.failure = re.Text
	case errors.As(err, &pe):
		// The panic's value and stack are in the server's log; the page
		// learns only that this is a bug.
		r.failure = Text{
			En: "the experiment crashed (a bug; the server logged it). Reset to start again.",
			Zh: "实验崩溃了（这是一个错误，服务器已记录）。请重置后重新开始。",
		}
	default:
		r.failure = Text{En: err.Error(), Zh: err.Error()}
	}
}

// publish builds the run's update from exp (on the worker, or in New),
// encoding the frame once, and puts it in every subscriber's mailbox.
func (r *Run) publish(exp Experiment) {
	var f Frame
	err := r.call(exp, "Frame", func() error { f = exp.Frame(); return nil })
	var static, data json.RawMessage
	if err == nil {
		if static, err = json.Marshal(f.Static); err == nil {
			data, err = json.Marshal(f.Data)
		}
	}
	step, total := exp.Pos(), exp.Total()
	var score *Score
	if sc, ok := exp.(Scorer); ok && err == nil && step > 0 {
		err = r.call(exp, "Score", func() error { s := sc.Score(); score = &s; return nil })
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		// A picture that cannot be drawn or encoded is a bug: logged
		// here (a panic was logged where it was recovered).
		slog.Error("run: frame failed", "experiment", r.spec.Name, "err", err)
		r.state = Failed
		r.failure = Text{
			En: "the experiment could not draw its picture (a bug; the server logged it). Reset to start again.",
			Zh: "实验无法绘制当前画面（这是一个错误，服务器已记录）。请重置后重新开始。",
		}
		static, data, f.StaticRev = r.last.Static, r.last.Data, r.last.StaticRev
		step, total = r.last.Step, r.last.Total
	}
	if f.StaticRev == r.last.StaticRev && r.last.Static != nil {
		static = r.last.Static // unchanged: keep the bytes viewers have
	}
	r.last = Update{
		State: r.state, Speed: r.speed, Step: step, Total: total, Target: r.target,
		Err: r.failure, Params: r.params, ParamsJSON: r.paramsJSON, Score: score, StaticRev: f.StaticRev, Static: static, Data: data,
	}
	r.putLocked()
}

// publishStateLocked publishes a change of state or speed with the last
// frame (the worker publishes the frame that follows).
func (r *Run) publishStateLocked() {
	r.last.State, r.last.Speed, r.last.Target, r.last.Err = r.state, r.speed, r.target, r.failure
	r.putLocked()
}

func (r *Run) putLocked() {
	r.seq++
	r.last.Seq = r.seq
	for s := range r.subs {
		s.put(r.last)
	}
}

func periodOf(sps float64) time.Duration {
	return time.Duration(float64(time.Second) / sps)
}
