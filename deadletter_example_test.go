package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
)

// A Dead hook that tells an operator which delivery died, how, and which
// trace to look at, also when no callback ran: here a delivery stored by
// an older version whose body this one no longer decodes.
func ExampleDeadLetter() {
	ib := webhook.NewMemoryInbox(0, nil)
	dead := make(chan webhook.DeadLetter, 1)
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithInbox(ib),
		webhook.WithObserver(&webhook.Observer{
			Dead: func(ctx context.Context, dl webhook.DeadLetter) { dead <- dl },
		}),
	)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if _, err := ib.Store(ctx, &webhook.InboxEntry{
		Key: "standard:msg_2Qb8sT1yKz", Source: event.SourceStandard, ID: "msg_2Qb8sT1yKz",
		Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"jamId":`),
		Meta: map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
	}); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- h.Run(ctx) }()

	dl := <-dead
	fmt.Println(dl.Delivery.Key, "dead after", dl.Delivery.InboxAttempt, "run; callbacks ran:", dl.Ran)
	fmt.Println("undecodable:", errors.Is(dl.Err, webhook.ErrUndecodable))
	fmt.Println("trace:", dl.Meta["traceparent"])
	cancel()
	if err := <-stopped; err != nil {
		panic(err)
	}
	// Output:
	// standard:msg_2Qb8sT1yKz dead after 1 run; callbacks ran: false
	// undecodable: true
	// trace: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
}
