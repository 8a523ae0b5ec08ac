// Package testwait bounds a test's wait on something that should happen
// promptly: a goroutine's result, a WaitGroup, a child process's exit.
// Unbounded, a bug there hangs the whole run until go test's timeout,
// ten minutes later, with every goroutine's stack and no word of which
// wait it was; bounded, the test fails at once, naming what did not
// happen. It is for tests only.
//
// A wait already bounded by a context or a deadline needs none of this.
package testwait

import (
	"testing"
	"time"
)

// Bound is how long a wait may take before the test fails. It is far
// above what any of these waits takes, so that a slow or loaded CI
// machine does not flake, and doubled under the race detector, which
// slows code several times over.
const Bound = 30 * time.Second * raceFactor

// Recv receives from ch and returns what it got, failing t if nothing
// came within Bound; what names the value awaited ("Run's error") for
// the failure.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return recv(t, ch, what, Bound)
}

// Closed waits for ch to be closed or sent to, failing t if neither
// happened within Bound; what names the event ("the handler to start").
func Closed[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	recv(t, ch, what, Bound)
}

// For calls wait (a WaitGroup's Wait, say) in a goroutine and waits for
// it to return, failing t if it had not within Bound; what names what
// wait waits for ("the senders to finish"). A wait that never returns is
// left running: t has failed, and the test binary ends soon after.
func For(t testing.TB, what string, wait func()) {
	t.Helper()
	Call(t, what, func() struct{} { wait(); return struct{}{} })
}

// Call is For for a wait with a result, as exec.Cmd's Wait: it returns
// what fn returned.
func Call[T any](t testing.TB, what string, fn func() T) T {
	t.Helper()
	return call(t, what, fn, Bound)
}

func call[T any](t testing.TB, what string, fn func() T, bound time.Duration) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- fn() }()
	return recv(t, ch, what, bound)
}

func recv[T any](t testing.TB, ch <-chan T, what string, bound time.Duration) T {
	t.Helper()
	timer := time.NewTimer(bound)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("timed out after %v waiting for %s", bound, what)
		var zero T
		return zero
	}
}
