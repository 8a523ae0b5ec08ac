// Command loadgen measures webhook receivers under load over loopback: our
// handler, the ceiling (a bare net/http handler that reads the body), a
// hand-written handler on the Standard Webhooks reference library,
// inbox: our handler in inbox mode on a SQLite inbox (synchronous=FULL,
// group commit, in -inbox-dir), answering 200 once each delivery is on
// disk, and flush: our handler in inbox mode on the least such a store
// can do, appending each delivery to a log file beside the SQLite one
// and answering after a group commit's fdatasync, in interleaved rounds
// of the same run. It prints a Markdown table with deliveries per second,
// p50 and p99 latency, the process's CPU time per delivery (clients
// included, so compare targets with each other, not with a server's own
// cost) and ratios, then the inbox's ratio to flush. After the rounds,
// the inbox's workers run every stored delivery, and each 200 must have
// reached the callback; flush's log is read back, and each 200 must have
// exactly one intact record there.
//
// Flush is the floor a durable 200 costs on the disk of -inbox-dir: what
// inbox makes below flush is the cost of SQLite and its schema, what
// flush makes below ours is the disk's sync. Point -inbox-dir at the disk
// an inbox would use to size it. Flush is information only: -check does
// not ask anything of it but no errors.
//
//	cd bench && go run ./cmd/loadgen -clients 32 -duration 2s -rounds 5
//
// With -check it exits 1 unless ours reaches -min-ceiling times the
// ceiling's deliveries per second and at least the reference's, and inbox
// reaches -min-inbox times ours, with no errors.
//
// With -redis (default $WEBHOOK_TEST_REDIS_URL) it also runs redis-inbox: our
// handler in inbox mode on the Redis Streams inbox of redisstore, its
// workers running in the same process. Use a disposable Redis: the run's
// keys live under a prefix of their own and are deleted at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"time"

	"github.com/inhook/webhook/bench/load"
	"github.com/redis/go-redis/v9"
)

func main() { os.Exit(run()) }

// runDir makes the directory a run keeps its inbox files in: a new one
// inside parent (the system's temporary directory when parent is
// empty), so that no run finds another's deliveries, which it would
// answer as duplicates without storing them.
func runDir(parent string) (string, error) {
	return os.MkdirTemp(parent, "loadgen-inbox-")
}

// run is the command; it returns the exit status, so that its deferred
// cleanup runs first.
func run() int {
	clients := flag.Int("clients", 32, "concurrent clients")
	duration := flag.Duration("duration", 2*time.Second, "time per target and round")
	rounds := flag.Int("rounds", 5, "interleaved rounds (each runs every target once)")
	maxN := flag.Int("max", 200_000, "deliveries per target and round (pre-signed before timing)")
	check := flag.Bool("check", false, "exit 1 unless the targets are met")
	minCeiling := flag.Float64("min-ceiling", 0.8, "with -check: least ratio of ours to the ceiling")
	minInbox := flag.Float64("min-inbox", 0.6, "with -check: least ratio of inbox to ours")
	inboxDir := flag.String("inbox-dir", "", "directory on the disk to measure: the inbox target's SQLite file and the flush target's log go in a new directory inside it, removed after (default: the system's temporary directory)")
	redisURL := flag.String("redis", os.Getenv("WEBHOOK_TEST_REDIS_URL"), "Redis URL for the redis-inbox target (none: the target is left out)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	targets, err := load.Targets()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		return 2
	}
	dir, err := runDir(*inboxDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		return 2
	}
	defer os.RemoveAll(dir)
	inbox, closeInbox, err := load.SQLiteInboxTarget(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		return 2
	}
	defer closeInbox()
	flush, closeFlush, err := load.FlushTarget(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		return 2
	}
	defer closeFlush()
	targets = append(targets, inbox, flush)
	inboxNote := "; inbox in " + filepath.Clean(dir)
	redisNote := ""
	if *redisURL != "" {
		opts, err := redis.ParseURL(*redisURL)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: -redis:", err)
			return 2
		}
		client := redis.NewClient(opts)
		defer client.Close()
		if redisNote, err = describeRedis(ctx, client); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: -redis:", err)
			return 2
		}
		t, stopInbox, err := load.RedisInboxTarget(client, fmt.Sprintf("loadgen:%d:", time.Now().UnixNano()))
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			return 2
		}
		defer stopInbox()
		targets = append(targets, t)
	}
	cfg := load.Config{Clients: *clients, Duration: *duration, Max: *maxN, Rounds: *rounds}
	fmt.Printf("loadgen: %d clients, %d rounds of %s per target, body %d bytes, GOMAXPROCS=%d, %s%s%s\n\n",
		cfg.Clients, cfg.Rounds, cfg.Duration, len(load.JamCreated), runtime.GOMAXPROCS(0), runtime.Version(), inboxNote, redisNote)
	results, err := load.Run(ctx, cfg, targets)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		return 2
	}
	fmt.Print(load.Report(results))
	failed := false
	for _, r := range results {
		if r.Errors > 0 {
			fmt.Fprintf(os.Stderr, "loadgen: %s: %d errors, first: %v\n", r.Name, r.Errors, r.FirstError)
			failed = true
		}
		if r.Calls >= 0 && r.Calls != int64(r.Sent) {
			what := "callback runs"
			if r.Name == load.Flush {
				what = "records in its log"
			}
			fmt.Fprintf(os.Stderr, "loadgen: %s: %d deliveries answered 200 but %d %s\n", r.Name, r.Sent, r.Calls, what)
			failed = true
		}
	}
	if *check {
		rate := map[string]float64{}
		for _, r := range results {
			rate[r.Name] = r.PerSecond()
		}
		ours, ceiling, reference := rate[load.Ours], rate[load.Ceiling], rate[load.Reference]
		if ours < *minCeiling*ceiling || ours < reference {
			fmt.Fprintf(os.Stderr, "loadgen: target missed: ours %.0f/s, ceiling %.0f/s (×%.2f), reference %.0f/s (×%.2f)\n",
				ours, ceiling, ours/ceiling, reference, ours/reference)
			failed = true
		}
		if inbox := rate[load.Inbox]; inbox < *minInbox*ours {
			fmt.Fprintf(os.Stderr, "loadgen: target missed: inbox %.0f/s, ours %.0f/s (×%.2f, needs ×%.2f)\n",
				inbox, ours, inbox/ours, *minInbox)
			failed = true
		}
	}
	if failed {
		return 1
	}
	return 0
}

// describeRedis names the Redis server's version and persistence, which
// decide what the redis-inbox target's 200 costs and promises.
func describeRedis(ctx context.Context, client *redis.Client) (string, error) {
	info, err := client.InfoMap(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	cfg, err := client.ConfigGet(ctx, "append*").Result()
	if err != nil {
		return "", err
	}
	persistence := "appendonly " + cfg["appendonly"]
	if cfg["appendonly"] == "yes" {
		persistence += ", appendfsync " + cfg["appendfsync"]
	}
	return fmt.Sprintf("; redis-inbox on Redis %s (%s)", info["Server"]["redis_version"], persistence), nil
}
