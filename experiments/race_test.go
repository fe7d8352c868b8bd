//go:build race

package experiments_test

const raceEnabled = true
