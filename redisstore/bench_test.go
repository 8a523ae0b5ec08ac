package redisstore

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/redis/go-redis/v9"
)

// BenchmarkClaimCommit is the cost dedupe adds to a new message: two round
// trips, Claim then Commit, on a fresh key.
func BenchmarkClaimCommit(b *testing.B) {
	ctx := context.Background()
	client := newClient(b)
	s := New(client, WithPrefix(testPrefix(b, client)))
	i := 0
	for b.Loop() {
		key := "standard:msg_" + strconv.Itoa(i)
		i++
		token, status, err := s.Claim(ctx, key, time.Minute)
		if err != nil || status != webhook.ClaimAcquired {
			b.Fatal(status, err)
		}
		if err := s.Commit(ctx, key, token, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClaimProcessed is the cost of answering a duplicate: one round
// trip.
func BenchmarkClaimProcessed(b *testing.B) {
	ctx := context.Background()
	client := newClient(b)
	s := New(client, WithPrefix(testPrefix(b, client)))
	token, _, err := s.Claim(ctx, "standard:msg_dup", time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Commit(ctx, "standard:msg_dup", token, time.Hour); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_, status, err := s.Claim(ctx, "standard:msg_dup", time.Minute)
		if err != nil || status != webhook.ClaimProcessed {
			b.Fatal(status, err)
		}
	}
}

// BenchmarkInboxCycle is one delivery's way through the inbox: Store,
// then its share of a Lease of eight, then Complete, with a body the
// size of a jam.created. redis-µs/op is the time Redis spent in the
// scripts (INFO commandstats), the part every replica shares.
func BenchmarkInboxCycle(b *testing.B) {
	ctx := context.Background()
	client := newClient(b)
	ib, err := NewInbox(client, WithInboxPrefix(testPrefix(b, client)))
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 1459)
	header := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"Svix-Webhooks/1.44.0"},
		"Webhook-Id": {"msg"}, "Webhook-Timestamp": {"1764579732"}}
	client.ConfigResetStat(ctx)
	i := 0
	for b.Loop() {
		id := "msg_2KWPBgLlAfxdpx2AI54pPJ85f" + strconv.Itoa(i)
		i++
		e := &webhook.InboxEntry{Key: "standard:" + id, Source: event.SourceStandard, ID: id,
			Timestamp: time.Now(), ReceivedAt: time.Now(), Header: header, Body: body}
		if stored, err := ib.Store(ctx, e); err != nil || !stored {
			b.Fatal(stored, err)
		}
		if i%8 != 0 {
			continue
		}
		ls, err := ib.Lease(ctx, 8, time.Minute)
		if err != nil || len(ls) != 8 {
			b.Fatal(len(ls), err)
		}
		for _, l := range ls {
			if err := ib.Complete(ctx, l.Entry.Key, l.Token); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	stats, err := client.Info(ctx, "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(stats, "\r\n") {
		rest, ok := strings.CutPrefix(line, "cmdstat_evalsha:")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "usec="); ok {
				usec, _ := strconv.ParseFloat(v, 64)
				b.ReportMetric(usec/float64(b.N), "redis-µs/op")
			}
		}
	}
}

// BenchmarkInboxStoreParallel is Store from 16 goroutines at once, as a
// busy receiver calls it. redis-cpu-µs/op is the CPU time redis-server
// spent per delivery (INFO cpu), system calls included.
func BenchmarkInboxStoreParallel(b *testing.B) {
	ctx := context.Background()
	client := newClient(b)
	ib, err := NewInbox(client, WithInboxPrefix(testPrefix(b, client)))
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 1459)
	header := http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"msg"}}
	var n atomic.Int64
	cpu0 := redisCPU(b, client)
	b.SetParallelism(8) // 16 goroutines on 2 CPUs
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := "msg_" + strconv.FormatInt(n.Add(1), 10)
			e := &webhook.InboxEntry{Key: "standard:" + id, Source: event.SourceStandard, ID: id,
				ReceivedAt: time.Now(), Header: header, Body: body}
			if stored, err := ib.Store(ctx, e); err != nil || !stored {
				b.Fatal(stored, err)
			}
		}
	})
	b.ReportMetric((redisCPU(b, client)-cpu0)*1e6/float64(b.N), "redis-cpu-µs/op")
}

// redisCPU is the CPU time redis-server has used, in seconds.
func redisCPU(b *testing.B, client *redis.Client) float64 {
	info, err := client.InfoMap(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	user, _ := strconv.ParseFloat(info["CPU"]["used_cpu_user"], 64)
	sys, _ := strconv.ParseFloat(info["CPU"]["used_cpu_sys"], 64)
	return user + sys
}
