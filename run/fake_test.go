package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paramshare/paramshare/engine"
)

// counter is a fake experiment: Total steps, each taking cost (slept, so
// that tests in a synctest bubble run on fake time), with a panic or an
// error at chosen steps. Its frames count their encodings.
type counter struct {
	total, pos  int
	cost        time.Duration
	panicAt     int // Advance panics at this Pos (-1: never)
	divergeAt   int // Advance returns engine.ErrDiverged at this Pos (-1: never)
	framePanics bool
	encodings   *atomic.Int64
	rev         int
}

// countedData is a frame's data part that counts how often it is encoded.
type countedData struct {
	Pos int
	n   *atomic.Int64
}

func (d countedData) MarshalJSON() ([]byte, error) {
	d.n.Add(1)
	return []byte(fmt.Sprintf(`{"pos":%d}`, d.Pos)), nil
}

func (c *counter) Total() int { return c.total }
func (c *counter) Pos() int   { return c.pos }
func (c *counter) Advance() error {
	if c.pos == c.panicAt {
		var m map[string]int
		m["boom"]++ // a real runtime panic: assignment to a nil map
	}
	if c.pos == c.divergeAt {
		return fmt.Errorf("counter: %w", engine.ErrDiverged)
	}
	time.Sleep(c.cost)
	c.pos++
	return nil
}
func (c *counter) Restart() error { c.pos = 0; return nil }
func (c *counter) SetParams(v Values) error {
	if v.Int("total") != c.total {
		c.total, c.rev = v.Int("total"), c.rev+1
		c.pos = min(c.pos, c.total)
	}
	c.cost = time.Duration(v.Int("costMs")) * time.Millisecond
	return nil
}
func (c *counter) Frame() Frame {
	if c.framePanics {
		panic("frame: cannot draw")
	}
	return Frame{StaticRev: c.rev, Static: map[string]int{"total": c.total}, Data: countedData{c.pos, c.encodings}}
}

var counterFields = []Field{
	{Name: "total", Kind: Int, Default: 100, Min: 1, Max: 100000, Desc: Text{En: "steps", Zh: "步数"}},
	{Name: "costMs", Kind: Int, Default: 0, Min: 0, Max: 1000, Desc: Text{En: "cost of a step", Zh: "每步耗时"}},
	{Name: "lr", Kind: Number, Default: 0.01, Min: 1e-6, Max: 1, Desc: Text{En: "learning rate", Zh: "学习率"}},
	{Name: "preset", Kind: Choice, Default: "b", Choices: []string{"a", "b", "c"}, Desc: Text{En: "preset", Zh: "预设"}},
	{Name: "shift", Kind: Bool, Default: false, Desc: Text{En: "shift", Zh: "平移"}},
}

// counters lets a test reach the experiment a Start built.
var lastCounter atomic.Pointer[counter]

func init() {
	Register(Spec{
		Name: "test-counter", Title: Text{En: "Counter", Zh: "计数"}, Fields: counterFields,
		New: func(v Values) (Experiment, error) {
			c := &counter{panicAt: -1, divergeAt: -1, encodings: new(atomic.Int64)}
			c.SetParams(v)
			lastCounter.Store(c)
			return c, nil
		},
		Budget: Budget{Step: time.Second, Memory: 1 << 20, FrameBytes: 1 << 10, StaticBytes: 1 << 10},
	})
}

// newCounter returns a paused run of a counter (built directly, so the
// test can set its panics) with total steps of cost each.
func newCounter(t *testing.T, total int, cost time.Duration, opts Options) (*Run, *counter) {
	t.Helper()
	spec, _ := Lookup("test-counter")
	v := Defaults(spec.Fields).With("total", total).With("costMs", int(cost/time.Millisecond))
	c := &counter{panicAt: -1, divergeAt: -1, encodings: new(atomic.Int64)}
	c.SetParams(v)
	r := New(spec, v, c, opts)
	t.Cleanup(r.Close)
	return r, c
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var re *Error
	var pe *ParamError
	switch {
	case errors.As(err, &re) && re.Code == code:
	case errors.As(err, &pe) && code == CodeBadParams:
	default:
		t.Fatalf("error %v, want code %q", err, code)
	}
}

// settle waits until the run's worker has nothing left to do: its state
// is neither working nor (for a moment) changing. In a synctest bubble it
// returns as soon as every goroutine is blocked.
func settle(t *testing.T, r *Run) Update {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		u := r.Snapshot()
		if u.State != Working {
			time.Sleep(time.Millisecond)
			if v := r.Snapshot(); v.Seq == u.Seq {
				return u
			}
			continue
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("run still working: %+v", r.Snapshot())
	return Update{}
}

func stepOf(u Update) int {
	var d struct{ Pos int }
	json.Unmarshal(u.Data, &d)
	return d.Pos
}

// closeAll closes runs and waits for their workers: a synctest bubble may
// end only when every goroutine it started has.
func closeAll(rs ...*Run) {
	for _, r := range rs {
		r.Close()
		<-r.Done()
	}
}

// Clone makes the counter a Cloner: a copy at the same step.
func (c *counter) Clone() (Experiment, error) {
	cp := *c
	cp.encodings = new(atomic.Int64)
	return &cp, nil
}
