//go:build race

package preempt

// raceEnabled reports whether the test binary runs with the race detector.
const raceEnabled = true
