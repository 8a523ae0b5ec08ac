package load

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestTargetsAgree makes sure the run compares like with like: every
// target answers 200 to a pre-signed delivery, and the two that verify
// refuse the same delivery with a changed body or a repeated pool entry
// signed for another body.
func TestTargetsAgree(t *testing.T) {
	targets, err := Targets()
	require.NoError(t, err)
	pool, err := sign("msg_agree_", JamCreated, 2)
	require.NoError(t, err)
	tampered := bytes.Replace(JamCreated, []byte(`"video"`), []byte(`"image"`), 1)
	require.NotEqual(t, JamCreated, tampered)

	for _, tg := range targets {
		send := func(body []byte, i int) int {
			r := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
			r.Header = pool.header(i)
			w := httptest.NewRecorder()
			tg.Handler.ServeHTTP(w, r)
			return w.Code
		}
		require.Equal(t, http.StatusOK, send(JamCreated, 0), tg.Name)
		if tg.Calls == nil {
			continue // the ceiling verifies nothing
		}
		require.Equal(t, int64(1), tg.Calls.Load(), tg.Name)
		require.Equal(t, http.StatusUnauthorized, send(tampered, 1), tg.Name)
		require.Equal(t, int64(1), tg.Calls.Load(), tg.Name)
	}
}

// TestRun drives every target briefly and checks the bookkeeping: no
// errors, every 200 answered by one callback run, latencies recorded, a
// report row per target.
func TestRun(t *testing.T) {
	targets, err := Targets()
	require.NoError(t, err)
	inbox, closeInbox, err := SQLiteInboxTarget(t.TempDir())
	require.NoError(t, err)
	defer func() { require.NoError(t, closeInbox()) }()
	flush, closeFlush, err := FlushTarget(t.TempDir())
	require.NoError(t, err)
	defer func() { require.NoError(t, closeFlush()) }()
	targets = append(targets, inbox, flush)
	cfg := Config{Clients: 4, Duration: 150 * time.Millisecond, Max: 300, Rounds: 2}
	results, err := Run(context.Background(), cfg, targets)
	require.NoError(t, err)
	require.Len(t, results, 5)
	for i, r := range results {
		require.Equal(t, targets[i].Name, r.Name)
		require.Zero(t, r.Errors, "%s: first error %v", r.Name, r.FirstError)
		require.Positive(t, r.Sent, r.Name)
		require.LessOrEqual(t, r.Sent, cfg.Max*cfg.Rounds, r.Name)
		require.Len(t, r.latencies, r.Sent, r.Name)
		require.Len(t, r.Rounds, cfg.Rounds, r.Name)
		require.Positive(t, r.PerSecond(), r.Name)
		require.LessOrEqual(t, r.Quantile(0.5), r.Quantile(0.99), r.Name)
		require.Positive(t, r.Quantile(0.5), r.Name)
		if _, ok := processCPU(); ok {
			require.Positive(t, r.CPUPerDelivery(), r.Name)
		}
		if targets[i].Calls != nil {
			require.Equal(t, int64(r.Sent), r.Calls, r.Name)
		} else {
			require.Equal(t, int64(-1), r.Calls, r.Name)
		}
	}
	report := Report(results)
	for _, name := range []string{Ours, Ceiling, Reference, Inbox, Flush} {
		require.Contains(t, report, "| "+name+" |")
	}
	// The columns against ours: 1.00 for ours itself.
	require.Regexp(t, `\| ours \| \d+ \| 0 \| \d+ \| \S+ \| \S+ \| \S+ \| 1\.00 \| `, report)
	require.Regexp(t, `\ninbox reaches ×\d+\.\d\d of the flush floor on this disk \(×\d+\.\d\d, median of rounds\)\n$`, report)
}

