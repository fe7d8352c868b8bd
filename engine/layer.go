package engine

// Layer is one step of a model. Forward takes a batch and returns the output
// (owned by the layer, see the package doc); Backward takes the gradient of
// the loss with respect to that output, adds each parameter's gradient into
// its Param.Grad and returns the gradient with respect to the input. Backward
// must follow the Forward it differentiates. tap may be nil.
type Layer interface {
	// Spec names the layer and gives its trace type and attributes.
	Spec() Spec
	// Params lists the layer's parameters in trace order, with their local
	// names. A layer reusing another layer's Param lists it too.
	Params() []NamedParam
	// OutShape checks that the layer accepts one example of shape in
	// (batch axis left out) and returns the shape of one output example.
	OutShape(in []int) ([]int, error)
	Forward(x *Tensor, tap Tap) *Tensor
	Backward(dy *Tensor, tap Tap) *Tensor
}

// InputGradSkipper is implemented by layers that can leave out the gradient
// with respect to their input. A Model asks this of its first layer with
// parameters: nothing before it has parameters, so that gradient would be
// computed only to be thrown away (about 6 % of a CNN step, 15 % of an
// LSTM step on one-hot input). A skipping layer's Backward returns nil.
type InputGradSkipper interface {
	SkipInputGrad(skip bool)
}

// Spec is what a step trace says of a layer: its unique name, its type from
// the trace table, and exactly the attrs the table lists for that type.
type Spec struct {
	Name  string
	Type  string
	Attrs map[string]any
}

// Counter is implemented by layers that have parameters. Count reports, for
// one example of shape in, how many multiply-adds its parameters take part in
// (Uses) and how many parameters the layer would hold if every use had its
// own weights (Unshared): a convolution's locally connected twin, an RNN with
// separate weights per time step.
type Counter interface {
	Count(in []int) LayerCount
}

// LayerCount is a layer's answer to Count.
type LayerCount struct {
	Uses     int
	Unshared int
}

// Tap observes a pass through a model. Implementations must not keep the
// tensors they are given: they are borrowed for the duration of the call.
type Tap interface {
	// Output is called after each layer's Forward with its input and output.
	Output(l Layer, x, y *Tensor)
	// Contribute is called during Backward with one use's contribution to
	// a Param's gradient. The contributions of one Backward pass for a
	// Param sum to what that pass added into Param.Grad.
	Contribute(c Contribution)
}

// UseKind says what one use of a shared parameter is.
type UseKind string

// The kinds of use reported to a Tap.
const (
	UsePosition UseKind = "position" // conv2d output position; Index = [oy, ox]
	UseStep     UseKind = "step"     // recurrent time step; Index = [t]
	UseToken    UseKind = "token"    // sequence position; Index = [t]
	UseBranch   UseKind = "branch"   // siamese branch; Index = [0] or [1]
	UseLayer    UseKind = "layer"    // one of several layers holding the Param (tied weights, cross-layer sharing); Index = [layer number in the model]
)

// Contribution is one use's part of a Param's gradient. Grad has the Param's
// shape and is borrowed for the call (summed over the batch).
type Contribution struct {
	Layer string // name of the layer that made the use
	Param *Param
	Local string // the Param's name inside that layer
	Kind  UseKind
	Index []int
	Grad  *Tensor
}

// Observer is an ability a Tap may also have: a Tap that implements it is
// shown named internals of the layers, values that are neither a layer's
// output nor a gradient contribution (an attention map, the hidden state of
// a recurrent cell at one step, the gradient reaching that state). A layer
// checks for it with a type assertion once per pass; for a nil Tap, or one
// without this method, nothing is copied and nothing is allocated.
//
// Internal is called with the layer the value belongs to (for the attention
// inside a transformer_block, the block), one of the Internal* names, an
// index (a head, a time step) and the value, borrowed for the call like
// every tensor a Tap is given.
type Observer interface {
	Internal(l Layer, name string, index int, t *Tensor)
}

// The names of the internals layers show to an Observer. B is the batch, T
// the sequence length, H the hidden size.
const (
	// InternalAttention is one head's attention map A_h = softmax(Q_h K_hᵀ
	// / √(d/h) + mask) in self_attention and transformer_block Forward:
	// index = head h, [B, T, T], row i is how token i weighs every token.
	InternalAttention = "attention.weights"
	// InternalHidden is the hidden state h_t of an rnn, lstm or gru after
	// step t in Forward: index = t, [B, H], shown for t = 0 … T−1.
	InternalHidden = "hidden"
	// InternalHiddenGrad is ∂L/∂h_t in rnn, lstm and gru Backward, the
	// whole gradient reaching h_t (from the output at t and through step
	// t+1): index = t, [B, H], shown in the order BPTT reaches the steps,
	// t = T−1 … 0. Its norms shrinking towards t = 0 is a vanishing
	// gradient, growing is an exploding one.
	InternalHiddenGrad = "hidden.grad"
	// InternalCell is an lstm's cell state c_t after step t in Forward:
	// index = t, [B, H].
	InternalCell = "cell"
	// InternalCellGrad is ∂L/∂c_t in lstm Backward (from h_t and through
	// c_{t+1}): index = t, [B, H], shown for t = T−1 … 0.
	InternalCellGrad = "cell.grad"
)
