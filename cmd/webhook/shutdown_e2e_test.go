package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/sqlitestore"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// loadOutcome is what senders learned about their deliveries: the ids
// acknowledged with a 200, and how many were refused or failed.
type loadOutcome struct {
	mu      sync.Mutex
	acked   map[string]bool
	refused map[int]int // by status
	errs    int
}

func (o *loadOutcome) record(id string, status int, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case err != nil:
		o.errs++
	case status == http.StatusOK:
		o.acked[id] = true
	default:
		o.refused[status]++
	}
}

// deliveryBytes is a signed Jam delivery with id, as a sender writes it
// on the wire to addr.
func deliveryBytes(t *testing.T, addr, id string) []byte {
	t.Helper()
	r := webhooktest.NewFixtureRequest("jam/jam.created.maximal.json", webhooktest.WithID(id), webhooktest.WithTime(time.Now()))
	r.RequestURI = ""
	r.Host = addr
	var b bytes.Buffer
	require.NoError(t, r.Write(&b))
	return b.Bytes()
}

// hangupDefaultInChildren lets the serve processes a test starts take
// SIGHUP as from a terminal also when this test binary was started with
// it ignored (go test under nohup): an ignored signal stays ignored across
// exec, and serve then keeps ignoring it, as it must
// (TestServeHangupIgnored), so a test of its hangup would wait for a
// "stopping" that never comes. A handler installed here is reset by exec.
// It stays for the test binary's life: signal.Stop would ignore SIGHUP
// again without signal.Ignored saying so, and the next test would start
// its serve ignoring it. A SIGHUP to this binary then goes to a channel
// nobody reads (Notify never blocks), where it went nowhere before.
func hangupDefaultInChildren(t *testing.T) {
	t.Helper()
	if !signal.Ignored(syscall.SIGHUP) {
		return
	}
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)
}

