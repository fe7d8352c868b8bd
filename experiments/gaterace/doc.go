// Package gaterace is the gate-race experiment of lesson 9 (Gates help).
package gaterace
