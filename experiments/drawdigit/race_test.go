//go:build race

package drawdigit

const raceEnabled = true
