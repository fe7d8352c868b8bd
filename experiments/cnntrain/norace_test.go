//go:build !race

package cnntrain

const raceEnabled = false
