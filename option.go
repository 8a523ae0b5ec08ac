package webhook

import (
	"errors"
	"log/slog"
	"time"
)

// An Option configures a Handler. Every VerifyOption is also an Option,
// applied to the verifiers the handler builds from secrets. A nil Option
// is an error from NewHandler.
type Option interface {
	apply(*handlerConfig) error
}

type handlerOption func(*handlerConfig) error

func (o handlerOption) apply(c *handlerConfig) error { return o(c) }

func (o VerifyOption) apply(c *handlerConfig) error {
	c.verifyOpts = append(c.verifyOpts, o)
	return nil
}

type handlerConfig struct {
	secrets          []string
	intercomSecrets  []string
	seriesHeader     string
	seriesTokens     []string
	given            [3]bool // WithSecrets, WithIntercomSecrets, WithSeries: named even if given nothing
	std              *Verifier
	intercom         *IntercomVerifier
	series           *SeriesVerifier
	verifyOpts       []VerifyOption
	pinned           string
	maxBody          int64
	maxBodyMemory    int64
	logger           *slog.Logger
	dedupe           Deduper
	noDedupe         bool
	failClosed       bool
	lease, retention time.Duration
	intercomMaxAge   time.Duration
	inbox            Inbox
	workers          WorkerConfig
	observer         *Observer
	keyFunc          KeyFunc
}

// WithSecrets configures Standard Webhooks verification (Jam) with one or
// more whsec_/base64 HMAC keys or whpk_ ed25519 public keys. To rotate
// keys at runtime, use Handler.SetSecrets or WithVerifier.
func WithSecrets(secrets ...string) Option {
	return handlerOption(func(c *handlerConfig) error {
		c.secrets, c.given[0] = append(c.secrets, secrets...), true
		return nil
	})
}

// WithVerifier configures Standard Webhooks verification with a Verifier
// the caller built with NewVerifier or NewVerifierRaw and may rotate.
// VerifyOptions do not apply to it.
func WithVerifier(v *Verifier) Option {
	return handlerOption(func(c *handlerConfig) error {
		if v == nil || !v.usable() {
			return errors.New("webhook: WithVerifier needs a verifier built by NewVerifier")
		}
		c.std = v
		return nil
	})
}

// WithIntercomSecrets configures Intercom app webhooks with one or more
// client secrets.
func WithIntercomSecrets(clientSecrets ...string) Option {
	return handlerOption(func(c *handlerConfig) error {
		c.intercomSecrets, c.given[1] = append(c.intercomSecrets, clientSecrets...), true
		return nil
	})
}

// WithIntercomVerifier configures Intercom app webhooks with a verifier
// the caller built with NewIntercomVerifier and may rotate.
func WithIntercomVerifier(v *IntercomVerifier) Option {
	return handlerOption(func(c *handlerConfig) error {
		if v == nil || !v.usable() {
			return errors.New("webhook: WithIntercomVerifier needs a verifier built by NewIntercomVerifier")
		}
		c.intercom = v
		return nil
	})
}

// WithSeries configures Intercom Series webhooks: the custom header the
// admin set and the tokens it may carry.
func WithSeries(header string, tokens ...string) Option {
	return handlerOption(func(c *handlerConfig) error {
		c.seriesHeader, c.seriesTokens, c.given[2] = header, tokens, true
		return nil
	})
}

// WithSeriesVerifier configures Intercom Series webhooks with a verifier
// the caller built with NewSeriesVerifier and may rotate.
func WithSeriesVerifier(v *SeriesVerifier) Option {
	return handlerOption(func(c *handlerConfig) error {
		if v == nil || !v.usable() {
			return errors.New("webhook: WithSeriesVerifier needs a verifier built by NewSeriesVerifier")
		}
		c.series = v
		return nil
	})
}

// WithEventType pins the endpoint to one event type, for one-URL-per-event
// setups: every Standard Webhooks body is decoded as that type, and one
// that does not fit is rejected with 400, as is an Intercom body at an
// endpoint pinned to a Jam type. An Intercom notification (a ping too) is
// decoded as itself whatever its topic, and runs the callbacks for its
// topic: Intercom sends every topic an app subscribes to to the app's one
// URL, and a notification keeps its age check and its id for dedupe.
// NewHandler logs a WARN for a type that is none of package event's Type
// or Topic constants (a typo leaves every Jam body an *event.UnknownEvent,
// acknowledged and seen by OnUnknown only), and pins to it all the same.
func WithEventType(eventType string) Option {
	return handlerOption(func(c *handlerConfig) error {
		c.pinned = eventType
		return nil
	})
}

// WithMaxBodySize sets the largest body read; larger ones get 413 and are
// not read past the limit. The default is DefaultMaxBodySize.
func WithMaxBodySize(n int64) Option {
	return handlerOption(func(c *handlerConfig) error {
		if n <= 0 {
			return errors.New("webhook: max body size must be positive")
		}
		c.maxBody = n
		return nil
	})
}

