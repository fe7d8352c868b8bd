package run

import (
	"errors"
	"testing"

	"github.com/paramshare/paramshare/engine"
)

// TestDivergedError: the error turns a run Diverged (it wraps
// engine.ErrDiverged) and carries the experiment's text in both languages.
func TestDivergedError(t *testing.T) {
	re := NewError(CodeStepFailed, "blew up", "发散了")
	err := DivergedError(re)
	var got *Error
	if !errors.Is(err, engine.ErrDiverged) || !errors.As(err, &got) || got != re {
		t.Fatalf("DivergedError(%v) = %v: want it to wrap engine.ErrDiverged and the *Error", re, err)
	}
	if code, msg := Message(err, "zh"); code != CodeStepFailed || msg != "发散了" {
		t.Errorf("Message(zh) = %q, %q", code, msg)
	}
}
