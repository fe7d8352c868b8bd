package run

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestFork: a fork is a new paused run at the original's step with its
// parameters, independent of it; the original goes on as it was.
func TestFork(t *testing.T) {
	r, _ := newCounter(t, 1000, time.Millisecond, Options{})
	if err := r.Step(7); err != nil {
		t.Fatal(err)
	}
	settle(t, r)
	if err := r.Play(); err != nil {
		t.Fatal(err)
	}
	f, err := r.Fork(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := f.Snapshot()
	if u.State != Paused || u.Step < 7 || !u.Params.Equal(r.Snapshot().Params) {
		t.Errorf("fork: %s at step %d with %v; want paused at the original's step (≥ 7) with its parameters", u.State, u.Step, u.Params)
	}
	forkedAt := u.Step
	// The original plays on (at its speed: a step every 125 ms; give a
	// loaded machine and the race detector time), the fork stays put.
	deadline := time.Now().Add(10 * time.Second)
	for got := r.Snapshot(); got.State != Running || got.Step <= forkedAt; got = r.Snapshot() {
		if time.Now().After(deadline) {
			t.Fatalf("the original is %s at %d after the fork, want still running past %d", got.State, got.Step, forkedAt)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := f.Snapshot().Step; got != forkedAt {
		t.Errorf("the paused fork moved from %d to %d while the original played", forkedAt, got)
	}
	if err := f.Step(3); err != nil {
		t.Fatal(err)
	}
	if got := settle(t, f); got.Step != forkedAt+3 {
		t.Errorf("the fork stepped 3 from %d to %d", forkedAt, got.Step)
	}
}

// noClone is a counter that cannot be copied.
type noClone struct{ c *counter }

func (n noClone) Total() int               { return n.c.Total() }
func (n noClone) Pos() int                 { return n.c.Pos() }
func (n noClone) Advance() error           { return n.c.Advance() }
func (n noClone) Restart() error           { return n.c.Restart() }
func (n noClone) SetParams(v Values) error { return n.c.SetParams(v) }
func (n noClone) Frame() Frame             { return n.c.Frame() }

// TestForkRefused: no Cloner, a closed run, a context that ends first.
func TestForkRefused(t *testing.T) {
	spec, _ := Lookup("test-counter")
	v := Defaults(spec.Fields)
	c := &counter{panicAt: -1, divergeAt: -1, encodings: new(atomic.Int64)}
	c.SetParams(v)
	plain := New(spec, v, noClone{c}, Options{})
	defer plain.Close()
	if _, err := plain.Fork(context.Background(), Options{}); !errors.Is(err, ErrCannotFork) {
		t.Errorf("fork of a non-Cloner: %v, want ErrCannotFork", err)
	}
	r, _ := newCounter(t, 100, 0, Options{})
	r.Close()
	<-r.Done()
	if _, err := r.Fork(context.Background(), Options{}); err == nil {
		t.Error("fork of a closed run succeeded")
	}
	slow, _ := newCounter(t, 1000, 200*time.Millisecond, Options{})
	if err := slow.Step(5); err != nil { // the worker is busy moving
		t.Fatal(err)
	}
	for slow.Snapshot().Step < 1 { // it has taken the job: moving to 5
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := slow.Fork(ctx, Options{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("fork while the worker is busy, context ending first: %v", err)
	}
}
