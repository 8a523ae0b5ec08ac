package webhook

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
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
	// br is made only when the read is slow or must wait for memory.
	var br *bodyRead
	defer func() {
		if br != nil && br.finish() {
			body, err = nil, errSlowBodyCut
		}
	}()
	charge := func(k int64) bool {
		// While a read waits for memory, the others go through br
		// for their turn.
		if h.budget.first.Load() != 0 || !h.budget.charge(k) {
			if br == nil {
				br = &bodyRead{b: &h.budget, w: w}
			}
			if !br.charge(k) {
				return false
			}
		}
		held += k
		return true
	}
	// slow marks a read whose body did not come with its first read.
	slow := func() {
		if br == nil {
			br = &bodyRead{b: &h.budget, w: w}
		}
		br.arm()
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
			// request keeps, and the charge for its bytes (held is
			// got) passes to it.
			body = make([]byte, got)
			copy(body, first) // make and copy together: no zeroing first
			return body, held, nil
		case err != nil:
			return nil, held, bodyErr(err)
		case got < len(first) && (n < 0 || int64(got) < n):
			slow()
		}
	}

	body = first[:got:got] // full: the first step copies it out of the pool
	pooled := held         // what the pooled buffer's bytes were charged
	slow()                 // more than the pooled buffer: not one read
	for {
		if len(body) == cap(body) {
			size := nextBuffer(int64(len(body)), limit)
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
				h.budget.release(pooled)
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

// nextBuffer is the size of the buffer a body that filled one of size n
// grows into, for a read of at most limit bytes: twice n, or the limit
// once that passes half of it, rather than one more doubling short of it,
// so that the buffers together stay within twice the limit.
func nextBuffer(n, limit int64) int64 {
	if size := 2 * n; size <= limit/2 {
		return size
	}
	return limit
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

// Body reads under contention. A read refused memory does not get 503 at
// once: it waits, up to budgetWait after it began to wait or to be slow,
// for the memory, ahead of the reads that began after it; and meanwhile
// the slow reads (whose body did not come with their first read) that
// began before it and have gone on for slowBody are cut, their
// connection's read deadline set to now, and answered 503 with
// Retry-After. So an upload that stops part way holds its share of the
// budget only until a delivery needs it, not until the server's
// ReadTimeout (or for ever without one): a sender whose body arrives at
// once gets in however many such uploads fill the budget, and the
// attackers' new uploads, begun after it, wait behind it. Cutting needs a
// ResponseWriter that supports http.ResponseController's SetReadDeadline.
const (
	slowBody   = time.Second
	budgetWait = 2 * time.Second
	// cutCheck is how often a slow read looks for a waiting read it
	// must give way to.
	cutCheck = 100 * time.Millisecond
	// maxWaiters bounds the reads waiting at once; past it a read
	// refused memory gets 503 at once.
	maxWaiters = 256
)

var errSlowBodyCut = fmt.Errorf("%w: the body was still arriving %v after it began while a later request waited for memory", ErrBodyMemory, slowBody)

// A bodyRead is one request's body read as the budget's contention sees
// it: its place in line (ticket) and when it took it, and once slow the
// timer that checks whether it must give way.
type bodyRead struct {
	b      *memBudget
	w      http.ResponseWriter
	ticket int64     // 0 until it is slow or waits
	start  time.Time // when it took its ticket

	mu    sync.Mutex // the timer's check against finish
	timer *time.Timer
	done  bool // finished: the timer must not cut it
	cut   bool // its read deadline was set to now
}

func (br *bodyRead) takeTicket() {
	if br.ticket == 0 {
		br.start = time.Now()
		br.ticket = br.b.tickets.Add(1)
	}
}

// charge takes k bytes for the read, waiting for them if the budget is
// short or an older read waits.
func (br *bodyRead) charge(k int64) bool {
	br.takeTicket()
	b := br.b
	if w := b.first.Load(); (w == 0 || br.ticket <= w) && b.charge(k) {
		return true
	}
	deadline := br.start.Add(budgetWait)
	if k > b.limit || !time.Now().Before(deadline) {
		return false
	}
	w := &waiter{ticket: br.ticket, wake: make(chan struct{}, 1)}
	if !b.join(w) {
		return false
	}
	defer b.leave(w)
	timeout := time.NewTimer(time.Until(deadline))
	defer timeout.Stop()
	for {
		// Memory given back after a failed try wakes w if it is the
		// oldest; if it is not, the oldest's leaving will.
		if b.first.Load() == w.ticket && b.charge(k) {
			return true
		}
		select {
		case <-w.wake:
		case <-timeout.C:
			return false
		}
	}
}

// wait takes n bytes as a body read refused memory takes them:
// behind the reads that began to wait before it, waiting up to
// budgetWait, while slow reads begun before it are cut to make room.
// ed25519's copy of a v1a message takes its memory so: taken without
// waiting, it was refused under any contention, and never made a stalled
// upload give way.
func (b *memBudget) wait(n int64) bool {
	br := bodyRead{b: b}
	return br.charge(n)
}

// join adds a read to those waiting, unless maxWaiters wait already.
func (b *memBudget) join(w *waiter) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiting) >= maxWaiters {
		return false
	}
	b.waiting = append(b.waiting, w)
	if b.oldest == nil || w.ticket < b.oldest.ticket {
		b.oldest = w
		b.first.Store(w.ticket)
	}
	return true
}

// leave takes a read off those waiting, and wakes the oldest left, now
// first, to try.
func (b *memBudget) leave(w *waiter) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var oldest *waiter
	for i := 0; i < len(b.waiting); i++ {
		if b.waiting[i] == w {
			last := len(b.waiting) - 1
			b.waiting[i], b.waiting[last] = b.waiting[last], nil
			b.waiting = b.waiting[:last]
			i--
			continue
		}
		if oldest == nil || b.waiting[i].ticket < oldest.ticket {
			oldest = b.waiting[i]
		}
	}
	b.oldest = oldest
	if oldest == nil {
		b.first.Store(0)
		return
	}
	b.first.Store(oldest.ticket)
	oldest.signal()
}

// arm marks the read slow: from now on it is cut if it goes on past
// slowBody after its ticket while a read that took one later waits.
func (br *bodyRead) arm() {
	if br.timer != nil {
		return
	}
	br.takeTicket()
	br.mu.Lock()
	defer br.mu.Unlock()
	br.timer = time.AfterFunc(cutCheck, br.check)
}

func (br *bodyRead) check() {
	br.mu.Lock()
	defer br.mu.Unlock()
	if br.done {
		return
	}
	if w := br.b.first.Load(); w != 0 && br.ticket < w && time.Since(br.start) >= slowBody &&
		http.NewResponseController(br.w).SetReadDeadline(time.Now()) == nil {
		br.cut = true
		return
	}
	br.timer.Reset(cutCheck)
}

// finish ends the read's part in the contention, and reports whether it
// was cut: its connection reads no more, and it must be refused.
func (br *bodyRead) finish() bool {
	br.mu.Lock()
	defer br.mu.Unlock()
	br.done = true
	if br.timer != nil {
		br.timer.Stop()
	}
	return br.cut
}
