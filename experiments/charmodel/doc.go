// Package charmodel is the char-model experiment of lesson 10 (A character model).
package charmodel