// WithMaxBodyMemory sets the most memory the bodies of all requests in
// progress may hold together (default DefaultMaxBodyMemory). A request
// whose body would take more waits up to 2 s for it, and is then answered
// 503 with Retry-After, so a flood of large or endless uploads costs
// bounded memory however many connections carry it, and senders retry
// later. While it waits, bodies that began before it and are still
// arriving a second after their first bytes are cut and answered 503, so
// uploads that stop part way cannot keep deliveries out. A request is charged for
// the bytes it has sent, never for a declared length, so connections that
// send headers and then nothing hold none of it. It must be at least
// twice the max body size: a body grows by doubling, and the buffers it
// outgrows count until the garbage collector frees them. With whpk_ keys,
// the copy of the message that ed25519 needs counts too (waiting for
// memory, and making slow bodies give way, as a body does), so it must be
// three times the max body size: NewHandler and Handler.SetSecrets refuse
// whpk_ keys with less. Keys they do not see (a WithKeyFunc tenant's, or a
// WithVerifier verifier's set later by its own SetSecrets) need the same:
// with less, a v1a delivery that does not fit beside its copy even on an
// idle handler is answered 500, with an error naming this budget, not 503.
func WithMaxBodyMemory(n int64) Option {
	return handlerOption(func(c *handlerConfig) error {
		if n <= 0 {
			return errors.New("webhook: max body memory must be positive")
		}
		c.maxBodyMemory = n
		return nil
	})
}

// WithLogger sets the logger for rejections and failures. The default is
// slog.Default(). Bodies, secrets and signatures are never logged.
func WithLogger(l *slog.Logger) Option {
	return handlerOption(func(c *handlerConfig) error {
		if l == nil {
			return errors.New("webhook: WithLogger(nil)")
		}
		c.logger = l
		return nil
	})
}

// WithDeduper sets the store that makes each message id run the callbacks
// once. The default is a MemoryStore on the handler's clock (WithClock),
// which sees one process only: give replicas a shared store. A store given
// here keeps its own clock.
func WithDeduper(d Deduper) Option {
	return handlerOption(func(c *handlerConfig) error {
		if d == nil {
			return errors.New("webhook: WithDeduper(nil); use WithoutDedupe to switch deduplication off")
		}
		c.dedupe = d
		return nil
	})
}

// WithoutDedupe switches deduplication off, for callers that are
// idempotent themselves: every verified delivery runs the callbacks.
func WithoutDedupe() Option {
	return handlerOption(func(c *handlerConfig) error {
		c.noDedupe = true
		return nil
	})
}

// WithDedupeTimes sets the claim lease and the retention of processed ids
// (defaults DefaultLease and DefaultRetention). The retention is also the
// default Intercom max age, which must be at least 5 minutes (see
// WithIntercomMaxAge).
func WithDedupeTimes(lease, retention time.Duration) Option {
	return handlerOption(func(c *handlerConfig) error {
		if lease <= 0 || retention <= 0 {
			return errors.New("webhook: dedupe lease and retention must be positive")
		}
		c.lease, c.retention = lease, retention
		return nil
	})
}

// WithIntercomMaxAge sets how old an Intercom notification may be, by its
// signed created_at, before it is refused with 401 (see
// VerifyIntercomAge). The default is the dedupe retention (DefaultRetention
// or the one WithDedupeTimes sets): a replay younger than that is caught by
// its id while the store remembers it, an older one by its age. A longer
// max age leaves replays between the two to the dedupe store alone.
// The max age, set or by default, must be at least 5 minutes wherever
// Intercom notifications are accepted (WithIntercomSecrets, its verifier
// form, WithKeyFunc), or NewHandler returns an error: Intercom retries a
// failed notification once, a minute after the attempt, and a shorter
// max age would refuse that retry and lose the notification. So a
// retention under 5 minutes needs a longer one here, which leaves the
// retry's duplicates past the retention to run again.
// A refused notification reaches no callback and is not claimed in the
// dedupe store or stored in an inbox; the error hook sees it, wrapping
// ErrMessageTooOld or ErrMessageTooNew. Pings are checked too: their id is
// null, so within the window nothing but their age bounds a replay.
// InsecureSkipTimestampCheck switches this check off too.
func WithIntercomMaxAge(d time.Duration) Option {
	return handlerOption(func(c *handlerConfig) error {
		if d <= 0 {
			return errors.New("webhook: Intercom max age must be positive")
		}
		c.intercomMaxAge = d
		return nil
	})
}

// WithDedupeFailClosed answers 500 when the dedupe store fails, so the
// sender retries later. The default is to process the delivery anyway and
// log the failure: Intercom retries only once, so failing closed during
// an outage loses its events, while processing risks a duplicate only if
// one arrives during the outage.
func WithDedupeFailClosed() Option {
	return handlerOption(func(c *handlerConfig) error {
		c.failClosed = true
		return nil
	})
}
