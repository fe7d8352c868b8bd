//go:build !race

package drawdigit

const raceEnabled = false
