package redisstore

import (
	"context"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// maxBatch caps the scripts sent in one pipeline.
const maxBatch = 256

// A batcher shares round trips between concurrent script calls, as a
// database's group commit shares one fsync: calls made while a pipeline
// is on the wire wait, and go out together in the next one. Each script
// still runs atomically on its own; Redis runs a pipeline's scripts in
// one pass of its event loop, so with appendfsync always they share one
// fsync too. A lone call goes out at once.
//
// The pipeline is sent by a goroutine that the first waiting call
// starts and that ends as soon as nothing waits, so an idle Inbox holds
// no goroutine.
type batcher struct {
	client redis.UniversalClient

	mu      sync.Mutex
	queue   []*call
	running bool
}

// A call is one script to run and, once it has, its reply.
type call struct {
	script *redis.Script
	keys   []string
	args   []any
	done   chan struct{}
	reply  any
	err    error
}

// run runs script with keys and args in the next pipeline and returns its
// reply. If ctx ends first, run returns ctx's error; the script may run
// anyway.
func (b *batcher) run(ctx context.Context, script *redis.Script, keys []string, args ...any) (any, error) {
	c := &call{script: script, keys: keys, args: args, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	if !b.running {
		b.running = true
		go b.flush()
	}
	b.mu.Unlock()
	select {
	case <-c.done:
		return c.reply, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// flush sends the waiting calls, a pipeline at a time, until none waits.
func (b *batcher) flush() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		if n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		if len(b.queue) == 0 {
			b.queue = nil
		}
		b.mu.Unlock()
		b.exec(batch)
		for _, c := range batch {
			close(c.done)
		}
	}
}

// exec runs batch in one pipeline by script hash. The calls Redis
// refuses for want of their script (after a restart or a SCRIPT FLUSH)
// run once more after it is loaded; the others ran, and must not run
// twice.
func (b *batcher) exec(batch []*call) {
	// The callers' contexts only bound their waits: the pipeline serves
	// several, and the client's timeouts bound it.
	ctx := context.Background()
	for try := 0; try < 2 && len(batch) > 0; try++ {
		cmds := make([]*redis.Cmd, len(batch))
		_, _ = b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, c := range batch {
				cmds[i] = c.script.EvalSha(ctx, p, c.keys, c.args...)
			}
			return nil
		})
		var again []*call
		loaded := map[*redis.Script]error{}
		for i, c := range batch {
			c.reply, c.err = cmds[i].Result()
			if c.err == nil || !strings.HasPrefix(c.err.Error(), "NOSCRIPT") {
				continue
			}
			err, ok := loaded[c.script]
			if !ok {
				err = c.script.Load(ctx, b.client).Err()
				loaded[c.script] = err
			}
			if err == nil {
				again = append(again, c)
			}
		}
		batch = again
	}
}
