// Package webhooktest helps test code that receives webhooks with
// github.com/inhook/webhook: it signs bodies as Jam (Standard Webhooks),
// Intercom and Intercom Series do, builds signed *http.Request values at a
// fixed time, provides a fake clock, and embeds a fixture for every event
// shape package webhook/event decodes.
//
// There is one request builder per sender, NewStandardRequest,
// NewIntercomRequest and NewSeriesRequest, and NewFixtureRequest for an
// embedded fixture, signed for its sender. Like httptest.NewRequest they
// take no testing.TB and return no error: they panic on an argument no
// test means (a secret that cannot sign, a name that is no fixture), and
// so does Fixture. Code that takes such arguments from a user checks them
// first with SignStandard, which returns an error, and FixtureSource.
// Requests go to DefaultTarget, the path the README mounts the handler on,
// or to WithTarget's path, through a test's own mux. Each carries its body
// once, as any *http.Request: serve a request once, and build another for
// a retry (the handler refuses one served again as empty_body, 400).
//
// ReadCapture loads a delivery that "webhook serve --inspect" saved:
// Capture.Request sends it, as it came, to the path it came to, and
// Capture.Resigned signs it with the test keys instead of the sender's.
//
// The handler under test takes the instant requests are signed at as its
// clock (webhook.WithClock(Time)), or a Clock a test moves. In inbox mode
// the inbox gets the same Clock, and a failed run's retry comes due when
// the test advances it (see the Clock example). The FixtureNames example
// lists the fixtures and the callback each one runs.
//
// The signers here are written independently of the package's verifiers,
// with crypto/hmac and crypto/ed25519, so a test that signs here and
// verifies there checks one against the other.
package webhooktest

import (
	"sync/atomic"
	"time"
)

// Keys that tests can share between the handler under test and the
// requests they build. They are test values, public in this package's
// source, so anyone can sign with them: never use them in production.
const (
	// Secret is a Standard Webhooks signing secret, for v1 (HMAC)
	// signatures.
	Secret = "whsec_dGVzdC1zZWNyZXQtZm9yLWluaG9vay13ZWJob29rdGVzdA=="
	// SigningKey is a Standard Webhooks ed25519 signing key, whsk_ and
	// the base64 of 64 bytes (seed and public key), for v1a signatures:
	// what a sender signs with and a receiver never holds. Sign test
	// requests with it (NewStandardRequest, WithExtraSecrets).
	SigningKey = "whsk_0CCBr+NtGQUv2yMmK+yoCCxMMCq4HFXc0Z7BL5b3FNxwlPRJR1qm838FVTg8DAxD/HI5XLE67mf6OW5KmAEelw=="
	// PublicKey is SigningKey's public key, whpk_ and the base64 of 32
	// bytes: give it to webhook.WithSecrets to verify what SigningKey
	// signs.
	PublicKey = "whpk_cJT0SUdapvN/BVU4PAwMQ/xyOVyxOu5n+jluSpgBHpc="
	// IntercomSecret is an Intercom app client secret.
	IntercomSecret = "0b7c5d2e-8f41-4a96-b3e0-c7d1f5a29e84"
	// IntercomAppID is the app_id of the Intercom fixtures: a key
	// function choosing keys by KeyHint.AppID maps it to IntercomSecret.
	IntercomAppID = "q7k3zm2x"
	// SeriesHeader is the custom header a Series admin adds.
	SeriesHeader = "X-Series-Token"
	// SeriesToken is the token in SeriesHeader.
	SeriesToken = "series-test-token-5Gk8Wq2Zr7Vb"
)

// Unix is the instant, in unix seconds, that requests are signed at
// unless WithTime says otherwise: 2026-11-24T09:00:00Z.
const Unix = 1795510800

// Time returns Unix as a time.Time.
func Time() time.Time { return time.Unix(Unix, 0) }

// A Clock is a fake clock safe for concurrent use. Give its Now method to
// webhook.WithClock so signed fixtures stay inside the timestamp window.
// In inbox mode give it to the inbox too (webhook.NewMemoryInbox's now,
// sqlitestore.WithClock, redisstore.WithInboxClock), which keeps a clock
// of its own: the handler and the inbox then agree on when a retry is
// due, and a test makes it due with Advance instead of waiting for it.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a Clock set to t.
func NewClock(t time.Time) *Clock {
	c := &Clock{}
	c.Set(t)
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
