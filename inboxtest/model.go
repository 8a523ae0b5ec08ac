package inboxtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/stretchr/testify/require"
)

// modelSteps is how many random operations testRandomOperations makes.
const modelSteps = 1500

// A modelDelivery is where the contract says a delivery stands.
type modelDelivery struct {
	state   webhook.InboxState
	token   string    // of the lease, while leased
	until   time.Time // the lease's end, while leased
	next    time.Time // when it is due, while pending
	updated time.Time
	att     int
}

// testRandomOperations makes random calls of every kind on a few keys,
// the clock moving on between them, and checks each answer against a
// model of the contract: Store reports a duplicate exactly for a key
// held, Lease hands out only due deliveries with the attempts counted,
// settling succeeds for the token that holds the delivery (and either
// way for one whose lease ran out before another was taken), Replay and
// Purge do what they say. Then the clock moves far on and the workers
// drain: every delivery left pending or leased must come out, and the
// counts must be the model's. Interleavings no table foresaw, such as a
// replay of a retry due later after its lease ran out, are where an
// inbox strands a delivery.
func testRandomOperations(t *testing.T, s *suite) {
	r := rand.New(rand.NewPCG(1, 2))
	model := map[string]*modelDelivery{}
	tokens := map[string]string{} // token → key, every token handed out
	var trace []string
	fail := func(format string, args ...any) {
		t.Helper()
		// The last calls, to reproduce what went wrong.
		t.Logf("the last calls:\n%s", strings.Join(trace[max(0, len(trace)-40):], "\n"))
		t.Fatalf(format, args...)
	}
	keyOf := func() string { return fmt.Sprintf("k%02d", r.IntN(12)) }
	for step := range modelSteps {
		now := s.now()
		switch op := r.IntN(10); op {
		case 0, 1:
			k := keyOf()
			stored, err := s.ib.Store(s.ctx, entry(k, now.Sub(start)))
			require.NoError(t, err, "Store %s", k)
			trace = append(trace, fmt.Sprintf("%d: Store %s: %v", step, k, stored))
			_, held := model[k]
			if stored == held {
				fail("Store %s reported stored %v, the key held %v", k, stored, held)
			}
			if !held {
				model[k] = &modelDelivery{state: webhook.InboxPending, next: now, updated: now}
			}
		case 2, 3:
			n := 1 + r.IntN(4)
			d := time.Duration(1+r.IntN(10)) * time.Second
			ls := s.lease(t, n, d)
			trace = append(trace, fmt.Sprintf("%d: Lease %d for %v: %v", step, n, d, keys(ls)))
			for _, l := range ls {
				k := l.Entry.Key
				m := model[k]
				if m == nil {
					fail("Lease handed out %s, which is not stored", k)
				}
				due := m.state == webhook.InboxPending && !m.next.After(now) ||
					m.state == webhook.InboxLeased && m.until.Before(now)
				if !due {
					fail("Lease handed out %s, not due: %s, due at %v, lease until %v, now %v", k, m.state, m.next, m.until, now)
				}
				m.state, m.token, m.until, m.att = webhook.InboxLeased, l.Token, now.Add(d), m.att+1
				if l.Entry.Attempts != m.att {
					fail("Lease of %s: Attempts %d, want %d", k, l.Entry.Attempts, m.att)
				}
				tokens[l.Token] = k
			}
		case 4, 5:
			if len(tokens) == 0 {
				continue
			}
			var tok, k string
			i := r.IntN(len(tokens))
			for tt, kk := range tokens {
				if i == 0 {
					tok, k = tt, kk
					break
				}
				i--
			}
			m := model[k]
			holds := m != nil && m.state == webhook.InboxLeased && m.token == tok
			var err error
			var to webhook.InboxState
			next := now.Add(time.Duration(r.IntN(5000)) * time.Millisecond)
			switch r.IntN(3) {
			case 0:
				to, err = webhook.InboxDone, s.ib.Complete(s.ctx, k, tok)
			case 1:
				to, err = webhook.InboxPending, s.ib.Retry(s.ctx, k, tok, next, "fails")
			default:
				to, err = webhook.InboxDead, s.ib.Kill(s.ctx, k, tok, "dies")
			}
			trace = append(trace, fmt.Sprintf("%d: settle %s as %s: %v", step, k, to, err))
			if err != nil && !errors.Is(err, webhook.ErrLeaseLost) {
				fail("settling %s: %v", k, err)
			}
			switch {
			case err == nil && !holds:
				fail("settling %s as %s with a token that does not hold it succeeded", k, to)
			case err != nil && holds && !m.until.Before(now):
				fail("settling %s as %s within its lease: %v", k, to, err)
			case err == nil:
				m.state, m.token, m.until, m.next, m.updated = to, "", time.Time{}, next, now
			}
		case 6:
			k := keyOf()
			err := s.ib.Replay(s.ctx, k)
			trace = append(trace, fmt.Sprintf("%d: Replay %s: %v", step, k, err))
			m := model[k]
			switch {
			case m == nil:
				if !errors.Is(err, webhook.ErrNotFound) {
					fail("Replay of %s, not stored: %v", k, err)
				}
			case m.state == webhook.InboxLeased:
				if !errors.Is(err, webhook.ErrInFlight) {
					fail("Replay of %s, leased: %v", k, err)
				}
			default:
				require.NoError(t, err, "Replay %s", k)
				if m.state != webhook.InboxPending {
					m.state, m.att, m.updated = webhook.InboxPending, 0, now
				}
				if m.next.After(now) {
					m.next = now
				}
			}
		case 7:
			before := now.Add(-time.Duration(r.IntN(20_000)) * time.Millisecond)
			state := []webhook.InboxState{"", webhook.InboxDone, webhook.InboxDead}[r.IntN(3)]
			n, err := s.ib.Purge(s.ctx, state, before)
			require.NoError(t, err, "Purge")
			want := 0
			for k, m := range model {
				if (m.state == webhook.InboxDone || m.state == webhook.InboxDead) &&
					(state == "" || state == m.state) && m.updated.Before(before) {
					want++
					delete(model, k)
				}
			}
			trace = append(trace, fmt.Sprintf("%d: Purge %q before now-%v: %d", step, state, now.Sub(before), n))
			if n != want {
				fail("Purge %q before now-%v deleted %d, want %d", state, now.Sub(before), n, want)
			}
		default:
			s.clock.Advance(time.Duration(r.IntN(3000)) * time.Millisecond)
		}
	}

	// Everything left pending or leased is due an hour on, and must come out.
	s.clock.Advance(time.Hour)
	for idle := 0; idle < 3; {
		ls := s.lease(t, 5, time.Minute)
		if len(ls) == 0 {
			idle++
			continue
		}
		idle = 0
		for _, l := range ls {
			require.NoError(t, s.ib.Complete(s.ctx, l.Entry.Key, l.Token), "Complete %s", l.Entry.Key)
			model[l.Entry.Key].state = webhook.InboxDone
		}
	}
	var want webhook.InboxStats
	for k, m := range model {
		switch m.state {
		case webhook.InboxDone:
			want.Done++
		case webhook.InboxDead:
			want.Dead++
		default:
			fail("%s is still %s after the drain: never handed out again", k, m.state)
		}
	}
	require.Equal(t, want, s.stats(t), "the counts after the drain")
}
