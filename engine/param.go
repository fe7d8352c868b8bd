package engine

import (
	"math"
	"math/rand/v2"
)

// Param is a trainable tensor and the gradient accumulated for it. A Param
// held by several layers is shared: each use adds its part into Grad.
type Param struct {
	// Name is the full name "LAYER.PARAM" given by the layer that created
	// it (its owner); layers that reuse it keep the owner's name.
	Name  string
	Value *Tensor
	Grad  *Tensor
}

// NewParam returns a zero Param of the given shape.
func NewParam(name string, shape ...int) *Param {
	return &Param{Name: name, Value: NewTensor(shape...), Grad: NewTensor(shape...)}
}

// Size is the number of scalar parameters.
func (p *Param) Size() int { return len(p.Value.Data) }

// NamedParam is a Param as a layer refers to it: Local is the name inside the
// layer ("weight", "attn.w_q"), which is the key used in step traces.
type NamedParam struct {
	Local string
	*Param
}

// NewRand returns the deterministic random source used for initialisation
// and data shuffling: the same seed gives the same numbers on every machine.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}

// InitUniform fills t with samples from U(-bound, bound).
func InitUniform(t *Tensor, bound float64, rng *rand.Rand) {
	for i := range t.Data {
		t.Data[i] = (2*rng.Float64() - 1) * bound
	}
}

// InitXavier fills t with Glorot/Xavier uniform samples,
// U(-sqrt(6/(fanIn+fanOut)), +sqrt(6/(fanIn+fanOut))), as
// torch.nn.init.xavier_uniform_.
func InitXavier(t *Tensor, fanIn, fanOut int, rng *rand.Rand) {
	InitUniform(t, math.Sqrt(6/float64(fanIn+fanOut)), rng)
}

// InitHe fills t with He/Kaiming uniform samples for ReLU layers,
// U(-sqrt(6/fanIn), +sqrt(6/fanIn)), as torch.nn.init.kaiming_uniform_ with
// nonlinearity "relu".
func InitHe(t *Tensor, fanIn int, rng *rand.Rand) {
	InitUniform(t, math.Sqrt(6/float64(fanIn)), rng)
}

// InitTorchDefault fills t as PyTorch initialises Linear, Conv and RNN
// weights and biases by default: U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
func InitTorchDefault(t *Tensor, fanIn int, rng *rand.Rand) {
	InitUniform(t, 1/math.Sqrt(float64(fanIn)), rng)
}
