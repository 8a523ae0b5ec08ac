//go:build !linux

package load

import "os"

// datasync flushes f to the disk; off Linux there is no fdatasync in the
// standard library, so it is a full f.Sync.
func datasync(f *os.File) error { return f.Sync() }
