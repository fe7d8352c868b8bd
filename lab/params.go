package lab

import (
	"fmt"

	"github.com/paramshare/paramshare/engine"
)

// ParamsConfig is the parameter calculator's input: square images of each
// of Sizes pixels a side with InChannels channels, mapped to OutChannels
// channels by a layer of each kind with a Kernel×Kernel window (stride 1,
// Padding zeros on every side).
type ParamsConfig struct {
	Sizes       []int `json:"sizes"`       // image sides H = W, each 4…512
	InChannels  int   `json:"inChannels"`  // 1…64
	OutChannels int   `json:"outChannels"` // 1…256
	Kernel      int   `json:"kernel"`      // 1…11
	Padding     int   `json:"padding"`     // 0…Kernel−1
}

// Limits of a ParamsConfig. A dense layer's count grows with the fourth
// power of the size; these keep every count (at most about 10¹⁵) exact in
// an int and a float64.
const (
	MinParamsSize       = 4
	MaxParamsSize       = 512
	MaxParamsInChannels = 64
	MaxParamsOutChannel = 256
	MaxParamsKernel     = 11
)

// MaxBuiltParams is the largest layer ParamsTable builds to ask the engine
// for its count. A built parameter costs 16 bytes (value and gradient) and
// a random draw, so a dense layer on a 64×64 image (134 M parameters) would
// take 2 GB; larger layers are counted with the engine's own formulas (the
// tests check the two agree wherever both can be had).
const MaxBuiltParams = 1 << 22

// DefaultParamsConfig is the lessons' first convolution (1 → 8 channels,
// 3×3, padding 1, so the output is as large as the input) on images from
// 8×8 to 256×256.
func DefaultParamsConfig() ParamsConfig {
	return ParamsConfig{Sizes: []int{8, 16, 28, 32, 64, 128, 256}, InChannels: 1, OutChannels: 8, Kernel: 3, Padding: 1}
}

// Validate returns an error naming the first field outside its range, or
// nil.
func (c ParamsConfig) Validate() error {
	switch {
	case len(c.Sizes) == 0:
		return fmt.Errorf("lab: sizes: want at least one image size")
	case c.InChannels < 1 || c.InChannels > MaxParamsInChannels:
		return fmt.Errorf("lab: in channels %d: want 1…%d", c.InChannels, MaxParamsInChannels)
	case c.OutChannels < 1 || c.OutChannels > MaxParamsOutChannel:
		return fmt.Errorf("lab: out channels %d: want 1…%d", c.OutChannels, MaxParamsOutChannel)
	case c.Kernel < 1 || c.Kernel > MaxParamsKernel:
		return fmt.Errorf("lab: kernel %d: want 1…%d", c.Kernel, MaxParamsKernel)
	case c.Padding < 0 || c.Padding >= c.Kernel:
		return fmt.Errorf("lab: padding %d: want 0…%d (kernel − 1)", c.Padding, c.Kernel-1)
	}
	for _, s := range c.Sizes {
		if s < MinParamsSize || s > MaxParamsSize {
			return fmt.Errorf("lab: size %d: want %d…%d", s, MinParamsSize, MaxParamsSize)
		}
		if engine.Conv2dOutSize(s, c.Kernel, 1, c.Padding, 1) < 1 {
			return fmt.Errorf("lab: size %d: a %d×%d kernel with padding %d does not fit", s, c.Kernel, c.Kernel, c.Padding)
		}
	}
	return nil
}

// The layer kinds of a ParamsRow.
const (
	LayerDense = "dense"
	LayerLocal = "locally_connected"
	LayerConv  = "conv"
)

// ParamsRow is one layer's count at one image size.
type ParamsRow struct {
	Size  int    `json:"size"`  // input side H = W
	Layer string `json:"layer"` // LayerDense, LayerLocal or LayerConv
	// OutShape is [OutChannels, H′, W′], the same for the three layers.
	OutShape []int `json:"outShape"`
	// Params is the number of unique parameters (weights and biases).
	Params int `json:"params"`
	// Uses is the multiply-adds per example the weights take part in: for
	// a conv, each weight is used H′·W′ times.
	Uses int `json:"uses"`
	// Source is "built" when the layer was built and counted by
	// engine.Model.Count, "computed" when it was larger than
	// MaxBuiltParams and counted with the engine's formula instead.
	Source string `json:"source"`
}