// TestFloorLine checks the line under the table that sets the inbox
// against the flush target: its ratio of totals and the median of its
// rounds' ratios, and no line when the run lacks either target.
func TestFloorLine(t *testing.T) {
	inbox := Result{Name: Inbox, Sent: 3000, Elapsed: 3 * time.Second, Rounds: []float64{900, 1000, 1100}}
	flush := Result{Name: Flush, Sent: 4000, Elapsed: 2 * time.Second, Rounds: []float64{1800, 2000, 2000}}
	ours := Result{Name: Ours, Sent: 100, Elapsed: time.Second}
	cases := []struct {
		name    string
		results []Result
		want    string
	}{
		{"both", []Result{ours, inbox, flush}, "\ninbox reaches ×0.50 of the flush floor on this disk (×0.50, median of rounds)\n"},
		{"no flush", []Result{ours, inbox}, ""},
		{"no inbox", []Result{ours, flush}, ""},
		{"flush answered nothing", []Result{inbox, {Name: Flush}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, floorLine(tc.results))
		})
	}
}

// TestCPUPerDelivery checks that each target is charged the CPU of its
// own rounds: a target that hashes 8 MiB for every delivery costs at
// least most of that hashing per delivery, and the ceiling, run in the
// same rounds, far less.
func TestCPUPerDelivery(t *testing.T) {
	require.Zero(t, Result{CPU: time.Second}.CPUPerDelivery(), "nothing sent")
	require.Equal(t, 3*time.Microsecond, Result{CPU: 3 * time.Millisecond, Sent: 1000}.CPUPerDelivery())
	if _, ok := processCPU(); !ok {
		return // the rest needs the system's CPU times
	}
	// Eight megabytes: several milliseconds, far above what a request
	// itself costs, under the race detector too.
	block := make([]byte, 8<<20)
	work := func() {
		sum := sha256.Sum256(block)
		block[0] = sum[0]
	}
	const probes = 10
	before, _ := processCPU()
	for range probes {
		work()
	}
	after, _ := processCPU()
	perWork := (after - before) / probes
	require.Positive(t, perWork)

	targets, err := Targets()
	require.NoError(t, err)
	busy := Target{Name: "busy", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		work()
	})}
	ceiling := targets[1]
	require.Equal(t, Ceiling, ceiling.Name)
	// One client, so the handler's hashing is never run alongside
	// another's and the bound holds on a busy machine too.
	results, err := Run(context.Background(), Config{Clients: 1, Duration: 10 * time.Second, Max: 20, Rounds: 2}, []Target{busy, ceiling})
	require.NoError(t, err)
	require.Equal(t, 40, results[0].Sent)
	require.GreaterOrEqual(t, results[0].CPUPerDelivery(), perWork*7/10, "busy: %v a delivery, the hashing alone %v", results[0].CPUPerDelivery(), perWork)
	require.Less(t, results[1].CPUPerDelivery(), perWork/2, "ceiling: %v a delivery, the busy target's hashing %v", results[1].CPUPerDelivery(), perWork)
}

// TestRunRejectsBadConfig checks that a run without bounds is refused.
func TestRunRejectsBadConfig(t *testing.T) {
	_, err := Run(context.Background(), Config{Clients: 1, Duration: time.Second, Rounds: 1}, nil)
	require.Error(t, err)
}

// TestQuantile checks the percentile arithmetic on a known series.
func TestQuantile(t *testing.T) {
	r := Result{}
	require.Zero(t, r.Quantile(0.5))
	for i := 1; i <= 100; i++ {
		r.latencies = append(r.latencies, time.Duration(i)*time.Millisecond)
	}
	require.Equal(t, 50*time.Millisecond, r.Quantile(0.50))
	require.Equal(t, 99*time.Millisecond, r.Quantile(0.99))
	require.Equal(t, 100*time.Millisecond, r.Quantile(1))
}

