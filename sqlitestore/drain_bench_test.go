package sqlitestore_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/sqlitestore"
	"github.com/inhook/webhook/webhooktest"
)

// BenchmarkDrain gives the workers' drain rate: deliveries per second
// from a full SQLite inbox (synchronous=FULL) through no-op callbacks,
// with the default number of workers. The inbox is filled through the
// handler before the timer starts; each delivery is a signed 300-byte
// jam.created.
func BenchmarkDrain(b *testing.B) {
	for _, workers := range []int{webhook.DefaultWorkers, 32} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			ib, err := sqlitestore.Open(filepath.Join(b.TempDir(), "inbox.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer ib.Close()
			h, err := webhook.NewHandler(
				webhook.WithSecrets(webhooktest.Secret),
				webhook.WithInbox(ib),
				webhook.WithWorkers(webhook.WorkerConfig{Workers: workers, Poll: 10 * time.Millisecond}),
				webhook.WithLogger(slog.New(slog.DiscardHandler)),
			)
			if err != nil {
				b.Fatal(err)
			}
			var ran atomic.Int64
			all := make(chan struct{})
			h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
				if ran.Add(1) == int64(b.N) {
					close(all)
				}
				return nil
			})
			fill(b, h, b.N)

			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			b.ResetTimer()
			go func() { done <- h.Run(ctx) }()
			<-all
			b.StopTimer()
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// fill stores n signed jam.created deliveries through h, 32 at a time.
func fill(b *testing.B, h http.Handler, n int) {
	b.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			body := fmt.Appendf(nil, `{"jamId":"jam-%d","jamUrl":"https://jam.dev/c/jam-%d","teamId":"c2a7e9d4-18f3-4b6a-9e05-7d1c3b8f2e90",`+
				`"type":"screenshot","createdAt":"2026-11-24T08:58:41.512Z","title":"Drain","origin":"extension_chrome",`+
				`"author":{"email":"dana.okafor@northwind.example","name":"Dana Okafor"}}`, i, i)
			req := webhooktest.NewStandardRequest(webhooktest.Secret, body,
				webhooktest.WithID(fmt.Sprintf("msg_drain_%d", i)), webhooktest.WithTime(time.Now()))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("fill: status %d", w.Code)
			}
		})
	}
	wg.Wait()
}
