// Package gradflow is the grad-flow experiment of lesson 8 (Vanishing and exploding).
package gradflow
