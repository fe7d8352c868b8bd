//go:build !race

package sharingeval

const raceEnabled = false
