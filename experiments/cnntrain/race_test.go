//go:build race

package cnntrain

const raceEnabled = true
