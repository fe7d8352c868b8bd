// Package twinstasks is the experiments of lesson 15 (Twins and tasks).
package twinstasks
