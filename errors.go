package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// A StatusError lets a callback choose the response status: for example
// 410 Gone to make the sender stop (Standard Webhooks and Intercom
// disable the endpoint), or 503 with RetryAfter to shed load. A 2xx code
// counts as success: the message is marked processed. Any other code
// counts as failure: the claim is released so a retry runs again. A code
// from 300 to 599 is answered as is; any other (1xx included, which a
// sender would take for success) is answered 500.
type StatusError struct {
	Code       int
	RetryAfter time.Duration // sent as Retry-After in whole seconds when positive
	Err        error         // optional cause, for logs and the error hook
}

// Error names the chosen status and the cause.
func (e *StatusError) Error() string {
	msg := "webhook: respond " + strconv.Itoa(e.Code)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *StatusError) Unwrap() error { return e.Err }

// A PanicError is a recovered callback panic.
type PanicError struct {
	// Value is what the callback panicked with; nil for panic(nil) under
	// GODEBUG=panicnil=1, where recover cannot tell it from no panic.
	Value any
	Stack []byte
}

// Error reports the panic value; the stack is in Stack, for logs.
func (e *PanicError) Error() string { return fmt.Sprintf("webhook: callback panicked: %v", e.Value) }

// Unwrap returns the panic value when it is an error (panic(err)), so
// errors.Is and errors.As find it as they would a returned error;
// otherwise nil. The handler itself does not look inside: a panic is a
// failure whatever its value, never a chosen status.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// asReturned is errors.As for what a callback returned: it does not look
// inside a *PanicError, so a panic's value never chooses a status, a
// Retry-After or a dead letter.
func asReturned[T error](err error) (T, bool) {
	var found T
	ok := walkReturned(err, func(e error) bool {
		if t, ok := e.(T); ok {
			found = t
			return true
		}
		if a, ok := e.(interface{ As(any) bool }); ok && a.As(&found) {
			return true
		}
		return false
	})
	return found, ok
}

// walkReturned reports whether match holds for an error in err's tree,
// depth first as errors.As walks it, without entering a *PanicError.
func walkReturned(err error, match func(error) bool) bool {
	if err == nil {
		return false
	}
	if match(err) {
		return true
	}
	switch e := err.(type) {
	case *PanicError:
		return false
	case interface{ Unwrap() []error }:
		for _, x := range e.Unwrap() {
			if walkReturned(x, match) {
				return true
			}
		}
	case interface{ Unwrap() error }:
		return walkReturned(e.Unwrap(), match)
	}
	return false
}

// A HandlerError is what the error hook receives: the status the handler
// answered and why. Status is 0 for callbacks that failed in an inbox
// worker (Handler.Run), where nothing is answered.
//
// Diagnosis, for a request that failed verification (a Series token
// included), a verified Intercom notification refused for its age, its
// id's length or, with WithKeyFunc, its app_id, or a request whose body
// could not be read whole, holds the evidence about why (see Diagnosis);
// it is nil otherwise. The sender never sees it.
type HandlerError struct {
	Status    int
	Err       error
	Diagnosis *Diagnosis
}

// Error gives the status answered and the reason.
func (e *HandlerError) Error() string {
	if e.Status == 0 {
		return "webhook: inbox worker: " + e.Err.Error()
	}
	return "webhook: " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status) + ": " + e.Err.Error()
}

// Unwrap returns the cause: one of the admission errors
// (ErrMethodNotAllowed, ErrUnsupportedMediaType, ErrBodyTooLarge,
// ErrBodyMemory, or the error reading a body that ended before its
// Content-Length or ran past it), a *VerifyError, a decoding error (event.ErrInvalidJSON
// and the like, ErrIDTooLong), ErrInFlight, an error wrapping ErrKeyFunc,
// a dedupe store or inbox error, or the joined callback errors.
func (e *HandlerError) Unwrap() error { return e.Err }

// Errors the handler reports through the error hook and the logger.
var (
	// ErrMethodNotAllowed is reported for methods other than POST, PUT and HEAD.
	ErrMethodNotAllowed = errors.New("webhook: method not allowed")
	// ErrBodyTooLarge is reported when the body exceeds the limit.
	ErrBodyTooLarge = errors.New("webhook: body too large")
	// ErrUnsupportedMediaType is reported for a Content-Type the source
	// never sends: JSON for Standard Webhooks and Intercom, JSON or form
	// for Series. A request without Content-Type is accepted.
	ErrUnsupportedMediaType = errors.New("webhook: unsupported content type")
	// ErrBodyMemory is reported when the bodies of the requests in
	// progress already hold the memory WithMaxBodyMemory allows; the
	// request is answered 503 with Retry-After, and the sender retries.
	ErrBodyMemory = errors.New("webhook: body memory budget exhausted")
	// ErrIDTooLong is reported, with 400, for a verified Intercom
	// notification whose id is longer than a webhook-id may be (256
	// bytes): the id becomes a dedupe key, and the store must not be made
	// to hold keys of any size a signed body can carry.
	ErrIDTooLong = errors.New("webhook: notification id too long")
)

// Errors the workers of Handler.Run end a delivery with when no run of
// its callbacks did: the Dead hook's DeadLetter.Err, OnError's
// HandlerError.Err and the inbox's LastError wrap them.
var (
	// ErrUndecodable ends, dead at once without a run of the callbacks,
	// a delivery whose stored body no longer decodes: cut short, or of a
	// source or shape this version does not read. It was verified and
	// decoded when it was stored, so no retry can help.
	ErrUndecodable = errors.New("webhook: decoding a stored delivery")
	// ErrUnfinishedRuns ends, dead without running again, a delivery
	// leased past WorkerConfig.MaxAttempts runs whose last runs settled
	// nothing: each crashed the process or outlasted its lease, and
	// another run may crash it again.
	ErrUnfinishedRuns = errors.New("webhook: runs unfinished")
)

// A permanentError marks a callback error that no retry can fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent: in inbox mode a delivery whose
// callback returns it is dead at once, without retries. It returns nil
// for nil. Outside inbox mode it is an ordinary error.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}
