package redisstore

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/inhook/webhook"
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
		if err != nil || status != webhook.Claimed {
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
		if err != nil || status != webhook.Processed {
			b.Fatal(status, err)
		}
	}
}
