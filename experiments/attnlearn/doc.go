// Package attnlearn is the attention-learn experiment of lesson 12 (Watch
// attention learn): one small transformer (engine.NewTransformer, through
// lab.AttnTrainer) trained live on copy, reverse or sort, with its
// attention maps per block and head on one fixed probe sequence, its loss
// and per-token accuracy, and how it does on sequences longer than the
// ones it was trained on. See README.md.
package attnlearn
