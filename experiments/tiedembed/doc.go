// Package tiedembed is the tied-embed experiment of lesson 13 (Tied embeddings).
package tiedembed