// TestServeInboxSignalUnderLoad sends "webhook serve --inbox" SIGTERM,
// SIGINT or SIGHUP while senders keep delivering, some of them mid-body: serve
// exits 0 within its shutdown timeout, the requests mid-body are finished
// and answered 200 after the listener has closed, every delivery it
// answered 200 is in the file, and a restarted serve prints every one of
// them. The others got an error or no connection, and retry.
func TestServeInboxSignalUnderLoad(t *testing.T) {
	hangupDefaultInChildren(t)
	bin := buildCLI(t)
	tests := []struct {
		name  string
		sig   syscall.Signal
		again syscall.Signal // a second signal once serve is stopping, 0 for none
		// graceful: the second signal does not stop serve at once.
		graceful bool
	}{
		{"SIGTERM", syscall.SIGTERM, 0, false},
		{"SIGINT", syscall.SIGINT, 0, false},
		// The terminal closing (an ssh session ending): Go's default
		// action killed serve, cutting the requests mid-body.
		{"SIGHUP", syscall.SIGHUP, 0, false},
		// As the terminal closes the shell passes its SIGHUP on to its
		// jobs, and the kernel sends the foreground group one as the
		// shell exits: the second is no operator's second signal.
		{"SIGHUP twice", syscall.SIGHUP, syscall.SIGHUP, true},
		// The second signal ends serve while the slow senders are
		// mid-body: they get no answer, and nothing answered is lost.
		{"SIGTERM then SIGINT", syscall.SIGTERM, syscall.SIGINT, false},
	}
	for _, tt := range tests {
		sig := tt.sig
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "inbox.db")
			var printed syncBuffer
			start := func() *served {
				serve := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--test-keys", "--inbox", path)
				serve.Env = append(os.Environ(), envSecret+"=", envIntercom+"=", envSeriesToken+"=")
				serve.Stdout = &printed
				return startServe(t, serve)
			}
			srv := start()
			addr := strings.TrimPrefix(srv.url, "http://")
			out := &loadOutcome{acked: map[string]bool{}, refused: map[int]int{}}

			// Steady senders on keep-alive connections, until serve
			// refuses connections or each has sent its most.
			const senders, most = 8, 400
			var sent atomic.Int64
			tr := &http.Transport{MaxIdleConnsPerHost: senders}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
			var wg sync.WaitGroup
			for g := range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					refusedInARow := 0
					for i := range most {
						id := fmt.Sprintf("msg_load_%d_%d", g, i)
						r := webhooktest.NewFixtureRequest("jam/jam.created.maximal.json", webhooktest.WithID(id), webhooktest.WithTime(time.Now()))
						post, err := http.NewRequest(http.MethodPost, srv.url+"/", r.Body)
						require.NoError(t, err)
						post.Header = r.Header
						resp, err := client.Do(post)
						sent.Add(1)
						if err != nil {
							out.record(id, 0, err)
							var op *net.OpError
							if errors.As(err, &op) && op.Op == "dial" {
								if refusedInARow++; refusedInARow >= 3 {
									return
								}
							}
							continue
						}
						refusedInARow = 0
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						out.record(id, resp.StatusCode, nil)
					}
				}()
			}
			require.Eventually(t, func() bool { return sent.Load() >= 150 }, 30*time.Second, time.Millisecond)
			// Slow senders: the headers and half the body before the
			// signal, the rest after it. They start once the load runs,
			// so that serve's read timeout (10 s) counts from here.
			const slow = 4
			var slowReady, slowWG sync.WaitGroup
			release := make(chan struct{}) // the slow senders send the rest
			for i := range slow {
				slowReady.Add(1)
				slowWG.Add(1)
				go func() {
					defer slowWG.Done()
					id := fmt.Sprintf("msg_slow_%d", i)
					raw := deliveryBytes(t, addr, id)
					conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
					if err != nil {
						slowReady.Done()
						out.record(id, 0, err)
						return
					}
					defer conn.Close()
					half := len(raw) - 200
					_, err = conn.Write(raw[:half])
					slowReady.Done()
					if err != nil {
						out.record(id, 0, err)
						return
					}
					<-release
					if _, err := conn.Write(raw[half:]); err != nil {
						out.record(id, 0, err)
						return
					}
					_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
					resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
					if err != nil {
						out.record(id, 0, err)
						return
					}
					resp.Body.Close()
					out.record(id, resp.StatusCode, nil)
				}()
			}
			slowReady.Wait()
			acceptedBefore(t, srv.url)
			signalledAt := time.Now()
			require.NoError(t, srv.cmd.Process.Signal(sig))
			require.Eventually(t, func() bool { return strings.Contains(srv.logs.String(), "webhook serve: stopping") }, 5*time.Second, time.Millisecond)
			cut := tt.again != 0 && !tt.graceful // serve ends at the second signal
			if tt.again != 0 {
				require.NoError(t, srv.cmd.Process.Signal(tt.again))
			}
			time.Sleep(300 * time.Millisecond) // the listener closed meanwhile
			close(release)
			exited := make(chan error, 1)
			go func() { exited <- srv.cmd.Wait() }()
			select {
			case err := <-exited:
				srv.exited = true
				if !cut {
					require.NoError(t, err, "serve should exit 0 on %v; stderr: %s", sig, srv.logs.String())
				} else {
					var ee *exec.ExitError
					require.ErrorAs(t, err, &ee, "stderr: %s", srv.logs.String())
					require.Equal(t, tt.again, ee.Sys().(syscall.WaitStatus).Signal(), "ended by the second signal")
				}
			case <-time.After(shutdownTimeout + 5*time.Second):
				t.Fatalf("serve still running %v after %v; stderr: %s", time.Since(signalledAt), sig, srv.logs.String())
			}
			wg.Wait()
			slowWG.Wait()
			if !cut {
				require.Contains(t, srv.logs.String(), "webhook serve: stopped")
				for i := range slow {
					require.True(t, out.acked[fmt.Sprintf("msg_slow_%d", i)], "a request mid-body at the signal is finished and answered 200")
				}
			} else {
				for i := range slow {
					require.False(t, out.acked[fmt.Sprintf("msg_slow_%d", i)], "cut short by the second signal")
				}
			}
			t.Logf("%s: exited %v after the signal; acked %d, refused %v, transport errors %d",
				tt.name, time.Since(signalledAt).Round(time.Millisecond), len(out.acked), out.refused, out.errs)

			// Every acknowledged delivery is in the file. Those the
			// workers held when a second signal ended serve stay leased
			// until their lease runs out (a minute): they run again then.
			ro, err := sqlitestore.Open(path, sqlitestore.WithReadOnly())
			require.NoError(t, err)
			for id := range out.acked {
				_, err := ro.Get(context.Background(), "standard:"+id)
				require.NoError(t, err, "acknowledged %s is not in the inbox", id)
			}
			heldPage, err := ro.List(context.Background(), webhook.InboxQuery{State: webhook.InboxLeased, Limit: 1000})
			require.NoError(t, err)
			held := heldPage.Entries
			if !cut {
				require.Empty(t, heldPage.Entries, "a graceful stop leaves nothing leased")
			}
			before, err := ro.Stats(context.Background())
			require.NoError(t, err)
			require.NoError(t, ro.Close())

			// A restarted receiver processes what the first one left.
			srv = start()
			total := before.Pending + before.Retrying + before.InFlight + before.Done
			want := fmt.Sprintf(`"pending":0,"retrying":0,"in_flight":%d,"done":%d,`, len(held), total-len(held))
			require.Eventually(t, func() bool {
				return strings.Contains(cli(t, bin, "inbox", "stats", "--json", "--inbox", path), want)
			}, 30*time.Second, 50*time.Millisecond, "want %s", want)
			srv.stop(t)
			seen := map[string]bool{}
			for _, e := range held {
				seen[e.ID] = true
			}
			for _, line := range strings.Split(strings.TrimSpace(printed.String()), "\n") {
				var l eventLine
				require.NoError(t, json.Unmarshal([]byte(line), &l), line)
				seen[l.ID] = true
			}
			for id := range out.acked {
				require.True(t, seen[id], "acknowledged %s was never printed", id)
			}
			st, err := sqlitestore.Open(path, sqlitestore.WithReadOnly())
			require.NoError(t, err)
			defer st.Close()
			stats, err := st.Stats(context.Background())
			require.NoError(t, err)
			require.Zero(t, stats.Dead)
		})
	}
}

