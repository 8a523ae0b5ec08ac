//go:build !unix

package load

import "time"

// processCPU reports that the CPU time is not known here.
func processCPU() (time.Duration, bool) { return 0, false }