// BenchmarkTarget drives one target over loopback with 16 clients, for
// profiling the server side under the same load as loadgen:
//
//	go test ./load -run '^$' -bench 'Target/ours' -cpuprofile cpu.out
func BenchmarkTarget(b *testing.B) {
	targets, err := Targets()
	require.NoError(b, err)
	for i, tg := range targets {
		b.Run(tg.Name, func(b *testing.B) {
			cfg := Config{Clients: 16, Duration: time.Hour, Max: b.N, Rounds: 1}
			results, err := Run(context.Background(), cfg, targets[i:i+1])
			require.NoError(b, err)
			require.Zero(b, results[0].Errors, "first error %v", results[0].FirstError)
			b.ReportMetric(results[0].PerSecond(), "deliveries/s")
		})
	}
}

// TestMedianRatio checks the per-round ratio summary.
func TestMedianRatio(t *testing.T) {
	require.Equal(t, "-", medianRatio(nil, nil))
	require.Equal(t, "0.50", medianRatio([]float64{1, 2, 30}, []float64{2, 4, 10}))
	require.Equal(t, "1.50", medianRatio([]float64{1, 2}, []float64{1, 1}))
	require.Equal(t, "-", medianRatio([]float64{1}, []float64{0}))
}

// BenchmarkServeHTTP measures each target's handler in process, without
// the network or the client: the server-side cost of one delivery.
//
//	go test ./load -run '^$' -bench ServeHTTP -benchmem
func BenchmarkServeHTTP(b *testing.B) {
	targets, err := Targets()
	require.NoError(b, err)
	for _, tg := range targets {
		b.Run(tg.Name, func(b *testing.B) {
			pool, err := sign("msg_serve_"+tg.Name+"_"+strconv.Itoa(b.N)+"_", JamCreated, b.N)
			require.NoError(b, err)
			b.SetBytes(int64(len(JamCreated)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				r := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(JamCreated))
				r.Header = pool.header(i)
				w := httptest.NewRecorder()
				tg.Handler.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// TestRunCountsErrors drives a target that answers 200, 503 or hangs up
// in turn: errors of different kinds are all counted, the first one is
// kept, and only the 200s count as deliveries.
func TestRunCountsErrors(t *testing.T) {
	var n atomic.Int64
	flaky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 3 {
		case 0:
			w.WriteHeader(http.StatusOK)
		case 1:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		default:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}
	})
	cfg := Config{Clients: 3, Duration: time.Minute, Max: 90, Rounds: 1}
	results, err := Run(context.Background(), cfg, []Target{{Name: "flaky", Handler: flaky}})
	require.NoError(t, err)
	r := results[0]
	require.Positive(t, r.Sent)
	require.Positive(t, r.Errors)
	require.Equal(t, cfg.Max, r.Sent+r.Errors)
	require.Error(t, r.FirstError)
	require.Equal(t, int64(-1), r.Calls)
}

// TestRedisInboxTarget drives the redis-inbox target briefly against the
// Redis named by WEBHOOK_TEST_REDIS_URL: no errors, and every 200 run by one
// callback once the workers have drained the inbox. scripts/redis-test.sh
// runs it against its Redis; the bench module's own step has none.
func TestRedisInboxTarget(t *testing.T) {
	url := os.Getenv("WEBHOOK_TEST_REDIS_URL")
	if url == "" {
		t.Skip("WEBHOOK_TEST_REDIS_URL not set; scripts/redis-test.sh runs this test against its Redis")
	}
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	client := redis.NewClient(opts)
	defer client.Close()
	prefix := fmt.Sprintf("loadgentest:%d:", time.Now().UnixNano())
	target, stop, err := RedisInboxTarget(client, prefix)
	require.NoError(t, err)
	cfg := Config{Clients: 4, Duration: 200 * time.Millisecond, Max: 300, Rounds: 2}
	results, err := Run(context.Background(), cfg, []Target{target})
	require.NoError(t, err)
	r := results[0]
	require.Zero(t, r.Errors, "first error %v", r.FirstError)
	require.Positive(t, r.Sent)
	require.Equal(t, int64(r.Sent), r.Calls, "200s and callback runs")
	stop()
	keys, err := client.Keys(context.Background(), prefix+"*").Result()
	require.NoError(t, err)
	require.Empty(t, keys, "keys left after stop")
}
