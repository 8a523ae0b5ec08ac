package webhook

import (
	"context"
	"sync"
	"time"
)

// leaseMargin is how long before a claim's lease ends the callbacks'
// context ends: a tenth of the lease, at most 5 s (55 s of the default
// minute, far past any sender's wait), time for a callback to stop and
// the handler to answer before a retry may claim the message.
func leaseMargin(lease time.Duration) time.Duration { return min(lease/10, 5*time.Second) }

// A leaseContext is the callbacks' context while a claim is held: its
// parent (the request's values without its end, or a worker's context),
// ending also at the deadline. Most callbacks never
// wait on Done, so the timer behind it starts only when one asks for it;
// until then Err compares the deadline with the clock.
type leaseContext struct {
	context.Context // the parent
	deadline        time.Time

	mu     sync.Mutex
	timed  context.Context // context.WithDeadline of the request's, once started
	cancel context.CancelFunc
}

func newLeaseContext(parent context.Context, deadline time.Time) *leaseContext {
	return &leaseContext{Context: parent, deadline: deadline}
}

// started returns the timed context if Done started it, else nil.
func (c *leaseContext) started() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timed
}

// Deadline is the earlier of the lease's and the request's.
func (c *leaseContext) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

// Done starts the timer on first use.
func (c *leaseContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timed == nil {
		c.timed, c.cancel = context.WithDeadline(c.Context, c.deadline)
	}
	return c.timed.Done()
}

// Err is the request's error, or DeadlineExceeded once the lease's
// deadline has passed.
func (c *leaseContext) Err() error {
	if t := c.started(); t != nil {
		return t.Err()
	}
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// Value looks in the timed context once started, so that contexts derived
// from this one find its cancellation the way the context package does
// for its own.
func (c *leaseContext) Value(key any) any {
	if t := c.started(); t != nil {
		return t.Value(key)
	}
	return c.Context.Value(key)
}

// stop releases the timer, if one was started.
func (c *leaseContext) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
}
