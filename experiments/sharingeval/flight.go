package sharingeval

import (
	"container/list"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

// The answers are shared by every session of the server: a comparison is
// deterministic (the same question gives the same accuracies, only the
// timings differ), so it is computed once — by a flight that every run
// asking the same question joins — and then kept in a bounded cache.
//
// A flight runs lab.Eval on a goroutine of its own that never runs
// unasked: it works only during a piece, for about pieceTime, while the
// caller of piece waits holding a CPU slot of the run scheduler (a run's
// worker in Advance, or a run's background worker through Host.Compute),
// and parks between pieces at lab's progress callback. So the comparison
// is scheduled like any step, and a flight nobody asks for stops.

// pieceTime is how long a piece lets the comparison run before it parks at
// its next progress report. lab reports after every training step (a step
// of the slowest model, lc, takes ~55 ms), but measuring a trained model
// (up to 2,000 digits through lc) is one stretch of ~0.6 s.
const pieceTime = 100 * time.Millisecond

// notifyEvery is how often the runs watching a flight are told it moved.
const notifyEvery = 250 * time.Millisecond

// progress is where a flight is, for the frame.
type progress struct {
	Model string `json:"model"` // the model (or lockstep group) training
	Seed  uint64 `json:"seed"`
	Run   int    `json:"run"`  // this training run (model × seed, or seed for lockstep comparisons), from 1
	Runs  int    `json:"runs"` // of Runs
	Step  int    `json:"step"`
	Steps int    `json:"steps"`
	Phase string `json:"phase"` // "train" or "measure"
	// Fraction is the part of the work done, 0…1, counting each run's
	// steps alike.
	Fraction float64 `json:"fraction"`
	Seconds  float64 `json:"seconds"` // since the flight's first piece
}

// flight is one question being answered.
type flight struct {
	key string
	cfg lab.EvalConfig

	// run is held by whoever drives a piece; it serialises the pieces.
	run     sync.Mutex
	started bool
	resume  chan struct{} // piece → worker: work for a piece
	parked  chan struct{} // worker → piece: the piece is over
	over    chan struct{} // closed when lab.Eval has returned
	ctx     context.Context
	cancel  context.CancelFunc

	mu       sync.Mutex // guards the fields below
	prog     progress
	res      *entry // set when over without error
	err      error
	refs     int                // runs holding the flight
	watchers map[*eval]struct{} // attached runs to tell when it moves
	lastNote time.Time
}

// entry is a cached answer.
type entry struct {
	key    string
	res    *lab.EvalResult
	at     time.Time // when the computation ended
	size   int       // bytes of the result's JSON, what the cache counts
	frozen []byte    // the result as JSON, shared by every frame
}

// Cache bounds: an answer is 2–12 kB of JSON (4 models × 10 seeds at
// most), so the cache holds at most a few MB.
const (
	cacheEntries = 256
	cacheBytes   = 4 << 20
)

// answers is the process's cache, most recently used first.
var answers = newCache(cacheEntries, cacheBytes)

// cache is an LRU of answers bounded in entries and bytes.
type cache struct {
	mu         sync.Mutex
	maxEntries int
	maxBytes   int
	bytes      int
	ll         *list.List // of *entry, most recent first
	byKey      map[string]*list.Element
}

func newCache(entries, bytes int) *cache {
	return &cache{maxEntries: entries, maxBytes: bytes, ll: list.New(), byKey: map[string]*list.Element{}}
}

// get returns the answer to key and marks it recently used.
func (c *cache) get(key string) (*entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*entry), true
}

// put stores e, evicting the least recently used answers beyond the
// bounds (an answer larger than the whole byte bound is not kept).
func (c *cache) put(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[e.key]; ok {
		c.bytes -= el.Value.(*entry).size
		c.ll.Remove(el)
		delete(c.byKey, e.key)
	}
	if e.size > c.maxBytes {
		return
	}
	c.byKey[e.key] = c.ll.PushFront(e)
	c.bytes += e.size
	for c.ll.Len() > c.maxEntries || c.bytes > c.maxBytes {
		last := c.ll.Back()
		old := last.Value.(*entry)
		c.ll.Remove(last)
		delete(c.byKey, old.key)
		c.bytes -= old.size
	}
}

// peek returns the answer to key without marking it used (a frame that
// only mentions the answer does not keep it in the cache).
func (c *cache) peek(key string) (*entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil, false
	}
	return el.Value.(*entry), true
}

// len returns the entries and bytes held.
func (c *cache) len() (entries, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len(), c.bytes
}

// flights are the questions being answered now, by key: a second run
// asking the same question joins the first one's flight.
var flights = struct {
	sync.Mutex
	m map[string]*flight
}{m: map[string]*flight{}}

// computations counts the flights that started lab.Eval, for the tests of
// the single flight.
var computations struct {
	sync.Mutex
	n int
}

