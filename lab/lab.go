// Package lab runs the CNN lessons' experiments headless: a Trainer that
// takes one minibatch step at a time on the embedded MNIST digits (the live
// widgets drive it step by step), the parameter calculator's table
// (ParamsTable) and the cnn / lc / mlp comparison over several seeds
// (CompareCNN), and their charts. It knows nothing of HTTP and never prints:
// long runs report progress through a callback.
//
// Every number is computed by the engine: parameter counts come from
// engine.Model.Count on built layers, accuracies from real training runs.
package lab

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/paramshare/paramshare/engine/data"
)

// Models lists the digit classifiers a TrainConfig may name: the lessons'
// CNN, its locally connected twin (the same shapes with a kernel of its own
// at every position) and the MLP with about the CNN's parameter count.
func Models() []string { return []string{"cnn", "lc", "mlp"} }

// Optimizers lists the optimizers a TrainConfig may name: plain SGD, SGD
// with momentum 0.9 (torch's SGD, dampening 0) and Adam (β 0.9, 0.999,
// ε 1e-8).
func Optimizers() []string { return []string{"sgd", "momentum", "adam"} }

// Limits of a TrainConfig. They bound the work one step does (batch) and
// the memory a trainer holds; the training set cannot be larger than the
// embedded subset.
const (
	MaxLR        = 1.0
	MinBatch     = 1
	MaxBatch     = 256
	MinTrainSize = 10
	MaxTrainSize = 5000 // the embedded MNIST training subset
)

// momentum is the "momentum" optimizer's μ.
const momentum = 0.9

// TrainConfig is what one training run needs: which model, how it is
// optimized and on how much data. The zero value is not valid; start from
// DefaultTrainConfig.
type TrainConfig struct {
	Model     string  `json:"model"`     // "cnn", "lc" or "mlp", or one of ControlModels()
	Optimizer string  `json:"optimizer"` // "sgd", "momentum" or "adam"
	LR        float64 `json:"lr"`        // learning rate, in (0, 1]
	Batch     int     `json:"batch"`     // examples per step, 1…256
	TrainSize int     `json:"trainSize"` // the first TrainSize training digits, 10…5000
	Seed      uint64  `json:"seed"`      // initial weights and shuffling
	// Micro, when positive, is the most examples one forward and backward
	// pass takes: a step's batch goes through in passes of Micro (the last
	// may be smaller) whose gradients, each weighted by its share of the
	// batch, add up to the whole batch's mean-loss gradient. The update is
	// the same as one pass's up to rounding, and as deterministic; the
	// layers' activation buffers hold Micro examples instead of Batch (a
	// batch of 256 through the lc twin holds about 140 MB at once). Evaluate
	// runs in passes of Micro too. 0 means the whole batch in one pass.
	Micro int `json:"micro,omitempty"`
}

// DefaultTrainConfig returns the lessons' starting point for model: Adam
// with learning rate 3e-3 (the engine's training test reaches 96.6 % with
// it), batch 32, the first 1,000 training digits (100 per class: few enough
// that the train/test gap shows), seed 1. The three models share these
// values: in our runs 3e-3 trained each of them smoothly (10 epochs, seed
// 1: final epoch loss cnn 0.05, lc 0.06, mlp 0.26), so the comparison needs
// no per-model learning rate.
func DefaultTrainConfig(model string) TrainConfig {
	return TrainConfig{Model: model, Optimizer: "adam", LR: 3e-3, Batch: 32, TrainSize: 1000, Seed: 1}
}

// Validate returns an error naming the first field outside its range, with
// the range, or nil when c can be trained.
func (c TrainConfig) Validate() error {
	switch {
	case !slices.Contains(trainableModels(), c.Model):
		return fmt.Errorf("lab: model %q: want one of %s", c.Model, strings.Join(trainableModels(), ", "))
	case !slices.Contains(Optimizers(), c.Optimizer):
		return fmt.Errorf("lab: optimizer %q: want one of %s", c.Optimizer, strings.Join(Optimizers(), ", "))
	case !(c.LR > 0 && c.LR <= MaxLR): // also rejects NaN
		return fmt.Errorf("lab: lr %v: want 0 < lr ≤ %v", c.LR, MaxLR)
	case c.Batch < MinBatch || c.Batch > MaxBatch:
		return fmt.Errorf("lab: batch %d: want %d…%d", c.Batch, MinBatch, MaxBatch)
	case c.TrainSize < MinTrainSize || c.TrainSize > MaxTrainSize:
		return fmt.Errorf("lab: train size %d: want %d…%d", c.TrainSize, MinTrainSize, MaxTrainSize)
	case c.Batch > c.TrainSize:
		return fmt.Errorf("lab: batch %d is larger than train size %d: want batch ≤ train size", c.Batch, c.TrainSize)
	case c.Micro < 0 || c.Micro > MaxBatch:
		return fmt.Errorf("lab: micro-batch %d: want 0 (the whole batch) or 1…%d", c.Micro, MaxBatch)
	}
	return nil
}

// The embedded digits are decoded once and shared read-only by every
// trainer: a trainer reads the first TrainSize training images in place
// instead of copying them.
var (
	trainSet = sync.OnceValue(data.MNISTTrain)
	testSet  = sync.OnceValue(data.MNISTTest)
)

// TestSet returns the 1,000 embedded test digits. The set is shared by every
// caller of the package: do not modify it.
func TestSet() *data.Images { return testSet() }

// TrainSet returns the 5,000 embedded training digits (a Trainer uses the
// first TrainSize). The set is shared: do not modify it.
func TrainSet() *data.Images { return trainSet() }
