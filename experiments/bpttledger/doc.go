// Package bpttledger is the bptt-ledger experiment of lesson 7 (Backprop through time).
package bpttledger
