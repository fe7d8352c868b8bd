// Package cliff is the cliff experiment of lesson 8 (Pascanu's cliff).
package cliff