// ParamsTable returns, for each size in cfg (in order), the rows of a dense
// layer (C·H·W → OC·H′·W′, every input to every output), a locally
// connected layer and a convolution, which all give the same output shape.
// It returns cfg.Validate's error for a config outside the limits.
func ParamsTable(cfg ParamsConfig) ([]ParamsRow, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rows := make([]ParamsRow, 0, 3*len(cfg.Sizes))
	for _, size := range cfg.Sizes {
		for _, kind := range []string{LayerDense, LayerLocal, LayerConv} {
			row, err := paramsRow(cfg, size, kind)
			if err != nil {
				return nil, err
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

func paramsRow(cfg ParamsConfig, size int, kind string) (ParamsRow, error) {
	return CountLayer(cfg, size, kind, MaxBuiltParams)
}

// CountLayer is one row of the table: the layer of the given kind (LayerDense,
// LayerLocal or LayerConv) on size×size inputs, built and counted by
// engine.Model.Count when it holds at most buildLimit parameters, counted by
// the engine's formula otherwise (Source says which; a buildLimit of 0
// never builds). The live calculator uses a smaller limit than the table,
// since it builds on every slider move. cfg must be valid (see Validate)
// and size must fit it.
func CountLayer(cfg ParamsConfig, size int, kind string, buildLimit int) (ParamsRow, error) {
	params, uses, out := paramsFormula(cfg, size, kind)
	row := ParamsRow{Size: size, Layer: kind, OutShape: out, Params: params, Uses: uses, Source: "computed"}
	if params > buildLimit {
		return row, nil
	}
	m, err := buildParamsLayer(cfg, size, kind)
	if err != nil {
		return ParamsRow{}, err
	}
	c := m.Count()
	row.Params, row.Uses, row.Source = c.Params, c.Uses, "built"
	return row, nil
}

// buildParamsLayer builds kind as a one-layer model (a dense layer behind a
// flatten) on [C, size, size] inputs, for engine.Model.Count.
func buildParamsLayer(cfg ParamsConfig, size int, kind string) (*engine.Model, error) {
	rng := engine.NewRand(0) // the values are never used, only counted
	in := []int{cfg.InChannels, size, size}
	cc := engine.Conv2dConfig{InChannels: cfg.InChannels, OutChannels: cfg.OutChannels, KernelSize: cfg.Kernel, Stride: 1, Padding: cfg.Padding}
	var layers []engine.Layer
	switch kind {
	case LayerDense:
		_, _, out := paramsFormula(cfg, size, kind)
		l, err := engine.NewLinear("dense", cfg.InChannels*size*size, engine.ShapeSize(out), rng)
		if err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		layers = []engine.Layer{engine.NewFlatten("flatten"), l}
	case LayerLocal:
		l, err := engine.NewLocallyConnected2d("local", cc, size, size, rng)
		if err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		layers = []engine.Layer{l}
	default:
		l, err := engine.NewConv2d("conv", cc, rng)
		if err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		layers = []engine.Layer{l}
	}
	m, err := engine.NewModel(kind, in, nil, layers...)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	return m, nil
}

// paramsFormula is what engine's Count reports for kind (Linear.Count,
// LocallyConnected2d.Count and the Params sizes, Conv2d.Count), written out
// so that layers too large to build can be counted: it returns the unique
// parameters, the multiply-adds per example and the output shape.
func paramsFormula(cfg ParamsConfig, size int, kind string) (params, uses int, out []int) {
	side := engine.Conv2dOutSize(size, cfg.Kernel, 1, cfg.Padding, 1)
	positions := side * side
	outputs := cfg.OutChannels * positions
	perKernel := cfg.InChannels * cfg.Kernel * cfg.Kernel
	out = []int{cfg.OutChannels, side, side}
	switch kind {
	case LayerDense:
		in := cfg.InChannels * size * size
		return in*outputs + outputs, in * outputs, out
	case LayerLocal:
		// A kernel and a bias of its own at every output position.
		return outputs*perKernel + outputs, outputs * perKernel, out
	default:
		// One kernel per output channel, used at every position.
		return cfg.OutChannels*perKernel + cfg.OutChannels, outputs * perKernel, out
	}
}
