// Package webhook receives webhooks from Jam (Standard Webhooks, through
// Svix), Intercom app webhooks (X-Hub-Signature) and Intercom Series
// webhook blocks (a shared token in a header of the admin's choosing).
//
// A Handler is an http.Handler that takes each request through these
// steps, in this order (Handler.ServeHTTP reads the same):
//
//	admit     the method, the source its headers name, the media type, the body within its limits (405, 401, 415, 413 or 503 if not)
//	verify    the exact bytes read, against the configured keys (401 if not)
//	decode    into a typed event of package event: *event.JamCreated, *event.IntercomNotification, … (400 if not)
//	claim     the message id, so a retry or a replay runs once (200, or 409 while in flight: the sender retries)
//	dispatch  to the callbacks: OnJamCreated, OnIntercom, OnSeries, OnAny, … (500 if one fails)
//	settle    the claim: the id is processed, or released when a callback failed, so the sender's retry runs again
//
// Decoding comes before the claim because Intercom's notification id is
// inside the body. In inbox mode one step, store, takes the place of the
// last three: see below.
//
// The handler answers 200 when every callback returned nil, for unknown
// event types (acknowledged, passed to OnUnknown) and for duplicates; 200
// for HEAD; 405, 413 and 415 for requests no sender makes; 503 with
// Retry-After when the bodies in progress already hold the memory
// WithMaxBodyMemory allows. The full table is on Handler. Each step is also
// usable alone: Verifier, IntercomVerifier and SeriesVerifier for your own
// routing, event.ParseFrom and event.ParseSeries for bytes verified earlier
// (queues, replays), Deduper for your own store.
//
// In inbox mode (WithInbox) the handler stores each verified delivery in an
// Inbox and answers 200 once it is stored; Handler.Run's workers then run
// the callbacks, at least once, retrying failures with backoff and keeping
// dead letters for replay. MemoryInbox is an Inbox in memory (not
// durable); github.com/inhook/webhook/sqlitestore keeps one in a SQLite
// file and github.com/inhook/webhook/redisstore one in Redis; package
// inboxtest is the conformance suite for Inbox implementations.
//
// WithObserver reports each step (rejected with a Reason, verified,
// decoded, duplicate, stored, each run of the callbacks with its outcome,
// dead) to an Observer's hooks, for traces, metrics and logs; unset, it
// costs nothing. github.com/inhook/webhook/otelwebhook builds one for
// OpenTelemetry, so this module depends on no telemetry library.
//
// Start with NewHandler and one of WithSecrets, WithIntercomSecrets or
// WithSeries; package webhooktest signs requests for tests, and
// "go run ./examples/quickstart" in the repository shows each kind of
// delivery, a forged, a stale and a replayed one, and inbox mode's retries.
// The runnable examples show each part in use: ExampleNewHandler and
// ExampleHandler_OnIntercom (the handler), ExampleNewHandler_serveMux
// (mounted on a ServeMux with Go 1.22 patterns, tested through it),
// ExampleStatusError (a status a callback chooses), ExampleWithInbox and
// ExampleHandler_Run (inbox mode: retries, a dead letter replayed),
// ExampleWithObserver (hooks) and ExampleJoinObservers (two observers,
// yours beside OpenTelemetry's), ExampleVerifier_Verify and the other
// verifiers' (verifying by hand), ExampleDiagnosis and ExampleWithLogger
// (why a delivery failed: logged and given to OnError, never to the
// sender) and ExampleWithKeyFunc (keys per tenant); package webhooktest's
// sign requests as each sender does; ExampleHandler_Drain tests inbox
// mode's retries on a fake clock with no goroutine to stop, and
// webhooktest's ExampleClock the same with Run's workers.
//
// Read this documentation in that order: Handler and NewHandler, the
// Option functions (With…), the verifiers (Verifier, IntercomVerifier,
// SeriesVerifier), then Delivery, the errors, the inbox and the observer.
// The events the callbacks receive, and their decoding by hand (Parse,
// ParseFrom and its runnable examples), are package
// github.com/inhook/webhook/event.
//
// Threat model in brief: an attacker can reach the endpoint and send any
// bytes, replay captured deliveries, and send bodies of any size. The
// verifiers reject anything not signed with a configured key; the Standard
// Webhooks timestamp window bounds replay in time, and the message id (the
// Intercom notification id) is the key for deduplication; Intercom's
// scheme signs no timestamp header, so its replays are bounded in time by
// the signed created_at instead (below). Never re-encode a body before
// verifying it, and never log bodies, secrets or signatures. The default
// dedupe store is in memory: replicas need a shared one, such as
// github.com/inhook/webhook/redisstore.
//
// Bounds on what an unauthenticated sender can make the handler hold or do:
// body memory (WithMaxBodyMemory) is charged for bytes received, never
// for a declared length, so a connection that sent only headers holds none
// of it and any request holds less than four times what it sent; how long
// is bounded by the server's ReadTimeout, and, once another request waits
// for memory, by a second: a body begun before it and still arriving then
// is cut (503), so uploads that stop part way keep no delivery out. The
// budget is one for all sources:
// the source is picked from headers anyone can send, so per-source budgets
// would isolate nobody, only multiply what a flood can hold; a Series token,
// the one credential in a header, is checked before the body is read. A
// v1a signature list costs at most k+1 tried entries for k ed25519 keys, and
// the message copy they need is charged to the same budget. Set the server's
// MaxHeaderBytes (16 KiB fits every signature header), as webhook serve does.
//
// Bounds on what a signed body can make the handler do: a body decodes
// into the event family of the source that verified it only (see
// event.ParseFrom), so one sender's key never mints another sender's events, and
// the dedupe id always comes from the source's own scheme (webhook-id for
// Standard Webhooks, whatever id a body carries). An Intercom notification,
// which no header timestamps, is refused (401) when its signed created_at
// is older than the max age (WithIntercomMaxAge, by default the dedupe
// retention) or more than DefaultTolerance ahead, so a capture replayed
// after the store forgot its id (retention, eviction, restart) is still
// refused; and its id, a dedupe key, is refused (400) past 256 bytes, as
// webhook-id is. What is left to dedupe alone: a replay younger than the
// max age whose id the store lost early, to eviction or a restart.
package webhook

