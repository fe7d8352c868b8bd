// Package experiments holds one package per lesson experiment (see
// docs/experiment-kit.md) and, in its tests, the conformance test every
// registered experiment passes.
package experiments
