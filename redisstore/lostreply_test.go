package redisstore

import (
	"bytes"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// A replyCutter forwards connections to the test Redis and, once armed,
// lets the first command that mentions a marker through to Redis, then
// cuts that connection before Redis's reply gets back: the network
// failing after Redis ran the command. go-redis then sends the command
// again on a new connection (its MaxRetries), so a script runs twice
// with the same arguments, and its second run must answer as the first
// would have.
type replyCutter struct {
	addr   string
	ln     net.Listener
	marker atomic.Pointer[[]byte]
	cut    atomic.Int32 // connections cut
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func startReplyCutter(t *testing.T, target string) *replyCutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &replyCutter{addr: ln.Addr().String(), ln: ln}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			var cutting atomic.Bool
			p.wg.Go(func() {
				defer up.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if m := p.marker.Load(); m != nil && bytes.Contains(buf[:n], *m) && p.marker.CompareAndSwap(m, nil) {
							cutting.Store(true) // before Redis can answer
						}
						if _, werr := up.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
			p.wg.Go(func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := up.Read(buf)
					if n > 0 && cutting.Load() {
						p.cut.Add(1)
						return // the reply is lost with the connection
					}
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	return p
}

// arm makes the next command mentioning marker lose its reply.
func (p *replyCutter) arm(marker string) {
	m := []byte(marker)
	p.marker.Store(&m)
}

// cutterClient is a client through p that retries a command once, as
// go-redis does by default (three times).
func cutterClient(t *testing.T, p *replyCutter) *redis.Client {
	t.Helper()
	target := redisOptions(t)
	client := redis.NewClient(&redis.Options{
		Addr: p.addr, Username: target.Username, Password: target.Password, DB: target.DB,
		MaxRetries: 1, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: 2 * time.Millisecond,
	})
	t.Cleanup(func() { client.Close() })
	return client
}

// TestClaimReplyLost: a Claim whose reply is lost after Redis took the
// claim is sent again by go-redis. The retry must find the claim its
// own; answering InFlight would make the handler refuse the delivery
// with 409 and hold the key until the lease ran out, past a sender's
// only retry (Intercom's, a minute later, the default lease).
func TestClaimReplyLost(t *testing.T) {
	ctx := context.Background()
	direct := newClient(t)
	prefix := testPrefix(t, direct)
	p := startReplyCutter(t, redisOptions(t).Addr)
	s := New(cutterClient(t, p), WithPrefix(prefix))
	// Redis has the script, so the command whose reply is lost is the
	// one that ran it, not a NOSCRIPT refusal.
	_, _, err := New(direct, WithPrefix(prefix)).Claim(ctx, "standard:msg_warm", time.Minute)
	require.NoError(t, err)

	p.arm("standard:msg_lost")
	token, status, err := s.Claim(ctx, "standard:msg_lost", time.Minute)
	require.NoError(t, err)
	require.EqualValues(t, 1, p.cut.Load(), "no reply was lost")
	require.Equal(t, webhook.Claimed, status, "the retried Claim took its own claim for another's")
	require.NotEmpty(t, token)
	require.NoError(t, s.Commit(ctx, "standard:msg_lost", token, time.Minute))

	// Another holder's claim is still in flight to a Claim sent again.
	_, status, err = New(direct, WithPrefix(prefix)).Claim(ctx, "standard:msg_other", time.Minute)
	require.NoError(t, err)
	require.Equal(t, webhook.Claimed, status)
	p.arm("standard:msg_other")
	_, status, err = s.Claim(ctx, "standard:msg_other", time.Minute)
	require.NoError(t, err)
	require.EqualValues(t, 2, p.cut.Load(), "no reply was lost")
	require.Equal(t, webhook.InFlight, status)
}
