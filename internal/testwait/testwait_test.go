package testwait

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeT records a failure instead of failing the test it runs in, and
// ends its goroutine there as FailNow does.
type fakeT struct {
	testing.TB
	failed string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run runs fn with a fakeT in a goroutine of its own, as FailNow needs,
// and returns the failure it recorded, if any, and how long it took.
func run(t *testing.T, fn func(tb testing.TB)) (failed string, took time.Duration) {
	t.Helper()
	f := &fakeT{TB: t}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the helper itself hung: its bound did not fire")
	}
	return f.failed, time.Since(start)
}

// TestHangFailsFast: a wait on something that never happens fails the
// test once its bound has passed, with a message naming what it waited
// for, instead of hanging the run until go test's timeout.
func TestHangFailsFast(t *testing.T) {
	const bound = 50 * time.Millisecond
	var never sync.WaitGroup
	never.Add(1)
	for _, tc := range []struct {
		name string
		wait func(tb testing.TB)
		what string
	}{
		{name: "a channel nobody sends on", what: "Run's error", wait: func(tb testing.TB) {
			recv(tb, make(chan error), "Run's error", bound)
		}},
		{name: "a WaitGroup never done", what: "the senders to finish", wait: func(tb testing.TB) {
			call(tb, "the senders to finish", func() struct{} { never.Wait(); return struct{}{} }, bound)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failed, took := run(t, tc.wait)
			require.Equal(t, "timed out after 50ms waiting for "+tc.what, failed)
			require.GreaterOrEqual(t, took, bound)
			require.Less(t, took, 5*time.Second, "the bound was 50ms")
		})
	}
	never.Done()
}

// TestPromptPasses: what happens in time passes the test, its value
// handed back, whichever helper waited for it.
func TestPromptPasses(t *testing.T) {
	for _, tc := range []struct {
		name string
		wait func(tb testing.TB)
	}{
		{name: "Recv", wait: func(tb testing.TB) {
			ch := make(chan int, 1)
			ch <- 7
			require.Equal(tb, 7, Recv(tb, ch, "a value"))
		}},
		{name: "Closed", wait: func(tb testing.TB) {
			ch := make(chan struct{})
			go close(ch)
			Closed(tb, ch, "ch to close")
		}},
		{name: "For", wait: func(tb testing.TB) {
			var wg sync.WaitGroup
			ran := false
			wg.Add(1)
			go func() { defer wg.Done(); ran = true }()
			For(tb, "the goroutine", wg.Wait)
			require.True(tb, ran)
		}},
		{name: "Call", wait: func(tb testing.TB) {
			require.EqualError(tb, Call(tb, "the child to exit", func() error { return fmt.Errorf("exit status 1") }), "exit status 1")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failed, _ := run(t, tc.wait)
			require.Empty(t, failed)
		})
	}
}
