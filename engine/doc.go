// Package engine is a small, complete neural-network library in float64,
// written so that parameter sharing can be seen: every trainable tensor is a
// *Param, a Param may be used by several layers (that is weight tying and
// cross-layer sharing), and the gradient of a Param is the sum of the
// contributions of every place it is used.
//
// # Tensors
//
// A Tensor is a flat []float64 in row-major (C) order with a Shape. The first
// axis of every activation is the batch: images are [B, C, H, W], sequences
// [B, T, F], integer token inputs [B, T] (indices stored as float64). Shapes
// that describe one example (as in Layer.OutShape and Counter.Count) leave the
// batch axis out.
//
// # Ownership
//
// A layer owns the tensors it returns from Forward and Backward and may reuse
// them on the next call with the same batch size: a caller that wants to keep
// an output across steps clones it. Inputs are borrowed: a layer may keep a
// reference to its Forward input until the matching Backward, and must not
// modify it. Param values are owned by the Param; optimizers update them in
// place.
//
// # Gradients accumulate
//
// Backward adds (+=) into Param.Grad; it never overwrites. That single rule
// is what makes sharing work: a kernel used at 784 positions, an RNN cell used
// at 32 time steps and an embedding matrix used at the input and the output
// all end up with the sum of their uses. Model.ZeroGrad clears the sums
// before a step.
//
// # Taps
//
// A Tap observes a pass: each layer's output in Forward and, in Backward, each
// use's contribution to a shared Param's gradient (per output position for
// conv2d, per time step for recurrent cells, per token for attention
// projections and embeddings, per branch for siamese, per layer for Params
// that several layers hold). The contributions of one pass sum to the Param's
// gradient for that pass. When the tap is nil no contribution is computed and
// nothing is allocated for it.
//
// A Tap that also implements Observer (an optional ability, checked with a
// type assertion) is shown named internals: each head's attention map
// (InternalAttention, from self_attention and transformer_block), each step's
// hidden state and the gradient reaching it in backpropagation through time
// (InternalHidden, InternalHiddenGrad, from rnn, lstm and gru; an lstm also
// shows its cell state, InternalCell and InternalCellGrad). A Tap without it
// costs the layers nothing more.
//
// Recorder is the ready-made Tap and Observer: a ledger that keeps copies of
// the contributions, and by name the internals, its RecordFilter lets
// through (one kernel's per-position parts, say), and answers what a lesson
// asks of them: the sum per Param and kind (equal to the gradient), one
// Param's uses in index order, their norms, one internal per step or head.
// Like every tensor a Tap is given, what a layer shows is borrowed for the
// call; what a Recorder keeps is its own.
//
// # Errors
//
// A programmer's mistake (a tensor of the wrong shape passed to a layer that
// was built for another) panics with an engine.ShapeError. A problem with a
// configuration or with data (a kernel larger than its padded input, a loss
// that became NaN) is a returned error. Callers that run user-supplied
// configurations recover at the boundary of a run, never deeper.
package engine
