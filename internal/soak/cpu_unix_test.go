//go:build unix

package soak

import (
	"syscall"
	"time"
)

// processCPU returns the user and system CPU time the test process has used
// so far, or 0 when getrusage fails.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
