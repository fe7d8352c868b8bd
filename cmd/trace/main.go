// Command trace prints the step trace of one of the lessons' models: one
// training step on a batch of its data, as JSON in the format of
// docs/trace-format.md (parameters before the step, the loss, the gradient
// of every parameter).
//
//	go run ./cmd/trace -model cnn -seed 1 [-batch 4] > cnn.json
//
// The same model, seed and batch size always give the same bytes. Check a
// trace against PyTorch with scripts/check_trace_torch.py.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/paramshare/paramshare/engine"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		var usage usageError
		if errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ error }

// run parses args (without the program name), builds the model and writes
// its trace to stdout. Flag parsing messages go to stderr.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "model to trace: "+strings.Join(engine.ModelNames(), ", "))
	seed := fs.Uint64("seed", 1, "seed of the initial weights and of the batch")
	batch := fs.Int("batch", 0, "examples in the batch (default 4 for images and pairs, 2 for sequences)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("trace: unexpected arguments %q", fs.Args())}
	}
	if *model == "" {
		return usageError{fmt.Errorf("trace: -model is required (one of %s)", strings.Join(engine.ModelNames(), ", "))}
	}
	m, err := engine.BuildModel(*model, *seed)
	if err != nil {
		return usageError{fmt.Errorf("trace: %w", err)}
	}
	if *batch == 0 {
		*batch = defaultBatch(*model)
	}
	if *batch < 1 || *batch > 256 {
		return usageError{fmt.Errorf("trace: -batch %d, want 1 to 256", *batch)}
	}
	x, target, err := exampleBatch(*model, *seed, *batch)
	if err != nil {
		return err
	}
	return engine.WriteTrace(stdout, m, *seed, x, target)
}
