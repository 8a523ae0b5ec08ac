package load

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
)

// inboxTarget returns the target name: our handler in inbox mode on ib,
// with 32 workers and one OnJamCreated callback. The workers do not run
// during the rounds, so the rounds measure what a 200 costs in inbox
// mode; the target's Settle then runs them until every stored delivery
// has been processed, so Calls can be checked against the 200s.
func inboxTarget(name string, ib webhook.Inbox) (Target, error) {
	h, err := webhook.NewHandler(webhook.WithSecrets(Secret), webhook.WithInbox(ib),
		webhook.WithWorkers(webhook.WorkerConfig{Workers: 32}),
		webhook.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return Target{}, err
	}
	var calls atomic.Int64
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
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
					return fmt.Errorf("%s: %d dead deliveries", name, s.Dead)
				}
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: %d deliveries not yet processed: %w", name, s.Pending+s.Retrying+s.InFlight, ctx.Err())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return Target{Name: name, Handler: h, Calls: &calls, Settle: settle}, nil
}
