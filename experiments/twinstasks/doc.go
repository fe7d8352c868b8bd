// Package twinstasks is the experiments of lesson 15, "Twins and tasks":
// sharing between whole networks, each raced live against its unshared
// control by lab's trainers on the embedded MNIST digits.
//
//   - siamese-twins: one CNN encoder used by both digits of a pair
//     (engine.NewSiameseCNN, contrastive loss) against two towers, the same
//     encoder twice with weights of their own (twice the parameters). Every
//     step shows, for every encoder weight, the two sides' contributions
//     (the engine's Recorder, UseBranch) and their sum beside the engine's
//     dW.
//   - multitask-trunk: one convolutional trunk with a digit head and an
//     odd/even head (engine.NewMultitaskCNN) against two separate CNNs.
//     Every step measures each task's gradient on the trunk by a backward
//     pass per head, their cosine (do the tasks pull the trunk the same
//     way?) and their sum beside the engine's dW.
//
// See README.md for the fields, frames and exports.
package twinstasks