// stuckServe starts "webhook serve --inbox" with args, its standard
// output a pipe nobody reads, and has it acknowledge n deliveries: its
// workers are left blocked writing them out. It returns the served process
// and the inbox file.
func stuckServe(t *testing.T, bin string, n int, args ...string) (*served, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "inbox.db")
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { pr.Close() })
	serve := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--test-keys", "--inbox", path}, args...)...)
	serve.Env = append(os.Environ(), envSecret+"=", envIntercom+"=", envSeriesToken+"=")
	serve.Stdout = pw
	srv := startServe(t, serve)
	pw.Close()
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range n {
		r := webhooktest.NewFixtureRequest("jam/jam.created.maximal.json", webhooktest.WithID(fmt.Sprintf("msg_stuck_%d", i)), webhooktest.WithTime(time.Now()))
		post, err := http.NewRequest(http.MethodPost, srv.url+"/", r.Body)
		require.NoError(t, err)
		post.Header = r.Header
		resp, err := client.Do(post)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	// The workers fill the pipe (64 KiB, a delivery's line is over 1 KiB)
	// and block.
	require.Eventually(t, func() bool {
		ro, err := sqlitestore.Open(path, sqlitestore.WithReadOnly())
		if err != nil {
			return false
		}
		defer ro.Close()
		st, err := ro.Stats(context.Background())
		return err == nil && st.InFlight > 0 && st.Pending+st.InFlight+st.Done == n
	}, 10*time.Second, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	return srv, path
}

// acceptedBefore returns once serve, at url, has accepted every
// connection dialled to it before the call: it sends a request on a
// connection of its own and waits for the answer. The kernel queues
// connections for accept first in, first out, and http.Server accepts
// them one at a time, so the earlier ones were accepted first; and once
// accepted, a connection is one Shutdown waits for, even before its
// request's headers are read (for five seconds then). A sleep stood in
// for it, which a loaded machine could outlast: a connection still queued
// at the signal is dropped with the listener.
func acceptedBefore(t *testing.T, url string) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Get(url + "/")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// waitExit waits up to within for serve to exit, and returns its error.
func waitExit(t *testing.T, srv *served, within time.Duration) error {
	t.Helper()
	at := time.Now()
	exited := make(chan error, 1)
	go func() { exited <- srv.cmd.Wait() }()
	select {
	case err := <-exited:
		srv.exited = true
		return err
	case <-time.After(within):
		t.Fatalf("serve still running %v after the signal; stderr: %s", time.Since(at), srv.logs.String())
		return nil
	}
}

// requireAllStored requires the n deliveries of stuckServe in the inbox at
// path, none dead.
func requireAllStored(t *testing.T, path string, n int) {
	t.Helper()
	ro, err := sqlitestore.Open(path, sqlitestore.WithReadOnly())
	require.NoError(t, err)
	defer ro.Close()
	for i := range n {
		e, err := ro.Get(context.Background(), fmt.Sprintf("standard:msg_stuck_%d", i))
		require.NoError(t, err)
		require.NotEqual(t, webhook.InboxDead, e.State)
	}
}

// TestServeInboxShutdownStuckPrint: workers blocked writing to a standard
// output nobody reads hold serve no longer than --shutdown-timeout after
// SIGTERM (the library's 30 s default held it for that long), it exits 1
// saying so, and the deliveries stay in the file for the next run.
func TestServeInboxShutdownStuckPrint(t *testing.T) {
	bin := buildCLI(t)
	const n = 120
	srv, path := stuckServe(t, bin, n, "--shutdown-timeout", "2s")
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	err := waitExit(t, srv, 2*time.Second+5*time.Second)
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "stderr: %s", srv.logs.String())
	require.Equal(t, exitFail, ee.ExitCode(), "stderr: %s", srv.logs.String())
	require.Contains(t, srv.logs.String(), "webhook serve: workers: ")
	requireAllStored(t, path, n)
}

