package lab

import (
	"github.com/paramshare/paramshare/engine"
)

// ModelCNNGAP is the lessons' CNN with global average pooling in place of
// the flatten (engine.CNNConfig.GlobalPool): conv 1→8, relu, maxpool 2,
// conv 8→16, relu, maxpool 2, global_avg_pool2d, linear 16→10 — 1,418
// parameters. The cnn's classifier weighs every feature at every one of
// the 7×7 positions left after pooling, so a digit moved by a few pixels
// meets other weights and the cnn loses much of its accuracy; averaging
// each feature map over the image first leaves only what features are
// present, not where, which a shift changes only at the edges and through
// the pooling grid. "Does sharing help?" compares the two.
const ModelCNNGAP = "cnn-gap"

// ControlModels lists the digit classifiers a TrainConfig (and so a
// CompareConfig) may name besides Models(): controls for the lesson on
// judging sharing. They are not in Models(), so the CNN lessons' defaults
// and pages do not change.
func ControlModels() []string { return []string{ModelCNNGAP} }

// trainableModels is every name TrainConfig.Validate accepts.
func trainableModels() []string { return append(Models(), ControlModels()...) }

// buildDigitModel returns the digit classifier named name (of Models() or
// ControlModels()) initialised from seed.
func buildDigitModel(name string, seed uint64) (*engine.Model, error) {
	if name == ModelCNNGAP {
		cfg := engine.DefaultCNNConfig()
		cfg.GlobalPool = true
		return engine.NewCNN(name, cfg, seed)
	}
	return engine.BuildModel(name, seed)
}
