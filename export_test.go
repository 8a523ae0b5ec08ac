package webhook

// BodyHeld reports the bytes of h's body memory budget that the requests
// in progress hold, for tests that check what a flood can take.
func BodyHeld(h *Handler) int64 { return h.budget.held.Load() }

// CutGrace is how long Run waits, past its shutdown timeout, for the
// callbacks it cancelled.
const CutGrace = cutGrace
