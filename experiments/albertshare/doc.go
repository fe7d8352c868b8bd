// Package albertshare is the albert-share experiment of lesson 14 (Share across layers).
package albertshare