// TestServeSecondSignal: a second signal during a graceful shutdown that
// waits for stuck workers ends serve at once, the inbox intact.
func TestServeSecondSignal(t *testing.T) {
	bin := buildCLI(t)
	const n = 120
	srv, path := stuckServe(t, bin, n, "--shutdown-timeout", "60s")
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool { return strings.Contains(srv.logs.String(), "webhook serve: stopping") }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGINT))
	err := waitExit(t, srv, 5*time.Second)
	require.Error(t, err, "stderr: %s", srv.logs.String())
	requireAllStored(t, path, n)
}

// TestServeHangupIgnored: serve started with SIGHUP ignored, as nohup
// starts it, keeps ignoring it: signal.Notify for SIGHUP would install a
// handler, and a nohup'd serve would stop when the terminal closed.
func TestServeHangupIgnored(t *testing.T) {
	bin := buildCLI(t)
	var printed syncBuffer
	// The shell leaves SIGHUP ignored across exec, as nohup does.
	serve := exec.Command("sh", "-c", `trap "" HUP; exec "$0" "$@"`, bin, "serve", "--addr", "127.0.0.1:0", "--test-keys")
	serve.Env = append(os.Environ(), envSecret+"=", envIntercom+"=", envSeriesToken+"=")
	serve.Stdout = &printed
	srv := startServe(t, serve)
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGHUP))
	time.Sleep(200 * time.Millisecond) // a handled SIGHUP would be stopping serve by now
	r := webhooktest.NewFixtureRequest("jam/jam.created.maximal.json", webhooktest.WithID("msg_after_hangup"), webhooktest.WithTime(time.Now()))
	post, err := http.NewRequest(http.MethodPost, srv.url+"/", r.Body)
	require.NoError(t, err)
	post.Header = r.Header
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(post)
	require.NoError(t, err, "stderr: %s", srv.logs.String())
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, srv.logs.String(), "stopping")
	srv.stop(t)
	require.Contains(t, printed.String(), "msg_after_hangup")
}

// TestServeStdoutGoneWhileStopping: a reader of serve's standard output
// that went with the terminal (webhook serve | jq, the ssh session
// ending) does not end a stopping serve by SIGPIPE at its next line,
// Go's default for a write to a broken pipe on standard output: the
// request in flight is answered (500: its line failed, so the sender
// retries it), and serve stops as it said it would.
func TestServeStdoutGoneWhileStopping(t *testing.T) {
	hangupDefaultInChildren(t)
	bin := buildCLI(t)
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	serve := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--test-keys")
	serve.Env = append(os.Environ(), envSecret+"=", envIntercom+"=", envSeriesToken+"=")
	serve.Stdout = pw
	srv := startServe(t, serve)
	pw.Close()
	addr := strings.TrimPrefix(srv.url, "http://")
	raw := deliveryBytes(t, addr, "msg_stdout_gone")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	half := len(raw) - 200
	_, err = conn.Write(raw[:half])
	require.NoError(t, err)
	acceptedBefore(t, srv.url)
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(srv.logs.String(), "webhook serve: stopping") }, 5*time.Second, time.Millisecond)
	require.NoError(t, pr.Close()) // the reader goes
	_, err = conn.Write(raw[half:])
	require.NoError(t, err)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "stderr: %s", srv.logs.String())
	resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.NoError(t, waitExit(t, srv, 10*time.Second), "stderr: %s", srv.logs.String())
	require.Contains(t, srv.logs.String(), "webhook serve: stopped")
}
