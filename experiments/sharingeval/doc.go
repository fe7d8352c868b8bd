// Package sharingeval is the experiment of lesson 17, "Does sharing help?"
// (issue 10): controlled comparisons over seeds, run in the background.
package sharingeval
