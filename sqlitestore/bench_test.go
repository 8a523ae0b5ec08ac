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
// and 64 callers per GOMAXPROCS (128 on 2 CPUs) with group commit on and
// off. rows/commit is the writes that shared each transaction and its
// sync.
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

// BenchmarkListDead measures a page of 100 of 20,000 dead deliveries of
// 1.5 KB in update order: the first page and one near the end, with and
// without their bodies, beside a read of every dead delivery, which
// webhook inbox replay --state dead made before List paged.
func BenchmarkListDead(b *testing.B) {
	const dead = 20_000
	s, err := Open(filepath.Join(b.TempDir(), "inbox.db"), WithSync(SyncNormal))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := range dead {
		if _, err := s.Store(ctx, &webhook.InboxEntry{Key: fmt.Sprint("standard:msg_", i), Source: event.SourceStandard, Body: benchBody}); err != nil {
			b.Fatal(err)
		}
	}
	for {
		ls, err := s.Lease(ctx, 500, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if len(ls) == 0 {
			break
		}
		for _, l := range ls {
			if err := s.Kill(ctx, l.Entry.Key, l.Token, "gone"); err != nil {
				b.Fatal(err)
			}
		}
	}
	q := webhook.InboxQuery{State: webhook.InboxDead, Order: webhook.InboxByUpdated, Limit: dead - 100}
	near, err := s.List(ctx, webhook.InboxQuery{State: q.State, Order: q.Order, Limit: dead - 100, OmitBody: true})
	if err != nil || !near.More {
		b.Fatal(err, near.More)
	}
	for _, bc := range []struct {
		name string
		q    webhook.InboxQuery
	}{
		{"page/first", webhook.InboxQuery{State: q.State, Order: q.Order, Limit: 100, OmitBody: true}},
		{"page/last", webhook.InboxQuery{State: q.State, Order: q.Order, Limit: 100, OmitBody: true, After: near.Next}},
		{"page/first/bodies", webhook.InboxQuery{State: q.State, Order: q.Order, Limit: 100}},
		{"all", webhook.InboxQuery{State: q.State, Limit: dead + 1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				p, err := s.List(ctx, bc.q)
				if err != nil || len(p.Entries) == 0 {
					b.Fatal(err)
				}
			}
		})
	}
}
