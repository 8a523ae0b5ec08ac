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
