package webhook

import (
	"errors"

	"github.com/inhook/webhook/event"
)

// A Reason classes why a request was rejected. There are few of them, so
// they suit metric attributes; the error itself says more.
type Reason string

// The reasons for a rejection.
const (
	ReasonMethod         Reason = "method"          // ErrMethodNotAllowed (405)
	ReasonMediaType      Reason = "media_type"      // ErrUnsupportedMediaType (415)
	ReasonBodyTooLarge   Reason = "body_too_large"  // ErrBodyTooLarge (413)
	ReasonBodyMemory     Reason = "body_memory"     // ErrBodyMemory (503)
	ReasonMissingHeaders Reason = "missing_headers" // ErrRequiredHeaders (401), also no configured source's headers
	ReasonInvalidHeaders Reason = "invalid_headers" // ErrInvalidHeaders (401)
	ReasonSignature      Reason = "signature"       // ErrNoMatchingSignature (401)
	ReasonTooOld         Reason = "too_old"         // ErrMessageTooOld (401)
	ReasonTooNew         Reason = "too_new"         // ErrMessageTooNew (401)
	ReasonDecode         Reason = "decode"          // a verified body that does not decode: event.ErrInvalidJSON, event.ErrWrongShape, event.ErrInvalidForm; ErrIDTooLong (400)
	ReasonInFlight       Reason = "in_flight"       // ErrInFlight (409)
	ReasonInboxFull      Reason = "inbox_full"      // ErrInboxFull (503)
	ReasonStore          Reason = "store"           // the dedupe store or the inbox failed
	ReasonKeyFunc        Reason = "key_func"        // ErrKeyFunc (500): the WithKeyFunc function failed, panicked or gave unusable keys
	ReasonCallback       Reason = "callback"        // a callback failed or panicked
	ReasonOther          Reason = "other"           // anything else, such as a body that could not be read
)

// reasons maps the sentinels to their reasons, in the order they are
// tried: ErrKeyFunc first, since a key function's error is its own and
// may wrap any other; then the verification sentinels, since a
// VerifyError may wrap more than the sentinel.
var reasons = [...]struct {
	err    error
	reason Reason
}{
	{ErrKeyFunc, ReasonKeyFunc},
	{ErrRequiredHeaders, ReasonMissingHeaders},
	{ErrInvalidHeaders, ReasonInvalidHeaders},
	{ErrNoMatchingSignature, ReasonSignature},
	{ErrMessageTooOld, ReasonTooOld},
	{ErrMessageTooNew, ReasonTooNew},
	{ErrMethodNotAllowed, ReasonMethod},
	{ErrUnsupportedMediaType, ReasonMediaType},
	{ErrBodyTooLarge, ReasonBodyTooLarge},
	{ErrBodyMemory, ReasonBodyMemory},
	{event.ErrInvalidJSON, ReasonDecode},
	{event.ErrWrongShape, ReasonDecode},
	{event.ErrInvalidForm, ReasonDecode},
	{ErrIDTooLong, ReasonDecode},
	{ErrInFlight, ReasonInFlight},
	{ErrInboxFull, ReasonInboxFull},
}

// ReasonOf returns the reason for an error the handler reports: the class
// of the sentinel it wraps (ReasonKeyFunc for ErrKeyFunc, whatever the
// key function's error or panic wraps), ReasonCallback for a *PanicError or a
// *StatusError, and ReasonOther for anything else.
func ReasonOf(err error) Reason {
	for _, r := range reasons {
		// Not inside a panic: a panic is the callback's failure whatever
		// its value.
		if walkReturned(err, func(e error) bool {
			if e == r.err {
				return true
			}
			x, ok := e.(interface{ Is(error) bool })
			return ok && x.Is(r.err)
		}) {
			return r.reason
		}
	}
	var pe *PanicError
	var se *StatusError
	if errors.As(err, &pe) || errors.As(err, &se) {
		return ReasonCallback
	}
	return ReasonOther
}

// Verification reports whether r is a failure to verify: missing,
// malformed or unmatched signature headers, or a timestamp outside the
// window. Those are the rejections worth an alert, since either a sender
// changed its keys or someone is probing the endpoint.
func (r Reason) Verification() bool {
	switch r {
	case ReasonMissingHeaders, ReasonInvalidHeaders, ReasonSignature, ReasonTooOld, ReasonTooNew:
		return true
	}
	return false
}
