// Package modelcount is the experiment of lesson 16, "Count a real model"
// (issue 10): a sharing-aware parameter counter for real architectures.
package modelcount
