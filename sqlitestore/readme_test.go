package sqlitestore_test

import (
	"context"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/sqlitestore"
)

// The README's sqlitestore snippets, line for line
// (TestREADMESnippetsCompile, at the root, finds them here). They are
// compiled, not run: they open a file under /var/lib and serve on the
// default mux. ExampleOpen runs the same steps on a temporary file.
var _ = []any{readmeInbox, readmeOpen}

// crm stands for the reader's own service.
type crm interface {
	UpsertJam(ctx context.Context, key string, e *event.JamCreated) error
}

func readmeInbox(ctx context.Context, crm crm) {
	ib, err := sqlitestore.Open("/var/lib/myapp/webhooks.db") // durable; webhook.NewMemoryInbox for tests
	if err != nil {
		log.Fatal(err)
	}
	defer ib.Close()
	h, err := webhook.NewHandler(
		webhook.WithSecrets(os.Getenv("WEBHOOK_SECRET")),
		webhook.WithInbox(ib),
		webhook.WithWorkers(webhook.WorkerConfig{Workers: 8, MaxAttempts: 25, MaxAge: 72 * time.Hour}), // the defaults
	)
	if err != nil {
		log.Fatal(err)
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		// Runs on a worker, at least once: key side effects by d.Key.
		// d.InboxAttempt is 1 on the first run, 2 on the first retry, …
		return crm.UpsertJam(ctx, d.Key, e)
	})
	go func() { log.Println(h.Run(ctx)) }() // returns once ctx is done and the callbacks in flight return
	http.Handle("/webhooks", h)
}

func readmeOpen() (*sqlitestore.Inbox, error) {
	ib, err := sqlitestore.Open("/var/lib/myapp/webhooks.db",
		sqlitestore.WithCapacity(200_000),      // 503 past 200,000 deliveries waiting for the workers
		sqlitestore.WithTenantCapacity(50_000), // and to a tenant past 50,000 of its own
	)
	return ib, err
}
