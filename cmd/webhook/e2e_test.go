package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// TestEndToEnd builds the binary, starts "serve" as a process, sends every
// embedded fixture to it with "send --all", and checks that each produced
// one JSON line of the agreed shape; then stops serve with SIGTERM.
func TestEndToEnd(t *testing.T) {
	bin := buildCLI(t)

	// Keys by flag for Standard Webhooks, by environment for the others.
	serve := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--secret", webhooktest.Secret)
	serve.Env = append(os.Environ(),
		envSecret+"=",
		envIntercom+"=some-old-client-secret,"+webhooktest.IntercomSecret,
		envSeriesToken+"="+webhooktest.SeriesToken,
		envSeriesHeader+"="+webhooktest.SeriesHeader,
	)
	var stdout bytes.Buffer
	serve.Stdout = &stdout
	srv := startServe(t, serve)
	logs, url := srv.logs, srv.url

	send := exec.Command(bin, "send", "--all", "--url", url+"/webhook")
	send.Env = os.Environ()
	sent, err := send.CombinedOutput()
	require.NoError(t, err, "send --all: %s\nserve stderr: %s", sent, logs.String())
	names := webhooktest.FixtureNames()
	require.Len(t, strings.Split(strings.TrimSpace(string(sent)), "\n"), len(names), string(sent))

	srv.stop(t)

	// One line per fixture, in the order sent, of the agreed shape.
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, len(names), stdout.String())
	for i, name := range names {
		var got map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(lines[i]), &got), lines[i])
		require.Len(t, got, 4, "keys of %s: %s", name, lines[i])
		var source, typ, id string
		require.NoError(t, json.Unmarshal(got["source"], &source))
		require.NoError(t, json.Unmarshal(got["type"], &typ))
		require.NoError(t, json.Unmarshal(got["id"], &id))
		require.True(t, json.Valid(got["event"]), name)

		d, err := fixtureDelivery(name)
		require.NoError(t, err)
		require.Equal(t, string(d.source), source, name)
		ev, err := decode(d.source, d.body, http.Header{"Content-Type": {d.ctype}})
		require.NoError(t, err, name)
		require.Equal(t, ev.EventType(), typ, name)
		switch source {
		case "standard":
			require.Regexp(t, `^msg_[0-9a-f]{24}$`, id, name)
		case "series":
			require.Empty(t, id, name)
		}
		require.NotEqual(t, "null", string(got["event"]), name)
	}
	requireNoSecrets(t, logs.String(), "")
}

// buildCLI builds the webhook binary into a temporary directory.
func buildCLI(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	if runtime.GOOS == "windows" {
		t.Skip("uses SIGTERM")
	}
	bin := filepath.Join(t.TempDir(), "webhook")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// failsFast runs the binary bin with args, its environment the tests'
// with env added, and requires that it fail, exit 1, within the time
// given, printing nothing on standard output. It returns what the binary
// printed on standard error.
func failsFast(t *testing.T, bin string, within time.Duration, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "stderr: %s", stderr.String())
	require.Equal(t, exitFail, exit.ExitCode(), "stderr: %s", stderr.String())
	require.Less(t, time.Since(start), within)
	require.Empty(t, stdout.String())
	return stderr.String()
}

// served is a "webhook serve" process started by startServe.
type served struct {
	cmd    *exec.Cmd
	url    string      // the address serve listens on
	logs   *syncBuffer // its standard error
	exited bool
}

// startServe starts serve, a "webhook serve" command whose Stdout the
// caller has set, and waits for the address it prints. The process is
// killed when the test ends unless stop has run.
func startServe(t *testing.T, serve *exec.Cmd) *served {
	t.Helper()
	s := &served{cmd: serve, logs: new(syncBuffer)}
	addr := make(chan string, 1)
	// A writer, not StderrPipe: Wait then returns only once every line
	// serve wrote is in logs. With a pipe read here, Wait closed it at
	// serve's exit, and the last lines ("stopped") could be lost unread.
	serve.Stderr = &stderrLines{logs: s.logs, addr: addr}
	require.NoError(t, serve.Start())
	t.Cleanup(func() {
		if !s.exited {
			_ = serve.Process.Kill()
			_ = serve.Wait()
		}
	})
	select {
	case s.url = <-addr:
	case <-time.After(20 * time.Second):
		t.Fatalf("serve printed no address; stderr: %s", s.logs.String())
	}
	return s
}

// stderrLines keeps what serve writes to its standard error in logs, and
// sends the address of the first line that names it to addr.
type stderrLines struct {
	logs *syncBuffer
	addr chan<- string
	mu   sync.Mutex
	part []byte // the line being written
}

func (w *stderrLines) Write(p []byte) (int, error) {
	w.logs.Write(p)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.part = append(w.part, p...)
	for {
		line, rest, ok := bytes.Cut(w.part, []byte("\n"))
		if !ok {
			return len(p), nil
		}
		if m := listenRE.FindSubmatch(line); m != nil {
			select {
			case w.addr <- string(m[1]):
			default:
			}
		}
		w.part = rest
	}
}

// stop sends serve SIGTERM and requires that it stops cleanly: exit
// status 0 and its "stopped" line.
func (s *served) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	err := s.cmd.Wait()
	s.exited = true
	require.NoError(t, err, "serve should exit 0 on SIGTERM; stderr: %s", s.logs.String())
	require.Contains(t, s.logs.String(), "webhook serve: stopped")
}

// TestSendInterrupted: SIGINT or SIGTERM stops send after what it has
// sent: the delivery in flight is abandoned, the lines of those answered
// are printed, and it says that it was interrupted and how far it got,
// exit 1. The signal killed it with the lines still held in its table,
// so an operator could not tell which deliveries had gone.
func TestSendInterrupted(t *testing.T) {
	bin := buildCLI(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			second := make(chan struct{})
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				n++
				first := n == 1
				mu.Unlock()
				if !first {
					close(second)
					select { // held until send gives up on it
					case <-release:
					case <-r.Context().Done():
					}
				}
			}))
			defer srv.Close()
			defer close(release)
			cmd := exec.Command(bin, "send", "--url", srv.URL, "jam/jam.created.maximal.json", "intercom/conversation.admin.closed.json", "series/company.json")
			var stdout, stderr syncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Start())
			select {
			case <-second:
			case <-time.After(10 * time.Second):
				t.Fatal("the second delivery never came")
			}
			require.NoError(t, cmd.Process.Signal(sig))
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var exit *exec.ExitError
				require.ErrorAs(t, err, &exit, "stderr: %s", stderr.String())
				require.Equal(t, exitFail, exit.ExitCode(), "stderr: %s", stderr.String())
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("send did not stop")
			}
			require.Regexp(t, `^200 OK +jam/jam\.created\.maximal\.json +standard +msg_\w+\n$`, stdout.String())
			require.Equal(t, "webhook send: interrupted: 1 of 3 deliveries answered; intercom/conversation.admin.closed.json was in flight, and may have been received\n", stderr.String())
		})
	}
}
