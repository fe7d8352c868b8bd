// Package attnshare is the attention-share experiment of lesson 11 (Attention shares its projections).
package attnshare