import (
	"github.com/inhook/webhook/event"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// sentinel is an error value that also matches the reference library's
// sentinel for the same failure, so code written against
// github.com/standard-webhooks/standard-webhooks/libraries/go keeps working
// with errors.Is.
type sentinel struct {
	msg   string
	alias error
}

// Error returns the sentinel's message.
func (e *sentinel) Error() string { return e.msg }

// Is reports whether target is the reference library's sentinel for the
// same failure.
func (e *sentinel) Is(target error) bool { return e.alias != nil && target == e.alias }

// Verification errors. Each also matches the reference library's sentinel of
// the same name with errors.Is.
var (
	// ErrRequiredHeaders means a required signature header is missing or empty.
	ErrRequiredHeaders error = &sentinel{"missing required headers", standardwebhooks.ErrRequiredHeaders}
	// ErrInvalidHeaders means a signature header is present but malformed:
	// a bad timestamp, a malformed signature list, repeated or mixed header sets.
	ErrInvalidHeaders error = &sentinel{"invalid signature headers", standardwebhooks.ErrInvalidHeaders}
	// ErrNoMatchingSignature means no signature in the request matches any configured key.
	ErrNoMatchingSignature error = &sentinel{"no matching signature found", standardwebhooks.ErrNoMatchingSignature}
	// ErrMessageTooOld means the timestamp is further in the past than the window allows.
	ErrMessageTooOld error = &sentinel{"message timestamp too old", standardwebhooks.ErrMessageTooOld}
	// ErrMessageTooNew means the timestamp is further in the future than the window allows.
	ErrMessageTooNew error = &sentinel{"message timestamp too new", standardwebhooks.ErrMessageTooNew}
)

// Configuration errors, returned by constructors.
var (
	// ErrEmptySecret means a secret, key or token is empty. There is no way
	// to build a verifier that accepts unsigned requests.
	ErrEmptySecret error = &sentinel{msg: "empty secret"}
	// ErrInvalidSecret means a secret, key or token cannot be used: it does
	// not decode, it is too short, it has whitespace around it, or it is
	// of the wrong kind (another source's key, an access token).
	ErrInvalidSecret error = &sentinel{msg: "invalid secret"}
)

// A VerifyError describes why a delivery failed verification. Err is one of
// the verification sentinels; Reason is a short explanation that is safe to
// log: it never holds a secret, a computed MAC or a received signature.
type VerifyError struct {
	Source event.Source
	Err    error
	Reason string
}

// Error gives the source and the reason, never key material.
func (e *VerifyError) Error() string {
	msg := "webhook: " + e.Err.Error()
	if e.Source != "" {
		msg = "webhook: " + string(e.Source) + ": " + e.Err.Error()
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Unwrap returns the sentinel, so errors.Is(err, ErrNoMatchingSignature) works.
func (e *VerifyError) Unwrap() error { return e.Err }

func verifyErr(src event.Source, err error, reason string) error {
	return &VerifyError{Source: src, Err: err, Reason: reason}
}
