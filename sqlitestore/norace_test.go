//go:build !race

package sqlitestore_test

// raceEnabled reports a build with the race detector, under which the
// pure-Go SQLite runs about ten times slower.
const raceEnabled = false
