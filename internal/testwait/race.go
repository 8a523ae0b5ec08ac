//go:build race

package testwait

// raceFactor scales Bound under the race detector.
const raceFactor = 2
