//go:build !unix

package soak

import "time"

// processCPU returns 0: the soak test reads CPU time only on Unix systems.
func processCPU() time.Duration { return 0 }
