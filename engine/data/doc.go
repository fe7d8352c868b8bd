// Package data provides the datasets of the lessons: real handwritten digits,
// synthetic sequence tasks and a small text. Everything is embedded or
// generated, so nothing is downloaded at run time, and everything random is
// drawn from a *rand.Rand the caller passes in (engine.NewRand(seed)), so a
// seed fixes every batch.
//
// Tensors follow the engine's layout: images are [B, 1, H, W] with pixels
// scaled to [0, 1]; integer tokens and class indices are stored as float64.
//
// # Datasets
//
//	MNISTTrain, MNISTTest   5,000 and 1,000 labelled 28×28 MNIST digits,
//	                        class-balanced, embedded as gzipped IDX files.
//	                        Images.Batch gives x [B,1,28,28], y [B].
//	                        Source: MNIST by Yann LeCun, Corinna Cortes and
//	                        Christopher J.C. Burges, CC BY-SA 3.0; see
//	                        mnist/README.md for the subset and its provenance.
//	Shift                   digits translated by (dx, dy) pixels, zero fill:
//	                        the robustness test of the CNN lesson.
//	Copy, Reverse           x [B,T] tokens, y [B,T] the same or reversed.
//	Adding                  x [B,T,2] values and markers, y [B,1] the sum of
//	                        the two marked values (mse).
//	RememberFirst           x [B,distance+1] tokens, y [B] the first one.
//	Corpus, CharBatch       about 7 KB of English prose written by the
//	                        ParamShare team (CC0) for character models:
//	                        x [B,T] character ids, y [B,T] the next ones.
//
// ReadIDX, ReadIDXImages and ReadIDXLabels read MNIST-format (IDX) files and
// validate them fully, so they can also load a user's own file; the writers
// are used by the generator in gen/ (go generate ./engine/data).
//
// # Errors
//
// Bad input data (a corrupt IDX file) is a returned error. Arguments that
// cannot make a batch (an index out of range, a negative length) are a
// programmer's mistake and panic, as each function's comment states.
package data
