package inboxtest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/internal/testwait"
	"github.com/stretchr/testify/require"
)

// testPurgeRaces runs Purge, of every done and dead delivery, while
// deliveries it may be selecting are replayed to pending, stored again by
// their senders (a duplicate of a dedupe record, or the first copy once it
// is gone), and leased and retried by a worker. Purge must delete only
// what is done or dead when it deletes it: a delivery replayed, or stored
// anew, must be there afterwards, whichever came first, and so must the
// deliveries pending or leased throughout; a Replay finds its delivery
// unless it was purged; a sender's copy is a duplicate exactly while the
// record is there. Purge's counts add up to what went, and Stats to what
// is left.
func testPurgeRaces(t *testing.T, s *suite) {
	const n, rounds = 24, 8
	key := func(i int) string { return fmt.Sprintf("p%02d", i) }
	// Pending or leased throughout: never purged.
	s.store(t, entry("held", time.Hour))
	held := s.leaseOne(t, "held", 1000*time.Hour)
	s.store(t, entry("later", time.Hour+time.Millisecond))
	later := s.leaseOne(t, "later", time.Minute)
	require.NoError(t, s.ib.Retry(s.ctx, "later", later.Token, s.now().Add(1000*time.Hour), "later"))
	for i := range n {
		s.store(t, entry(key(i), time.Duration(i)*time.Millisecond))
	}

	for round := range rounds {
		// Every p key done or dead, settled at this round's time.
		s.clock.Advance(time.Second)
		for {
			ls := s.lease(t, 50, time.Minute)
			if len(ls) == 0 {
				break
			}
			for _, l := range ls {
				var err error
				if l.Entry.Key[2]%2 == 0 {
					err = s.ib.Complete(s.ctx, l.Entry.Key, l.Token)
				} else {
					err = s.ib.Kill(s.ctx, l.Entry.Key, l.Token, "dies")
				}
				require.NoError(t, err, "round %d: settling %s", round, l.Entry.Key)
			}
		}
		for i := range n {
			require.Contains(t, []webhook.InboxState{webhook.InboxDone, webhook.InboxDead}, s.get(t, key(i)).State, "round %d: %s", round, key(i))
		}

		// Purge everything done or dead, twice over, while every p key is
		// replayed or stored again, and a worker leases and retries what
		// comes due.
		before := s.now().Add(time.Hour)
		results := make([]error, n)
		stored := make([]bool, n)
		var purged [2]int
		begin := make(chan struct{})
		workerDone := make(chan struct{})
		var wg, ops sync.WaitGroup
		errs := make(chan error, n+3)
		for i := range n {
			ops.Add(1)
			go func() {
				defer ops.Done()
				<-begin
				if i%3 == 0 {
					stored[i], results[i] = s.ib.Store(s.ctx, entry(key(i), time.Duration(i)*time.Millisecond))
				} else {
					results[i] = s.ib.Replay(s.ctx, key(i))
				}
			}()
		}
		for p := range purged {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-begin
				var err error
				if purged[p], err = s.ib.Purge(s.ctx, "", before); err != nil {
					errs <- fmt.Errorf("purge: %w", err)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-begin
			for {
				select {
				case <-workerDone:
					return
				default:
				}
				ls, err := s.ib.Lease(s.ctx, 5, time.Minute)
				if err != nil {
					errs <- fmt.Errorf("lease: %w", err)
					return
				}
				for _, l := range ls {
					if err := s.ib.Retry(s.ctx, l.Entry.Key, l.Token, s.now(), "again"); err != nil {
						errs <- fmt.Errorf("retry %s: %w", l.Entry.Key, err)
						return
					}
				}
				if len(ls) == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
		close(begin)
		testwait.For(t, "the racing Stores and Replays to return", ops.Wait)
		close(workerDone)
		testwait.For(t, "the racing Purges and worker to return", wg.Wait)
		close(errs)
		for err := range errs {
			require.NoError(t, err, "round %d", round)
		}

		gone, anew := 0, 0
		for i := range n {
			k := key(i)
			got, err := s.ib.Get(s.ctx, k)
			if err != nil {
				require.ErrorIs(t, err, webhook.ErrNotFound, "round %d: Get %s", round, k)
			}
			found := err == nil
			switch {
			case i%3 == 0:
				require.NoError(t, results[i], "round %d: a sender's copy of %s", round, k)
				if stored[i] {
					// Purged first, then stored anew: pending now.
					anew++
					require.True(t, found, "round %d: %s, stored anew, was purged", round, k)
					require.Contains(t, []webhook.InboxState{webhook.InboxPending, webhook.InboxLeased}, got.State, "round %d: %s", round, k)
				} else if !found {
					gone++ // a duplicate of the record, purged after
				}
			case results[i] == nil:
				require.True(t, found, "round %d: %s, replayed, was purged", round, k)
				require.Contains(t, []webhook.InboxState{webhook.InboxPending, webhook.InboxLeased}, got.State, "round %d: %s", round, k)
			default:
				require.ErrorIs(t, results[i], webhook.ErrNotFound, "round %d: Replay %s", round, k)
				require.False(t, found, "round %d: Replay found no %s, which is there", round, k)
				gone++
			}
			if !found {
				// Back for the next round.
				s.store(t, entry(k, time.Duration(i)*time.Millisecond))
			}
		}
		require.Equal(t, gone+anew, purged[0]+purged[1], "round %d: what the purges counted (%v), and what went", round, purged)
		require.Equal(t, webhook.InboxLeased, s.get(t, "held").State, "round %d: held", round)
		require.Equal(t, webhook.InboxPending, s.get(t, "later").State, "round %d: later", round)
	}

	// The counts are the deliveries'.
	var want webhook.InboxStats
	for _, k := range append([]string{"held", "later"}, func() []string {
		var ks []string
		for i := range n {
			ks = append(ks, key(i))
		}
		return ks
	}()...) {
		e := s.get(t, k)
		switch e.State {
		case webhook.InboxPending:
			if e.Attempts == 0 {
				want.Pending++
			} else {
				want.Retrying++
			}
		case webhook.InboxLeased:
			want.InFlight++
		case webhook.InboxDone:
			want.Done++
		case webhook.InboxDead:
			want.Dead++
		}
		if e.State == webhook.InboxPending || e.State == webhook.InboxLeased {
			if want.OldestPending.IsZero() || e.ReceivedAt.Before(want.OldestPending) {
				want.OldestPending = e.ReceivedAt
			}
		}
	}
	got := s.stats(t)
	requireTime(t, want.OldestPending, got.OldestPending, "OldestPending")
	want.OldestPending, got.OldestPending = time.Time{}, time.Time{}
	require.Equal(t, want, got, "Stats after the races")
	require.NoError(t, s.ib.Complete(s.ctx, "held", held.Token), "held: its lease held throughout")
}

// testExpiredLeaseRace: the holder of an expired lease settles it (each
// of Complete, Retry and Kill) while another worker leases it again. An
// old token must never settle a delivery leased anew: either the settle
// comes first (and a Retry due now may then be leased again, the next
// attempt), or the new lease does and the old token is refused. Either
// way the new lease's token holds the delivery.
func testExpiredLeaseRace(t *testing.T, s *suite) {
	for i := range 30 {
		op := []string{"complete", "retry", "kill"}[i%3]
		key := fmt.Sprintf("%s%02d", op, i)
		s.store(t, entry(key, time.Duration(i)*time.Millisecond))
		old := s.leaseOne(t, key, time.Second)
		s.clock.Advance(time.Second + time.Millisecond)
		var settleErr, leaseErr error
		var leased []webhook.InboxLease
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			switch op {
			case "complete":
				settleErr = s.ib.Complete(s.ctx, key, old.Token)
			case "retry":
				settleErr = s.ib.Retry(s.ctx, key, old.Token, s.now(), "retried")
			default:
				settleErr = s.ib.Kill(s.ctx, key, old.Token, "killed")
			}
		}()
		go func() { defer wg.Done(); leased, leaseErr = s.ib.Lease(s.ctx, 10, time.Second) }()
		testwait.For(t, "the racing settle and Lease to return", wg.Wait)
		require.NoError(t, leaseErr)
		if settleErr != nil {
			require.ErrorIs(t, settleErr, webhook.ErrLeaseLost, "%s %s", op, key)
		}
		if settleErr == nil && op != "retry" {
			require.Empty(t, keys(leased), "%s: settled (%s) by the old holder and leased again", key, op)
			want := map[string]webhook.InboxState{"complete": webhook.InboxDone, "kill": webhook.InboxDead}[op]
			require.Equal(t, want, s.get(t, key).State, key)
			continue
		}
		if len(leased) == 0 {
			// The lease came before a settle the implementation refused
			// (its lease had run out) and found nothing... or the retry
			// came first, due now, and the lease missed it: lease it now.
			leased = s.lease(t, 10, time.Second)
		}
		require.Equal(t, []string{key}, keys(leased), "%s: leased again", key)
		got := s.get(t, key)
		require.Equal(t, webhook.InboxLeased, got.State, "%s: the old token's %s undid the new lease", key, op)
		require.Equal(t, 2, got.Attempts, key)
		if settleErr == nil {
			require.Equal(t, "retried", got.LastError, "%s: the retry came first", key)
		}
		require.NoError(t, s.ib.Complete(s.ctx, key, leased[0].Token), "%s: the new lease's token", key)
	}
}

// testClockBackwards: the clock steps back an hour (a correction of a
// clock run ahead, a restored virtual machine) and on again. Nothing may
// become due never: a lease taken before the step runs until its
// LeaseUntil, a retry until its NextAttempt, and a delivery stored or
// leased while the clock is behind is due by the clock as it reads then;
// each comes due once the clock reaches its time.
func testClockBackwards(t *testing.T, s *suite) {
	t0 := s.now()
	s.store(t, entry("leased", 0))
	leased := s.leaseOne(t, "leased", time.Minute) // until t0+1m
	s.store(t, entry("retry", time.Millisecond))
	l := s.leaseOne(t, "retry", time.Minute)
	require.NoError(t, s.ib.Retry(s.ctx, "retry", l.Token, t0.Add(30*time.Second), "again"))

	s.clock.Set(t0.Add(-time.Hour))
	s.requireNothingDue(t) // the lease and the retry are an hour and more away
	s.store(t, entry("behind", 2*time.Millisecond))
	behind := s.leaseOne(t, "behind", time.Minute) // due now, by the clock as it reads
	requireTime(t, t0.Add(-time.Hour+time.Minute), behind.Entry.LeaseUntil, "LeaseUntil, leased behind")
	s.clock.Set(t0.Add(-time.Hour + time.Minute + time.Millisecond))
	again := s.leaseOne(t, "behind", time.Minute) // its lease ran out
	require.ErrorIs(t, s.ib.Complete(s.ctx, "behind", behind.Token), webhook.ErrLeaseLost)
	require.NoError(t, s.ib.Complete(s.ctx, "behind", again.Token))

	s.clock.Set(t0.Add(30*time.Second - time.Millisecond))
	s.requireNothingDue(t)
	s.clock.Advance(time.Millisecond)
	r := s.leaseOne(t, "retry", time.Hour)
	require.Equal(t, 2, r.Entry.Attempts)
	s.clock.Set(t0.Add(time.Minute))
	s.requireNothingDue(t) // the first lease runs until its LeaseUntil, inclusive
	s.clock.Advance(time.Millisecond)
	l2 := s.leaseOne(t, "leased", time.Minute)
	require.ErrorIs(t, s.ib.Complete(s.ctx, "leased", leased.Token), webhook.ErrLeaseLost)
	require.NoError(t, s.ib.Complete(s.ctx, "leased", l2.Token))
	require.NoError(t, s.ib.Complete(s.ctx, "retry", r.Token))
	require.Equal(t, 3, s.stats(t).Done)
}
