package webhook

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// firstRead is the size of the buffer a request's first body bytes are
// read into. It comes from a pool and goes back to it when readBody
// returns; it is charged to the budget byte by byte as data arrives, so a
// request that sent only headers holds none of the budget. The spare byte
// catches a body longer than declared.
const firstRead = 4 << 10

type firstBuf [firstRead + 1]byte

// readBody reads at most maxBody bytes, and returns how many bytes of
// the handler's body memory budget it holds, for the caller to give back
// when the request is done, also on error.
//
// What a request holds follows what it sent, never what it declared: a
// declared length costs the sender nothing. The first bytes go into a
// pooled buffer, charged as they arrive; a body that fits (nearly all do)
// is copied into a buffer of its exact size. A longer one grows by
// doubling, for declared lengths too (a declared length only caps the
// growth), and every buffer counts in full, since the ones it outgrew stay
// on the heap until the collector runs. So a request holds less than four
// times the bytes it sent, and a body at the limit less than twice the
// limit. A declared length over the limit is refused
// before reading; a body longer than declared (which a server outside
// net/http might pass on) is refused, not truncated.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) (body []byte, held int64, err error) {
	n := r.ContentLength // -1 when unknown
	if n > h.maxBody {
		return nil, 0, ErrBodyTooLarge
	}
	limit := h.maxBody + 1 // the spare byte shows the body goes on
	if n >= 0 {
		limit = n + 1
	}
	charge := func(k int64) bool {
		if !h.budget.charge(k) {
			return false
		}
		held += k
		return true
	}
	rc := r.Body
	if rc == nil { // never from net/http's server; from http.NewRequest(…, nil) served by hand
		rc = http.NoBody
	}
	rd := http.MaxBytesReader(w, rc, h.maxBody)

	fb, _ := h.firstBufs.Get().(*firstBuf)
	if fb == nil {
		fb = new(firstBuf)
	}
	defer h.firstBufs.Put(fb)
	first := fb[:min(limit, int64(len(fb)))]
	got := 0
	for got < len(first) {
		m, err := rd.Read(first[got:])
		if m > 0 && !charge(int64(m)) {
			return nil, held, ErrBodyMemory
		}
		got += m
		switch {
		case n >= 0 && int64(got) > n:
			return nil, held, errLongerThanDeclared
		case err == io.EOF && n >= 0 && int64(got) < n:
			return nil, held, &shortBodyError{got: int64(got), declared: n}
		case err == io.EOF:
			// The pooled buffer goes back; the body is what the
			// request keeps, and it replaces the charge for the bytes.
			h.budget.held.Add(-held)
			held = 0
			if !charge(int64(got)) {
				return nil, held, ErrBodyMemory
			}
			body = make([]byte, got)
			copy(body, first) // make and copy together: no zeroing first
			return body, held, nil
		case err != nil:
			return nil, held, bodyErr(err)
		}
	}

	body = first[:got:got] // full: the first step copies it out of the pool
	pooled := held         // what the pooled buffer's bytes were charged
	for {
		if len(body) == cap(body) {
			size := 2 * int64(len(body))
			if size > limit/2 {
				// Take the limit now rather than one more doubling
				// short of it, so that the buffers together stay
				// within twice the limit.
				size = limit
			}
			if size <= int64(len(body)) {
				return nil, held, ErrBodyTooLarge
			}
			if pooled > 0 {
				// The pooled buffer goes back to the pool, not to the
				// collector: its charge passes to the new buffer before
				// that is charged. Charged side by side, the two
				// outgrew twice a limit of 4097 (4097+4098 bytes), and
				// a body of exactly that limit was refused on an idle
				// handler.
				h.budget.held.Add(-pooled)
				held, pooled = held-pooled, 0
			}
			// The whole new buffer counts, not just its growth: a heap
			// buffer it replaces stays on the heap until the collector
			// runs.
			if !charge(size) {
				return nil, held, ErrBodyMemory
			}
			grown := make([]byte, len(body), size) // exactly size, as counted
			copy(grown, body)
			body = grown
		}
		m, err := rd.Read(body[len(body):cap(body)])
		body = body[:len(body)+m]
		switch {
		case n >= 0 && int64(len(body)) > n:
			return nil, held, errLongerThanDeclared
		case err == io.EOF && n >= 0 && int64(len(body)) < n:
			return nil, held, &shortBodyError{got: int64(len(body)), declared: n}
		case err == io.EOF:
			return body, held, nil
		case err != nil:
			return nil, held, bodyErr(err)
		}
	}
}

var errLongerThanDeclared = errors.New("webhook: body longer than Content-Length")

func bodyErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return ErrBodyTooLarge
	}
	return fmt.Errorf("webhook: reading body: %w", err)
}

// shortBodyError is a body that ended before its Content-Length, with
// how much of it came.
type shortBodyError struct{ got, declared int64 }

func (e *shortBodyError) Error() string {
	return "webhook: reading body: " + io.ErrUnexpectedEOF.Error()
}
func (e *shortBodyError) Unwrap() error { return io.ErrUnexpectedEOF }
