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