// join returns the flight answering cfg, starting one if none is in the
// air, and counts the caller as holding it (leave lets go).
func join(key string, cfg lab.EvalConfig) *flight {
	flights.Lock()
	defer flights.Unlock()
	f, ok := flights.m[key]
	if !ok {
		f = &flight{key: key, cfg: cfg, resume: make(chan struct{}), parked: make(chan struct{}), over: make(chan struct{}), watchers: map[*eval]struct{}{}}
		f.ctx, f.cancel = context.WithCancel(context.Background())
		flights.m[key] = f
	}
	f.mu.Lock()
	f.refs++
	f.mu.Unlock()
	return f
}

// leave lets go of f; the last run to leave an unfinished flight cancels
// it (its worker stops at lab's next check, within a training step or a
// measurement) and drops it.
func leave(f *flight, e *eval) {
	flights.Lock()
	defer flights.Unlock()
	f.mu.Lock()
	f.refs--
	delete(f.watchers, e)
	last := f.refs == 0
	f.mu.Unlock()
	if last {
		f.cancel()
		if flights.m[f.key] == f {
			delete(flights.m, f.key)
		}
	}
}

// watch makes f tell e's run when it moves.
func (f *flight) watch(e *eval) {
	f.mu.Lock()
	f.watchers[e] = struct{}{}
	f.mu.Unlock()
}

// finished returns the answer or the failure once the flight is over.
func (f *flight) finished() (*entry, error, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.res, f.err, f.res != nil || f.err != nil
}

// snapshot returns the flight's progress.
func (f *flight) snapshot() progress {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.prog
}

// piece lets the comparison work for about pieceTime (or until it ends),
// and returns when it has parked again. The caller holds a CPU slot.
func (f *flight) piece() {
	f.run.Lock()
	defer f.run.Unlock()
	if _, _, over := f.finished(); over || f.ctx.Err() != nil {
		return
	}
	if !f.started {
		f.started = true
		computations.Lock()
		computations.n++
		computations.Unlock()
		go f.work()
	}
	select {
	case f.resume <- struct{}{}:
	case <-f.over:
		return
	}
	select {
	case <-f.parked:
	case <-f.over:
	}
}

// work is the flight's worker: lab.Eval, parked between pieces.
func (f *flight) work() {
	defer close(f.over)
	start := time.Now()
	<-f.resume
	pieceStart := time.Now()
	var res *lab.EvalResult
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = run.Recovered(name+" comparison", p)
			}
		}()
		res, err = lab.Eval(f.ctx, f.cfg, func(p lab.Progress) {
			f.report(p, start)
			if time.Since(pieceStart) < pieceTime || f.ctx.Err() != nil {
				return // cancelled: lab stops at its next check
			}
			select {
			case f.parked <- struct{}{}:
			case <-f.ctx.Done():
				return
			}
			select {
			case <-f.resume:
				pieceStart = time.Now()
			case <-f.ctx.Done():
			}
		})
	}()
	if err == nil {
		var b []byte
		if b, err = json.Marshal(res); err == nil {
			e := &entry{key: f.key, res: res, at: time.Now().UTC(), size: len(b), frozen: b}
			answers.put(e)
			f.mu.Lock()
			f.res = e
			f.mu.Unlock()
		}
	}
	if err != nil {
		if f.ctx.Err() != nil {
			err = f.ctx.Err()
		} else {
			err = run.NewError(run.CodeStepFailed,
				fmt.Sprintf("the comparison failed: %v", err),
				fmt.Sprintf("对比实验失败：%v", err))
		}
		f.mu.Lock()
		f.err = err
		f.mu.Unlock()
	}
	// The answer is in the cache: a later question finds it there.
	flights.Lock()
	if flights.m[f.key] == f {
		delete(flights.m, f.key)
	}
	flights.Unlock()
	f.notify(true)
}

// report records lab's progress and tells the watchers now and then.
func (f *flight) report(p lab.Progress, start time.Time) {
	frac := 0.0
	if p.Runs > 0 && p.Steps > 0 {
		frac = (float64(p.Run-1) + float64(p.Step)/float64(p.Steps)) / float64(p.Runs)
	}
	f.mu.Lock()
	f.prog = progress{Model: p.Model, Seed: p.Seed, Run: p.Run, Runs: p.Runs, Step: p.Step, Steps: p.Steps, Phase: p.Phase, Fraction: min(frac, 1), Seconds: time.Since(start).Seconds()}
	f.mu.Unlock()
	f.notify(false)
}

// notify tells the watching runs the flight moved: at most every
// notifyEvery, and always at the end.
func (f *flight) notify(always bool) {
	f.mu.Lock()
	if !always && time.Since(f.lastNote) < notifyEvery {
		f.mu.Unlock()
		return
	}
	f.lastNote = time.Now()
	ws := make([]*eval, 0, len(f.watchers))
	for e := range f.watchers {
		ws = append(ws, e)
	}
	f.mu.Unlock()
	for _, e := range ws {
		e.host.Changed()
	}
}

// flightOf returns the flight in the air for key, if any (without joining).
func flightOf(key string) *flight {
	flights.Lock()
	defer flights.Unlock()
	return flights.m[key]
}

// clear empties the cache (tests that must compute).
func (c *cache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	clear(c.byKey)
	c.bytes = 0
}
