package webhook

import (
	"math/rand/v2"
	"time"
)

// Defaults for the workers of Handler.Run and Handler.Drain, each the
// default of the WorkerConfig field of its name. DefaultMaxAge is WorkerConfig.MaxAge's,
// how long a delivery is retried; the Intercom max age (WithIntercomMaxAge)
// defaults to the retention, DefaultRetention.
const (
	DefaultWorkers         = 8
	DefaultMaxAttempts     = 25
	DefaultMaxAge          = 72 * time.Hour
	DefaultMinBackoff      = time.Second
	DefaultMaxBackoff      = time.Hour
	DefaultPoll            = 500 * time.Millisecond
	DefaultShutdownTimeout = 30 * time.Second
)

// A WorkerConfig tunes the workers that Handler.Run and Handler.Drain run
// in inbox mode, and their retry policy. Zero (or negative) fields take
// the defaults, and a MaxBackoff below MinBackoff is raised to it.
//
// A delivery whose callbacks fail is retried after a random wait between
// MinBackoff and MinBackoff·2ⁿ (n the attempts so far), capped at
// MaxBackoff (exponential backoff with jitter), or after a StatusError's
// RetryAfter when that is longer. It is dead, keeping its last error,
// once it has run MaxAttempts times, when its next attempt would come
// more than MaxAge after it was received, or at once for an error marked
// with Permanent. Runs count as they start, so one that crashes the
// process or outlasts its lease counts too: a delivery that keeps crashing
// its workers is dead, without running again, once leased past
// MaxAttempts runs.
type WorkerConfig struct {
	// Workers is how many deliveries run their callbacks at once, in one
	// Run or Drain call (DefaultWorkers).
	Workers int
	// MaxAttempts is the most runs a delivery gets (DefaultMaxAttempts).
	MaxAttempts int
	// MaxAge is how long after it was received a delivery may still be
	// retried (DefaultMaxAge). Replay keeps the time it was received, so
	// a replayed delivery older than MaxAge gets one run.
	MaxAge time.Duration
	// MinBackoff and MaxBackoff bound the wait before a retry
	// (DefaultMinBackoff, DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// Poll is how often Run's idle workers look for due deliveries:
	// retries coming due, and deliveries other processes stored
	// (DefaultPoll). A delivery this handler stores wakes them at once.
	// Drain does not wait: it returns once nothing is due.
	Poll time.Duration
	// ShutdownTimeout is how long Run (or Drain) waits, once its context
	// is done, for callbacks in flight to return before it cancels their
	// context and returns, a second later at most
	// (DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
}

func (c WorkerConfig) withDefaults() WorkerConfig {
	set := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	set(&c.MaxAge, DefaultMaxAge)
	set(&c.MinBackoff, DefaultMinBackoff)
	set(&c.MaxBackoff, DefaultMaxBackoff)
	set(&c.Poll, DefaultPoll)
	set(&c.ShutdownTimeout, DefaultShutdownTimeout)
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	return c
}

// backoff is the wait before the retry that follows attempts failed runs.
func (c WorkerConfig) backoff(attempts int) time.Duration {
	hi := c.backoffCap(attempts)
	if hi <= c.MinBackoff {
		return c.MinBackoff
	}
	return c.MinBackoff + rand.N(hi-c.MinBackoff+1)
}

// backoffCap is the longest wait backoff may choose: MinBackoff·2ⁿ, at
// most MaxBackoff. The shift is taken only where it cannot overflow.
func (c WorkerConfig) backoffCap(attempts int) time.Duration {
	attempts = max(attempts, 0)
	if attempts < 63 && c.MinBackoff <= c.MaxBackoff>>attempts {
		return c.MinBackoff << attempts
	}
	return c.MaxBackoff
}

// WithWorkers sets the workers' concurrency, retry policy and shutdown
// for Handler.Run and Handler.Drain.
func WithWorkers(wc WorkerConfig) Option {
	return handlerOption(func(c *handlerConfig) error {
		c.workers = wc
		return nil
	})
}
