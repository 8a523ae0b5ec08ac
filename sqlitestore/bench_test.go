package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
)

// benchBody is the size of a typical jam.created delivery.
var benchBody = make([]byte, 1500)

// BenchmarkStore measures durable stores (SyncFull) of 1.5 KB
// deliveries: one caller at a time (each write its own commit and sync),
// and 64 concurrent callers with group commit on and off. rows/commit is
// the writes that shared each transaction and its sync.
func BenchmarkStore(b *testing.B) {
	for _, bc := range []struct {
		name     string
		callers  int
		maxBatch int
	}{
		{"serial", 1, 0},
		{"concurrent/single-row", 64, 1},
		{"concurrent/grouped", 64, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "inbox.db"), WithMaxBatch(bc.maxBatch))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			var seq atomic.Int64
			store := func() {
				e := &webhook.InboxEntry{Key: fmt.Sprint("standard:msg_", seq.Add(1)), Source: event.SourceStandard, Body: benchBody}
				if _, err := s.Store(ctx, e); err != nil {
					b.Error(err)
				}
			}
			before := s.commits.Load()
			b.SetBytes(int64(len(benchBody)))
			b.ResetTimer()
			if bc.callers == 1 {
				for b.Loop() {
					store()
				}
			} else {
				b.SetParallelism(bc.callers) // per GOMAXPROCS
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						store()
					}
				})
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/float64(s.commits.Load()-before), "rows/commit")
		})
	}
}

// BenchmarkLeaseComplete measures the store's half of draining a full
// inbox: lease 32 at a time, complete each (the completes of concurrent
// workers share commits). The worker's drain rate through callbacks is
// measured with the workers, in the benchmarks beside them.
func BenchmarkLeaseComplete(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "inbox.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	fill := func(n int) {
		done := make(chan struct{}, 256)
		for i := range n {
			go func() {
				e := &webhook.InboxEntry{Key: fmt.Sprint("standard:fill_", i, "_", time.Now().UnixNano()), Body: benchBody}
				if _, err := s.Store(ctx, e); err != nil {
					b.Error(err)
				}
				done <- struct{}{}
			}()
		}
		for range n {
			<-done
		}
	}
	fill(b.N)
	b.ResetTimer()
	left := b.N
	for left > 0 {
		ls, err := s.Lease(ctx, 32, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if len(ls) == 0 {
			b.Fatal("nothing due")
		}
		done := make(chan error, len(ls))
		for _, l := range ls {
			go func() { done <- s.Complete(ctx, l.Entry.Key, l.Token) }()
		}
		for range ls {
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
		left -= len(ls)
	}
}
