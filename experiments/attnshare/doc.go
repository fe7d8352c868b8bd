// Package attnshare is the attention-share experiment of lesson 11,
// "Attention shares its projections". A word the learner types (up to 12
// letters) is embedded (engine.Embedding), given sinusoidal positions
// (engine.PositionalEncoding) and read by one engine.SelfAttention layer;
// a linear read-out names the next letter at every position and the loss
// is the engine's cross-entropy of those guesses. The experiment walks the
// forward pass — the same W_Q, W_K, W_V applied token by token, then
// QKᵀ/√d_k, the softmax of every row, the weighted sum of V and W_O — and
// then the ledger of one projection's gradient: each token's contribution
// (engine.Recorder, engine.UseToken) added into a running Σ beside the
// engine's dW, equal once every token is in.
//
// # Steps
//
// With T letters a run has 2T + 4 positions: 0 shows the embedded input;
// 1…T project token t; T+1 the scores, T+2 the softmax, T+3 the weighted
// sum of V, T+4 the output projection and the loss; T+4+j the ledger with
// tokens 1…j added. Everything is computed once per parameters by one
// forward and one backward pass; a position only says how much of it is
// shown, and the running Σ is added from zero for each frame, so a frame
// reached by seeking is exactly one reached by stepping.
package attnshare
