package load

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/sqlitestore"
)

// Inbox names the target of our handler in inbox mode on the SQLite
// inbox (synchronous=FULL, group commit).
const Inbox = "inbox"

// SQLiteInboxTarget returns our handler in inbox mode on a
// sqlitestore.Store in a new file in dir, with one OnJamCreated callback,
// and a function that closes the inbox. The handler answers 200 once the
// delivery is on disk. The workers do not run during the rounds, so the
// rounds measure what a 200 costs in inbox mode; the target's Settle then
// runs them until every stored delivery has been processed, so Calls can
// be checked against the 200s. BenchmarkDrain in sqlitestore measures
// the workers' rate.
func SQLiteInboxTarget(dir string) (Target, func() error, error) {
	ib, err := sqlitestore.Open(filepath.Join(dir, "inbox.db"))
	if err != nil {
		return Target{}, nil, err
	}
	h, err := webhook.NewHandler(webhook.WithSecrets(Secret), webhook.WithInbox(ib),
		webhook.WithWorkers(webhook.WorkerConfig{Workers: 32}),
		webhook.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		ib.Close()
		return Target{}, nil, err
	}
	var calls atomic.Int64
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *webhook.JamCreated) error {
		if e.JamID == "" {
			return errors.New("jam.created without jamId")
		}
		calls.Add(1)
		return nil
	})
	settle := func(ctx context.Context) error {
		rctx, cancel := context.WithCancel(ctx)
		ran := make(chan error, 1)
		go func() { ran <- h.Run(rctx) }()
		defer func() { cancel(); <-ran }()
		for {
			s, err := ib.Stats(ctx)
			if err != nil {
				return err
			}
			if s.Pending+s.Retrying+s.InFlight == 0 {
				if s.Dead > 0 {
					return fmt.Errorf("%s: %d dead deliveries", Inbox, s.Dead)
				}
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: %d deliveries not yet processed: %w", Inbox, s.Pending+s.Retrying+s.InFlight, ctx.Err())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return Target{Name: Inbox, Handler: h, Calls: &calls, Settle: settle}, ib.Close, nil
}
