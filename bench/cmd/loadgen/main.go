// Command loadgen measures webhook receivers under load over loopback: our
// handler, the ceiling (a bare net/http handler that reads the body) and a
// hand-written handler on the Standard Webhooks reference library, in
// interleaved rounds of the same run. It prints a Markdown table with
// deliveries per second, p50 and p99 latency and ratios.
//
//	cd bench && go run ./cmd/loadgen -clients 32 -duration 2s -rounds 5
//
// With -check it exits 1 unless ours reaches -min-ceiling times the
// ceiling's deliveries per second and at least the reference's, with no
// errors.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"time"

	"github.com/inhook/webhook/bench/load"
)

func main() {
	clients := flag.Int("clients", 32, "concurrent clients")
	duration := flag.Duration("duration", 2*time.Second, "time per target and round")
	rounds := flag.Int("rounds", 5, "interleaved rounds (each runs every target once)")
	maxN := flag.Int("max", 200_000, "deliveries per target and round (pre-signed before timing)")
	check := flag.Bool("check", false, "exit 1 unless the targets are met")
	minCeiling := flag.Float64("min-ceiling", 0.8, "with -check: least ratio of ours to the ceiling")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	targets, err := load.Targets()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	cfg := load.Config{Clients: *clients, Duration: *duration, Max: *maxN, Rounds: *rounds}
	fmt.Printf("loadgen: %d clients, %d rounds of %s per target, body %d bytes, GOMAXPROCS=%d, %s\n\n",
		cfg.Clients, cfg.Rounds, cfg.Duration, len(load.JamCreated), runtime.GOMAXPROCS(0), runtime.Version())
	results, err := load.Run(ctx, cfg, targets)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	fmt.Print(load.Report(results))
	failed := false
	for _, r := range results {
		if r.Errors > 0 {
			fmt.Fprintf(os.Stderr, "loadgen: %s: %d errors, first: %v\n", r.Name, r.Errors, r.FirstError)
			failed = true
		}
		if r.Calls >= 0 && r.Calls != int64(r.Sent) {
			fmt.Fprintf(os.Stderr, "loadgen: %s: %d deliveries answered 200 but %d callback runs\n", r.Name, r.Sent, r.Calls)
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
	}
	if failed {
		os.Exit(1)
	}
}
