package webhook_test

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
)

// BenchmarkInboxDrain measures the workers' own cost: deliveries per
// second from a full MemoryInbox through a no-op callback, so the figure
// is the ceiling any durable inbox's drain rate is measured under.
func BenchmarkInboxDrain(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			ib := webhook.NewMemoryInbox(b.N+1, nil)
			h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithInbox(ib),
				webhook.WithWorkers(webhook.WorkerConfig{Workers: workers, Poll: time.Millisecond}))
			if err != nil {
				b.Fatal(err)
			}
			var ran atomic.Int64
			done := make(chan struct{})
			n := int64(b.N)
			h.OnJamCreated(func(context.Context, *webhook.Delivery, *event.JamCreated) error {
				if ran.Add(1) == n {
					close(done)
				}
				return nil
			})
			ctx := context.Background()
			hd := http.Header{"Content-Type": {"application/json"}}
			for i := range b.N {
				if _, err := ib.Store(ctx, &webhook.InboxEntry{Key: "standard:" + strconv.Itoa(i), Source: event.SourceStandard,
					ID: strconv.Itoa(i), ReceivedAt: time.Now(), Header: hd, Body: jamBody}); err != nil {
					b.Fatal(err)
				}
			}
			runCtx, stop := context.WithCancel(ctx)
			ended := make(chan error, 1)
			b.ReportAllocs()
			b.ResetTimer()
			go func() { ended <- h.Run(runCtx) }()
			<-done
			b.StopTimer()
			stop()
			if err := <-ended; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}
