// Package attnlearn is the attention-learn experiment of lesson 12 (Watch attention learn).
package attnlearn
