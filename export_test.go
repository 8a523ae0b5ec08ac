package webhook

// BodyHeld reports the bytes of h's body memory budget that the requests
// in progress hold, for tests that check what a flood can take.
func BodyHeld(h *Handler) int64 { return h.budget.held.Load() }

// SlowBody is how long a body read may go on before it gives way to a
// read waiting for memory.
const SlowBody = slowBody

// MaxWaiters is how many requests may wait for body memory at once.
const MaxWaiters = maxWaiters

// CutGrace is how long Run waits, past its shutdown timeout, for the
// callbacks it cancelled.
const CutGrace = cutGrace

// BodyWaiting reports how many of h's requests wait for body memory.
func BodyWaiting(h *Handler) int {
	h.budget.mu.Lock()
	defer h.budget.mu.Unlock()
	return len(h.budget.waiting)
}

// BudgetWait is how long a request refused body memory waits for it.
const BudgetWait = budgetWait

// StalledHold is how much of h's body memory budget a request holds once
// it has sent n bytes of a body of unknown length (no Content-Length) and
// stopped: n while they fit the pooled first buffer, then every buffer
// the body grew into.
func StalledHold(h *Handler, n int64) int64 {
	if n <= firstRead {
		return n
	}
	limit := h.maxBody + 1
	var held int64
	for size := int64(firstRead + 1); size <= n; {
		next := nextBuffer(size, limit)
		if next <= size {
			break // past the limit: refused, not held
		}
		size = next
		held += size
	}
	return held
}
