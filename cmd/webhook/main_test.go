package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/testfs"
	"github.com/inhook/webhook/sqlitestore"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

const (
	jamBody    = `{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","jamUrl":"https://jam.dev/c/4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_8Hq2","type":"video","author":{"email":"dana@northwind.example"}}`
	noticeBody = `{"type":"notification_event","app_id":"x7k2p9m4","id":"notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c","topic":"conversation.user.replied","created_at":1795510790,"delivery_attempts":1,"data":{"type":"notification_event_data","item":{"type":"conversation","id":"215471234567890","state":"open"}}}`
	seriesBody = `name=Dana+Okafor&company=Northwind`
	otherKey   = "whsec_b3RoZXItc2VjcmV0LXRoYXQtaXMtbm90LWNvbmZpZ3VyZWQ="
)

// result is one run of the command.
type result struct {
	code           int
	stdout, stderr string
}

// cmdWait bounds a command run by runCmd. The commands under test end on
// their own in well under a second; one that does not (serve started by
// a case meant to refuse its flags, a dial that never gives up) would hold
// the test binary until go test's ten-minute timeout, with nothing said.
const cmdWait = time.Minute

// runCmd runs the command of args with stdin as its standard input. One
// still running after cmdWait is cancelled, as a signal would stop it, and
// fails the test with what it wrote so far.
func runCmd(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, strings.NewReader(stdin), &out, &errb) }()
	select {
	case code := <-done:
		return result{code, out.String(), errb.String()}
	case <-time.After(cmdWait):
	}
	cancel()
	stopped := "it stopped when cancelled"
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		stopped = "it did not stop when cancelled either"
	}
	t.Fatalf("webhook %s still running after %v (%s)\nstdout: %s\nstderr: %s", strings.Join(args, " "), cmdWait, stopped, out.String(), errb.String())
	return result{}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// clearEnv makes sure keys in the developer's environment do not leak
// into a test.
func clearEnv(t *testing.T) {
	for _, k := range []string{envSecret, envIntercom, envSeriesToken, envSeriesHeader, envInspectToken} {
		t.Setenv(k, "")
	}
}

// unwritableInbox returns an inbox file this process cannot write.
func unwritableInbox(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "inbox.db")
	ib, err := sqlitestore.Open(path)
	require.NoError(t, err)
	require.NoError(t, ib.Close())
	testfs.Unwritable(t, path)
	return path
}

// publicKey is a Standard Webhooks public key (whpk_): the verifiers take
// it, the signers cannot sign with it.
var publicKey = "whpk_" + base64.StdEncoding.EncodeToString(make([]byte, 32))

func TestUsageAndHelp(t *testing.T) {
	if testfs.AsNobody(t) {
		return
	}
	clearEnv(t)
	dir := t.TempDir()
	lockedInbox := unwritableInbox(t)
	// A body file the user nobody can read: the test binary may sit in a
	// directory only root may enter (testfs.AsNobody).
	body := writeFile(t, "body.json", jamBody)
	lockedDir := t.TempDir()
	testfs.Unwritable(t, lockedDir)
	tests := []struct {
		args []string
		code int
		want string // in stdout+stderr
	}{
		{nil, exitUsage, "Usage:"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"help"}, exitOK, "webhook verify"},
		{[]string{"--help"}, exitOK, "Exit status"},
		{[]string{"serve", "--help"}, exitOK, "Exit status: 0 ok"},
		{[]string{"send", "--help"}, exitOK, "Exit status: 0 ok"},
		{[]string{"sign", "--help"}, exitOK, "Exit status: 0 ok"},
		{[]string{"verify", "--help"}, exitOK, "Exit status: 0 ok"},
		{[]string{"version", "--help"}, exitOK, "Exit status: 0 ok"},
		{[]string{"version", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"help"}, exitOK, "webhook version"},
		// help COMMAND is COMMAND --help, as with go help.
		{[]string{"help", "serve"}, exitOK, "Usage: webhook serve [flags]"},
		{[]string{"help", "inbox"}, exitOK, "Usage:\n  webhook inbox list"},
		{[]string{"help", "inbox", "purge"}, exitOK, "-older-than duration"},
		{[]string{"help", "frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"serve", "--no-such-flag"}, exitUsage, "flag provided but not defined"},
		{[]string{"serve"}, exitUsage, "no keys"},
		{[]string{"serve", "--secret", "whsec_not base64!"}, exitUsage, "invalid secret"},
		{[]string{"serve", "extra"}, exitUsage, `unexpected argument "extra"`},
		// --inbox "$FILE" with FILE unset is not a receiver without its inbox.
		{[]string{"serve", "--test-keys", "--addr", "256.0.0.1:bad", "--inbox", ""}, exitUsage, "--inbox needs a file name"},
		{[]string{"serve", "--test-keys", "--addr", "256.0.0.1:bad", "--inbox", dir}, exitFail, "--inbox " + dir + " is a directory, not a SQLite file"},
		{[]string{"serve", "--test-keys", "--addr", "256.0.0.1:bad", "--inbox", filepath.Join(dir, "no", "inbox.db")}, exitFail,
			"--inbox " + filepath.Join(dir, "no", "inbox.db") + ": directory " + filepath.Join(dir, "no") + " does not exist"},
		{[]string{"inbox", "stats", "--inbox", dir}, exitFail, "--inbox " + dir + " is a directory, not a SQLite file"},
		{[]string{"inbox", "replay", "k", "--inbox", dir}, exitFail, "--inbox " + dir + " is a directory, not a SQLite file"},
		{[]string{"serve", "--test-keys", "--shutdown-timeout", "0s"}, exitUsage, "--shutdown-timeout must be positive"},
		// A file it cannot write is refused: it started, and answered 503 to every delivery.
		{[]string{"serve", "--test-keys", "--addr", "256.0.0.1:bad", "--inbox", lockedInbox}, exitFail,
			"webhook serve: --inbox " + lockedInbox + ": sqlitestore: Open " + lockedInbox + ": the file is not writable"},
		{[]string{"inbox", "purge", "--inbox", lockedInbox}, exitFail, "webhook inbox purge: --inbox " + lockedInbox + ": sqlitestore: Open " + lockedInbox + ": the file is not writable"},
		{[]string{"serve", "--test-keys", "--addr", "256.0.0.1:bad", "--inbox", filepath.Join(lockedDir, "inbox.db")}, exitFail,
			"inbox.db-wal and inbox.db-shm beside it: are they and their directory writable?"},
		// Named by the flag, not by the library's option (serve has no
		// InsecureSkipTimestampCheck).
		{[]string{"serve", "--test-keys", "--tolerance", "0s"}, exitUsage, "webhook serve: --tolerance must be positive\n"},
		{[]string{"serve", "--test-keys", "--max-body", "-1"}, exitUsage, "webhook serve: --max-body must be positive\n"},
		{[]string{"verify", "--request", "r", "--tolerance", "-5m"}, exitUsage, "webhook verify: --tolerance must be positive; --skip-timestamp turns the check off\n"},
		{[]string{"send"}, exitUsage, "nothing to send"},
		{[]string{"send", "--all", "jam/x.json"}, exitUsage, "not both"},
		{[]string{"send", "--file", "x", "--all"}, exitUsage, "not several"},
		{[]string{"send", "no/such.json"}, exitUsage, "no fixture"},
		{[]string{"send", "--all", "--id", "msg_1"}, exitUsage, "--id applies to one delivery"},
		{[]string{"send", "--file", "x", "--source", "github"}, exitUsage, `source "github"`},
		{[]string{"send", "--timestamp", "yesterday", "--file", body}, exitUsage, "neither unix seconds nor RFC 3339"},
		{[]string{"sign", "--source", "stripe"}, exitUsage, `source "stripe"`},
		// A public key verifies but cannot sign: an error, not webhooktest's panic.
		{[]string{"sign", "--secret", publicKey, body}, exitUsage, "a --secret is a whpk_ public key, which cannot sign"},
		{[]string{"send", "--secret", publicKey, "--file", body}, exitUsage, "a --secret is a whpk_ public key, which cannot sign"},
		// Refused before anything is sent, as sign refuses it: not after the
		// Intercom fixtures, sorted first, went out.
		{[]string{"send", "--secret", publicKey, "--all", "--url", "http://127.0.0.1:1/"}, exitUsage, "a --secret is a whpk_ public key, which cannot sign"},
		{[]string{"sign", "--secret", "whsk_" + base64.StdEncoding.EncodeToString(make([]byte, 20)), body}, exitUsage, "--secret 0: webhooktest:"},
		// The receiver never holds the sender's key.
		{[]string{"serve", "--secret", webhooktest.SigningKey}, exitUsage, "is a whsk_ signing key; configure the sender's whpk_ public key"},
		{[]string{"sign", "a", "b"}, exitUsage, "one body file"},
		{[]string{"sign", "a", "--source", "stripe"}, exitUsage, `source "stripe"`}, // flags after arguments count
		{[]string{"serve", "--", "--secret"}, exitUsage, `unexpected argument "--secret"`},
		// --inspect may stand alone, so its address comes after "=".
		{[]string{"serve", "--test-keys", "--inspect", "0.0.0.0:8081", "--inspect-public"}, exitUsage, `webhook serve: --inspect takes its address after "=": --inspect=0.0.0.0:8081`},
		{[]string{"serve", "--test-keys", "-inspect", "[::1]:4041"}, exitUsage, `webhook serve: --inspect takes its address after "=": --inspect=[::1]:4041`},
		{[]string{"serve", "--test-keys", "--inspect", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"verify"}, exitUsage, "need --body and --headers"},
		{[]string{"verify", "--body", "b"}, exitUsage, "need --body and --headers"},
		{[]string{"verify", "--request", "r", "--body", "b"}, exitUsage, "not both"},
		{[]string{"verify", "--request", "r", "--now", "1", "--skip-timestamp"}, exitUsage, "--now or --skip-timestamp"},
		// Usage errors before the files are read: they were exit 1 for a
		// file missing, 2 only once it was there.
		{[]string{"verify", "--request", filepath.Join(dir, "missing"), "--now", "yesterday"}, exitUsage, `webhook verify: --now: time "yesterday" is neither unix seconds nor RFC 3339`},
		{[]string{"verify", "--request", filepath.Join(dir, "missing"), "--source", "github"}, exitUsage, `source "github"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCmd(t, "", tt.args...)
			require.Equal(t, tt.code, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			require.Contains(t, r.stdout+r.stderr, tt.want)
		})
	}
}

func TestSignThenVerify(t *testing.T) {
	clearEnv(t)
	at := fmt.Sprint(webhooktest.Unix)
	tests := []struct {
		name     string
		source   string
		body     string
		signArgs []string // besides --source and --timestamp
		verify   []string // keys and clock for verify
		code     int
		want     []string // lines or fragments of verify's stdout
	}{
		{name: "standard", source: "standard", body: jamBody, signArgs: []string{"--id", "msg_one"},
			verify: []string{"--secret", webhooktest.Secret, "--now", at}, code: exitOK,
			want: []string{"OK: Standard Webhooks signature matches", "message id msg_one", "signed at 2026-11-24T09:00:00Z", "event: jam.created"}},
		{name: "standard svix headers, rotated secrets", source: "standard", body: jamBody, signArgs: []string{"--svix", "--secret", otherKey, "--secret", webhooktest.Secret},
			verify: []string{"--secret", webhooktest.Secret, "--now", at}, code: exitOK, want: []string{"OK: Standard Webhooks"}},
		{name: "standard v1a", source: "standard", body: jamBody, signArgs: []string{"--secret", webhooktest.SigningKey},
			verify: []string{"--secret", webhooktest.PublicKey, "--now", at}, code: exitOK, want: []string{"OK: Standard Webhooks signature matches"}},
		{name: "standard v1a and v1, verified by the HMAC key", source: "standard", body: jamBody, signArgs: []string{"--secret", webhooktest.SigningKey, "--secret", webhooktest.Secret},
			verify: []string{"--secret", webhooktest.Secret, "--now", at}, code: exitOK, want: []string{"OK: Standard Webhooks signature matches"}},
		{name: "standard v1a, another public key", source: "standard", body: jamBody, signArgs: []string{"--secret", webhooktest.SigningKey},
			verify: []string{"--secret", publicKey, "--now", at}, code: exitFail, want: []string{"FAIL:"}},
		{name: "standard wrong secret", source: "standard", body: jamBody,
			verify: []string{"--secret", otherKey, "--now", at}, code: exitFail, want: []string{"FAIL: no configured secret signed these bytes"}},
		{name: "standard stale", source: "standard", body: jamBody,
			verify: []string{"--secret", webhooktest.Secret, "--now", fmt.Sprint(webhooktest.Unix + 600)}, code: exitFail,
			want: []string{"FAIL: the timestamp " + at, "older than the window", "--skip-timestamp"}},
		{name: "standard from the future", source: "standard", body: jamBody,
			verify: []string{"--secret", webhooktest.Secret, "--now", fmt.Sprint(webhooktest.Unix - 600)}, code: exitFail,
			want: []string{"FAIL: the timestamp", "future"}},
		{name: "standard stale but skipped", source: "standard", body: jamBody,
			verify: []string{"--secret", webhooktest.Secret, "--skip-timestamp"}, code: exitOK, want: []string{"OK:"}},
		{name: "standard no secret given", source: "standard", body: jamBody,
			verify: []string{"--intercom-secret", webhooktest.IntercomSecret}, code: exitUsage},
		{name: "intercom", source: "intercom", body: noticeBody,
			verify: []string{"--intercom-secret", webhooktest.IntercomSecret, "--now", at}, code: exitOK,
			want: []string{"OK: Intercom X-Hub-Signature matches", "event: conversation.user.replied"}},
		{name: "intercom stale", source: "intercom", body: noticeBody,
			verify: []string{"--intercom-secret", webhooktest.IntercomSecret, "--now", fmt.Sprint(webhooktest.Unix + 100*3600)}, code: exitFail,
			want: []string{"FAIL: the notification's created_at (", "before --now) is older than the max age (--intercom-max-age 72h0m0s)", "--skip-timestamp"}},
		{name: "intercom stale but skipped", source: "intercom", body: noticeBody,
			verify: []string{"--intercom-secret", webhooktest.IntercomSecret, "--skip-timestamp"}, code: exitOK, want: []string{"OK: Intercom"}},
		{name: "intercom, a field of unexpected type", source: "intercom",
			body:   `{"type":"notification_event","id":"notif_1","topic":"conversation.user.replied","created_at":1795510790,"data":{"item":{"type":"conversation","id":"1","open":"yes"}}}`,
			verify: []string{"--intercom-secret", webhooktest.IntercomSecret, "--now", at}, code: exitOK,
			want: []string{"event: conversation.user.replied", "warning: a field was left zero:", "item.open"}},
		{name: "standard, an unknown type that is no plain name", source: "standard", body: `{"type":"jam.archived\nOK: forged","data":{}}`,
			verify: []string{"--secret", webhooktest.Secret, "--now", at}, code: exitOK,
			want: []string{`event: "jam.archived\nOK: forged" (unknown to this version`}},
		{name: "intercom, a topic of a thousand bytes", source: "intercom",
			body:   `{"type":"notification_event","id":"notif_1","topic":"conversation.` + strings.Repeat("x", 1000) + `","created_at":1795510790}`,
			verify: []string{"--intercom-secret", webhooktest.IntercomSecret, "--now", at}, code: exitOK,
			want: []string{`event: "conversation.` + strings.Repeat("x", 51) + `"…(cut, 1013 bytes)` + "\n"}},
		{name: "intercom wrong secret", source: "intercom", body: noticeBody,
			verify: []string{"--intercom-secret", "not-the-client-secret", "--now", at}, code: exitFail, want: []string{"FAIL: no configured client secret"}},
		{name: "series form", source: "series", body: seriesBody,
			verify: []string{"--series-token", webhooktest.SeriesToken}, code: exitOK,
			want: []string{"OK: Series token in X-Series-Token matches", "event: " + event.TypeSeriesWebhook}},
		{name: "series wrong token", source: "series", body: seriesBody,
			verify: []string{"--series-token", "another-token-of-16-bytes"}, code: exitFail, want: []string{"FAIL: the token matches no configured token"}},
		{name: "series custom header", source: "series", body: seriesBody, signArgs: []string{"--series-header", "X-Hook-Auth", "--series-token", "custom-token-1234567890"},
			verify: []string{"--series-header", "x-hook-auth", "--series-token", "custom-token-1234567890"}, code: exitOK, want: []string{"OK: Series token in X-Hook-Auth"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bodyFile := writeFile(t, "body", tt.body)
			args := append([]string{"sign", "--source", tt.source, "--timestamp", at}, tt.signArgs...)
			s := runCmd(t, "", append(args, bodyFile)...)
			require.Equal(t, exitOK, s.code, s.stderr)
			headers := writeFile(t, "headers", s.stdout)

			v := runCmd(t, "", append([]string{"verify", "--body", bodyFile, "--headers", headers}, tt.verify...)...)
			require.Equal(t, tt.code, v.code, "stdout: %s\nstderr: %s", v.stdout, v.stderr)
			for _, w := range tt.want {
				require.Contains(t, v.stdout, w)
			}
			requireNoSecrets(t, v.stdout+v.stderr, s.stdout)
		})
	}
}

// requireNoSecrets checks that out holds no key and none of the
// signatures in headers.
func requireNoSecrets(t *testing.T, out, headers string) {
	t.Helper()
	for _, secret := range []string{webhooktest.Secret, webhooktest.SigningKey, webhooktest.IntercomSecret, webhooktest.SeriesToken, otherKey, "custom-token-1234567890"} {
		require.NotContains(t, out, secret)
	}
	for _, m := range regexp.MustCompile(`(v1a?,[A-Za-z0-9+/=]+|sha1=[0-9a-f]+)`).FindAllString(headers, -1) {
		require.NotContains(t, out, m[strings.IndexAny(m, ",=")+1:])
	}
}

func TestSignOutput(t *testing.T) {
	clearEnv(t)
	at := fmt.Sprint(webhooktest.Unix)
	// From standard input, headers in a stable order.
	r := runCmd(t, jamBody, "sign", "--timestamp", at, "--id", "msg_fixed")
	require.Equal(t, exitOK, r.code, r.stderr)
	sig, err := webhooktest.SignStandard(webhooktest.Secret, "msg_fixed", webhooktest.Time(), []byte(jamBody))
	require.NoError(t, err)
	require.Equal(t, "Content-Type: application/json\nWebhook-Id: msg_fixed\nWebhook-Signature: "+sig+"\nWebhook-Timestamp: "+at+"\n", r.stdout)

	r = runCmd(t, noticeBody, "sign", "--source", "intercom")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "X-Hub-Signature: "+webhooktest.SignIntercom(webhooktest.IntercomSecret, []byte(noticeBody))+"\n")

	// curl with a file sends the file's bytes.
	file := writeFile(t, "it's.json", jamBody)
	r = runCmd(t, "", "sign", file, "--curl", "--url", "https://example.test/hooks") // flags after the file count
	require.Equal(t, exitOK, r.code, r.stderr)
	require.True(t, strings.HasPrefix(r.stdout, "curl -sS -i 'https://example.test/hooks'"), r.stdout)
	require.Contains(t, r.stdout, `-H 'Webhook-Signature: v1,`)
	require.Contains(t, r.stdout, `--data-binary '@`+strings.ReplaceAll(file, "'", `'\''`)+`'`)

	// curl from standard input carries the body inline, quoted.
	r = runCmd(t, `name=O'Brien`, "sign", "--curl", "--source", "series", "--method", "PUT")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "-X 'PUT'")
	require.Contains(t, r.stdout, `-H 'Content-Type: application/x-www-form-urlencoded'`)
	require.Contains(t, r.stdout, `--data-raw 'name=O'\''Brien'`)
}

func TestVerifyRequestDumpAndHints(t *testing.T) {
	clearEnv(t)
	req := webhooktest.NewStandardRequest(webhooktest.Secret, []byte(jamBody), webhooktest.WithSvixHeaders())
	dump, err := httputil.DumpRequest(req, true)
	require.NoError(t, err)
	dumpFile := writeFile(t, "req.http", string(dump))

	r := runCmd(t, "", "verify", "--request", dumpFile, "--secret", webhooktest.Secret, "--now", webhooktest.Time().Format(time.RFC3339))
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stdout, "OK: Standard Webhooks")

	// From standard input, keys from the environment, the real clock: an
	// hour-old capture is stale.
	t.Setenv(envSecret, otherKey+","+webhooktest.Secret)
	old := webhooktest.NewStandardRequest(webhooktest.Secret, []byte(jamBody), webhooktest.WithTime(time.Now().Add(-time.Hour)))
	oldDump, err := httputil.DumpRequest(old, true)
	require.NoError(t, err)
	r = runCmd(t, string(oldDump), "verify", "--request", "-")
	require.Equal(t, exitFail, r.code)
	require.Contains(t, r.stdout, "older than the window")

	// A body saved with a trailing newline.
	bodyFile := writeFile(t, "body.json", jamBody+"\n")
	headers := ""
	for _, k := range sortedKeys(req.Header) {
		headers += k + ": " + req.Header.Get(k) + "\n"
	}
	headersFile := writeFile(t, "h.txt", "# captured from the proxy\n\n"+headers)
	r = runCmd(t, "", "verify", "--body", bodyFile, "--headers", headersFile, "--skip-timestamp")
	require.Equal(t, exitFail, r.code)
	require.Contains(t, r.stdout, "FAIL: no configured secret signed these bytes")
	require.Contains(t, r.stdout, "hint: the body verifies without its trailing newline")
	requireNoSecrets(t, r.stdout+r.stderr, headers)

	tests := []struct {
		name, headers, want string
		code                int
	}{
		{"no signature headers", "Content-Type: application/json\n", "FAIL: no signature headers", exitFail},
		{"partial set", "Webhook-Id: msg_1\nWebhook-Timestamp: 1795510800\n", "FAIL: a required header is missing", exitFail},
		{"malformed signature", "Webhook-Id: msg_1\nWebhook-Timestamp: 1795510800\nWebhook-Signature: v1,!!\n", "FAIL: a signature header is malformed (v1 signature is not canonical base64 of 32 bytes)", exitFail},
		{"intercom without prefix", "X-Hub-Signature: 0123\n", "", exitUsage}, // no Intercom secret configured
		{"not a header line", "Webhook-Id msg_1\n", "", exitFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, "", "verify", "--body", bodyFile, "--headers", writeFile(t, "h", tt.headers), "--skip-timestamp")
			require.Equal(t, tt.code, r.code, r.stdout+r.stderr)
			require.Contains(t, r.stdout, tt.want)
		})
	}
	r = runCmd(t, "", "verify", "--request", writeFile(t, "junk", "not http"), "--secret", webhooktest.Secret)
	require.Equal(t, exitFail, r.code)
	require.Contains(t, r.stderr, "is not an HTTP request")
}

// newReceiver returns a test server running a handler with the test keys
// and the real clock, and a function returning the event types it saw.
func newReceiver(t *testing.T) (*httptest.Server, func() []string) {
	t.Helper()
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken),
		webhook.WithLogger(discardLogger()),
	)
	require.NoError(t, err)
	var mu sync.Mutex
	var seen []string
	h.OnAny(func(ctx context.Context, d *webhook.Delivery, e event.Event) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, string(d.Source)+" "+e.EventType())
		return nil
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

func TestSend(t *testing.T) {
	clearEnv(t)
	srv, seen := newReceiver(t)
	jamFile := writeFile(t, "jam.json", jamBody)
	noticeFile := writeFile(t, "notice.json", noticeBody)
	seriesFile := writeFile(t, "series.txt", seriesBody)

	r := runCmd(t, "", "send", "--url", srv.URL, "--file", jamFile)
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Regexp(t, `^200 OK\s+`+regexp.QuoteMeta(jamFile)+`\s+standard\s+msg_[0-9a-f]{24}\n$`, r.stdout)

	r = runCmd(t, "", "send", "--url", srv.URL, "--file", noticeFile, "--source", "intercom")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Regexp(t, `^200 OK\s+\S+\s+intercom\s+notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c\n$`, r.stdout)
	r = runCmd(t, "", "send", "--url", srv.URL, "--file", seriesFile, "--source", "series", "--method", "PUT")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Equal(t, []string{"standard jam.created", "intercom conversation.user.replied", "series " + event.TypeSeriesWebhook}, seen())

	// The same id twice: the duplicate is acknowledged without callbacks.
	for range 2 {
		r = runCmd(t, "", "send", "--url", srv.URL, "--file", jamFile, "--id", "msg_replayed", "--svix")
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Contains(t, r.stdout, "msg_replayed")
	}
	require.Len(t, seen(), 4)

	// Rejections: exit 1, the status printed.
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"wrong secret", []string{"--file", jamFile, "--secret", otherKey}, "401 Unauthorized"},
		{"stale", []string{"--file", jamFile, "--timestamp", time.Now().Add(-time.Hour).Format(time.RFC3339)}, "401 Unauthorized"},
		{"wrong intercom secret", []string{"--file", noticeFile, "--source", "intercom", "--intercom-secret", "nope-not-the-client-secret"}, "401 Unauthorized"},
		{"not decodable", []string{"--file", seriesFile}, "400 Bad Request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, "", append([]string{"send", "--url", srv.URL}, tt.args...)...)
			require.Equal(t, exitFail, r.code, r.stdout+r.stderr)
			require.Contains(t, r.stdout, tt.want)
		})
	}

	// Every fixture, and the list of them.
	r = runCmd(t, "", "send", "--url", srv.URL, "--all")
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	names := webhooktest.FixtureNames()
	require.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), len(names))
	for _, name := range names {
		require.Regexp(t, `(?m)^2\d\d .*\s`+regexp.QuoteMeta(name)+`\s`, r.stdout)
	}
	r = runCmd(t, "", "send", "--list")
	require.Equal(t, strings.Join(names, "\n")+"\n", r.stdout)

	// No receiver at all.
	srv.Close()
	r = runCmd(t, "", "send", "--url", srv.URL, "--file", jamFile)
	require.Equal(t, exitFail, r.code)
	require.Contains(t, r.stderr, "webhook send: "+jamFile)
}

// TestServeDebug: --debug adds what the library logs at DEBUG, a GET (a
// browser opening the receiver's URL), as its help says; a duplicate is
// logged either way, at INFO. The help said --debug also logged
// duplicates, which serve logs without it.
func TestServeDebug(t *testing.T) {
	clearEnv(t)
	text, _ := helpFlags(t, "serve")
	_, debugHelp, _ := strings.Cut(text, "  -debug\n")
	debugHelp, _, _ = strings.Cut(debugHelp, "\n")
	require.Contains(t, debugHelp, "GET")
	require.NotContains(t, debugHelp, "duplicate")
	for _, debug := range []bool{false, true} {
		t.Run(fmt.Sprint("debug=", debug), func(t *testing.T) {
			args := []string{"--test-keys"}
			if debug {
				args = append(args, "--debug")
			}
			s := serveInProcess(t, args...)
			for range 2 {
				require.Equal(t, http.StatusOK, s.post(t, webhooktest.NewFixtureRequest("jam/jam.created.maximal.json", webhooktest.WithID("msg_debug"), webhooktest.WithTime(time.Now()))))
			}
			resp, err := http.Get(s.recv + "/hooks")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
			require.Eventually(t, func() bool { return strings.Contains(s.logs.String(), "duplicate acknowledged") }, 5*time.Second, 10*time.Millisecond, s.logs.String())
			if debug {
				require.Eventually(t, func() bool { return strings.Contains(s.logs.String(), "level=DEBUG msg=\"webhook rejected\"") }, 5*time.Second, 10*time.Millisecond, s.logs.String())
			} else {
				// The GET's answer is sent after its log line would be.
				require.NotContains(t, s.logs.String(), "webhook rejected")
			}
		})
	}
}

// TestVerifyTestKeys: verify --test-keys accepts the public test keys of
// package webhooktest, as serve --test-keys does, so what sign and send
// sign by default verifies without naming a key; without it (and
// without keys) verify still refuses to guess. verify took no
// --test-keys, and the capture of "webhook sign" needed the test secret
// spelled out.
func TestVerifyTestKeys(t *testing.T) {
	clearEnv(t)
	at := fmt.Sprint(webhooktest.Unix)
	for _, tt := range []struct{ source, body string }{
		{"standard", jamBody}, {"intercom", noticeBody}, {"series", seriesBody},
	} {
		t.Run(tt.source, func(t *testing.T) {
			body := writeFile(t, "body", tt.body)
			s := runCmd(t, "", "sign", "--source", tt.source, "--timestamp", at, body)
			require.Equal(t, exitOK, s.code, s.stderr)
			headers := writeFile(t, "headers", s.stdout)
			r := runCmd(t, "", "verify", "--test-keys", "--body", body, "--headers", headers, "--now", at)
			require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
			require.Contains(t, r.stdout, "OK")
			requireNoSecrets(t, r.stdout+r.stderr, s.stdout)
			r = runCmd(t, "", "verify", "--body", body, "--headers", headers, "--now", at)
			require.Equal(t, exitUsage, r.code, r.stdout+r.stderr)
		})
	}
	// Beside a key of the user's, as serve takes both.
	body := writeFile(t, "body", jamBody)
	s := runCmd(t, "", "sign", "--timestamp", at, body)
	require.Equal(t, exitOK, s.code, s.stderr)
	r := runCmd(t, "", "verify", "--test-keys", "--secret", otherKey, "--body", body, "--headers", writeFile(t, "headers", s.stdout), "--now", at)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
}

// TestSendNoRedirects: send does not follow a redirect, as senders do
// not (Svix counts a 3xx as a failed attempt): the 3xx is the delivery's
// status, exit 1, and the signed delivery goes nowhere else. It followed
// a 307 or 308 with the body and its signature headers to wherever the
// Location said, another host included.
func TestSendNoRedirects(t *testing.T) {
	clearEnv(t)
	jamFile := writeFile(t, "jam.json", jamBody)
	var mu sync.Mutex
	elsewhere := 0
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		elsewhere++
		mu.Unlock()
	}))
	t.Cleanup(other.Close)
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+"/next?token=hunter2", code)
			}))
			t.Cleanup(redirect.Close)
			r := runCmd(t, "", "send", "--url", redirect.URL, "--file", jamFile)
			require.Equal(t, exitFail, r.code, r.stdout+r.stderr)
			require.Regexp(t, fmt.Sprintf(`^%d %s +%s +standard +msg_\w+\n$`, code, regexp.QuoteMeta(http.StatusText(code)), regexp.QuoteMeta(jamFile)), r.stdout)
			require.NotContains(t, r.stdout+r.stderr, "hunter2")
		})
	}
	mu.Lock()
	defer mu.Unlock()
	require.Zero(t, elsewhere, "a redirect was followed")
}

// TestSendErrorHidesToken: a delivery that cannot be sent is told with
// the URL it went to without its password, query and fragment, where a
// token goes: net/http's error quotes the URL with its query.
func TestSendErrorHidesToken(t *testing.T) {
	clearEnv(t)
	jamFile := writeFile(t, "jam.json", jamBody)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name, url, want string
	}{
		{"no receiver", strings.Replace(closed.URL, "http://", "http://user:hunter2@", 1) + "/hook?token=hunter2#hunter2",
			"webhook send: " + jamFile + ": POST " + strings.Replace(closed.URL, "http://", "http://user:xxxxx@", 1) + "/hook: dial tcp "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, "", "send", "--url", tt.url, "--file", jamFile)
			require.Equal(t, exitFail, r.code, r.stdout+r.stderr)
			require.Contains(t, r.stderr, tt.want)
			require.NotContains(t, r.stdout+r.stderr, "hunter2")
		})
	}
}

// TestSendFlagErrors: a --url that is no http(s) URL, a --method that is
// no method and a --file it cannot read are refused naming the flag,
// before anything is sent; a bad --url's password is never shown.
func TestSendFlagErrors(t *testing.T) {
	clearEnv(t)
	srv, seen := newReceiver(t)
	missing := filepath.Join(t.TempDir(), "missing.json")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no scheme", []string{"--url", "127.0.0.1:8080", "--all"}, exitUsage, "webhook send: --url has no scheme: give an http:// or https:// URL, http://HOST[:PORT]/PATH"},
		{"no scheme, a token in the query", []string{"--url", "127.0.0.1:8080/hook?token=hunter2", "--all"}, exitUsage, "webhook send: --url has no scheme"},
		{"a bad port, a token in the query", []string{"--url", "http://127.0.0.1:80x/hook?token=hunter2", "--all"}, exitUsage, "webhook send: --url does not parse as a URL: invalid port after host"},
		{"a bad escape, a token in the path", []string{"--url", "http://127.0.0.1/hooks/hunter2%zz", "--all"}, exitUsage, "webhook send: --url does not parse as a URL: invalid URL escape"},
		{"a control character, a token in the query", []string{"--url", "http://127.0.0.1/hook?token=hunter2\n", "--all"}, exitUsage, "webhook send: --url does not parse as a URL: net/url: invalid control character in URL"},
		{"a bad host, a token in the query", []string{"--url", "http://127.0.0.1 x/hook?token=hunter2", "--all"}, exitUsage, "webhook send: --url does not parse as a URL: invalid character in host name"},
		{"another scheme", []string{"--url", "ftp://127.0.0.1/", "--all"}, exitUsage, "webhook send: --url ftp://127.0.0.1/ is not an http:// or https:// URL"},
		{"another scheme, a token in the query", []string{"--url", "ftp://127.0.0.1/?token=hunter2#hunter2", "--all"}, exitUsage, "webhook send: --url ftp://127.0.0.1/ is not an http:// or https:// URL"},
		{"no host", []string{"--url", "http:///hooks", "--all"}, exitUsage, "webhook send: --url http:///hooks is not an http:// or https:// URL"},
		{"no host, a password", []string{"--url", "http://user:hunter2@/hooks", "--all"}, exitUsage, "webhook send: --url http://user:xxxxx@/hooks is not an http:// or https:// URL"},
		{"does not parse, a password", []string{"--url", "http://user:hunter2@127.0.0.1:80x/", "--all"}, exitUsage, "webhook send: --url does not parse as a URL"},
		{"no // after the scheme, a password", []string{"--url", "http:user:hunter2@127.0.0.1/hooks", "--all"}, exitUsage, "webhook send: --url http:xxxxx@127.0.0.1/hooks is not an http:// or https:// URL"},
		{"one / after the scheme, a password", []string{"--url", "https:/user:hunter2@127.0.0.1/hooks", "--all"}, exitUsage, "webhook send: --url https:/xxxxx@127.0.0.1/hooks is not an http:// or https:// URL"},
		{"no // after the scheme, a password without its colon", []string{"--url", "http:hunter2@127.0.0.1/hooks", "--all"}, exitUsage, "webhook send: --url http:xxxxx@127.0.0.1/hooks is not an http:// or https:// URL"},
		{"a bad escape in the password", []string{"--url", "http://user:hunter2%zz@127.0.0.1/", "--all"}, exitUsage, "webhook send: --url does not parse as a URL"},
		{"a method with a space", []string{"--url", srv.URL, "--method", "PO ST", "--all"}, exitUsage, `webhook send: --method "PO ST" is not an HTTP method`},
		{"an empty method", []string{"--url", srv.URL, "--method", "", "--all"}, exitUsage, `webhook send: --method "" is not an HTTP method`},
		{"--file missing", []string{"--url", srv.URL, "--file", missing}, exitFail, "webhook send: --file: open " + missing + ": no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, "", append([]string{"send"}, tt.args...)...)
			require.Equal(t, tt.code, r.code, r.stdout+r.stderr)
			require.Contains(t, r.stderr, tt.want)
			require.NotContains(t, r.stdout+r.stderr, "hunter2")
			require.Empty(t, r.stdout, "nothing sent")
		})
	}
	require.Empty(t, seen())
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

var listenRE = regexp.MustCompile(`listening on (http://\S+)`)

func TestServe(t *testing.T) {
	clearEnv(t)
	t.Setenv(envIntercom, "first-client-secret,"+webhooktest.IntercomSecret)
	t.Setenv(envSeriesToken, webhooktest.SeriesToken)
	srv := serveInProcess(t, "--secret", webhooktest.Secret)
	require.Contains(t, srv.logs.String(), "sources: [standard intercom series in X-Series-Token]")
	post := func(req *http.Request) int { return srv.post(t, req) }
	now := webhooktest.WithTime(time.Now())
	require.Equal(t, 200, post(webhooktest.NewStandardRequest(webhooktest.Secret, []byte(jamBody), now, webhooktest.WithID("msg_serve_1"))))
	require.Equal(t, 200, post(webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, []byte(noticeBody), now)))
	require.Equal(t, 200, post(webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, []byte(seriesBody),
		webhooktest.WithContentType("application/x-www-form-urlencoded"))))
	require.Equal(t, 401, post(webhooktest.NewStandardRequest(otherKey, []byte(jamBody), now)))
	require.Equal(t, 401, post(webhooktest.NewStandardRequest(webhooktest.Secret, []byte(jamBody), webhooktest.WithTime(time.Now().Add(-time.Hour)))))
	// The header limit fits both signature sets with the longest lists
	// accepted, and refuses a header block much larger than that.
	long := webhooktest.NewStandardRequest(otherKey, []byte(jamBody), now)
	list := strings.TrimSpace(strings.Repeat("v1a,"+strings.Repeat("A", 86)+"== ", 10))
	for _, k := range []string{"Webhook-Signature", "Svix-Signature"} {
		long.Header.Set(k, list)
	}
	long.Header.Set("Svix-Id", strings.Repeat("m", 256))
	long.Header.Set("Svix-Timestamp", long.Header.Get("Webhook-Timestamp"))
	require.Equal(t, 401, post(long))
	huge := webhooktest.NewStandardRequest(webhooktest.Secret, []byte(jamBody), now)
	huge.Header.Set("X-Padding", strings.Repeat("p", 64<<10))
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, post(huge))

	var lines []eventLine
	for _, l := range strings.Split(strings.TrimSpace(srv.out.String()), "\n") {
		var e eventLine
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&e), l)
		lines = append(lines, e)
	}
	require.Len(t, lines, 3)
	require.Equal(t, eventLine{Source: "standard", Type: "jam.created", ID: "msg_serve_1", Event: lines[0].Event}, lines[0])
	require.Equal(t, eventLine{Source: "intercom", Type: "conversation.user.replied", ID: "notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c", Event: lines[1].Event}, lines[1])
	require.Equal(t, eventLine{Source: "series", Type: event.TypeSeriesWebhook, ID: "", Event: lines[2].Event}, lines[2])
	for _, l := range lines {
		require.True(t, json.Valid(l.Event) && string(l.Event) != "null", string(l.Event))
	}
	require.Contains(t, string(lines[0].Event), "4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03")

	logs := srv.logs.String()
	require.Contains(t, logs, "no matching signature found")
	require.Contains(t, logs, "message timestamp too old")
	require.Contains(t, logs, "status=401")
	requireNoSecrets(t, logs, "")
	require.NotContains(t, logs, "Northwind", "bodies are never logged")

	srv.stop(t)
	require.Contains(t, srv.logs.String(), "webhook serve: stopped")
}

// TestServeMaxBody: serve takes any --max-body, and then accepts a
// delivery of that size, v1a included: it gives the handler the body
// memory such a body needs, which it had no flag for (past 8 MiB serve
// could not start).
func TestServeMaxBody(t *testing.T) {
	clearEnv(t)
	const maxBody = 12 << 20
	srv := serveInProcess(t, "--max-body", strconv.Itoa(maxBody), "--secret", webhooktest.Secret, "--secret", webhooktest.PublicKey)
	body := []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_8Hq2","title":"` + strings.Repeat("x", maxBody-100) + `"}`)
	body = append(body, bytes.Repeat([]byte(" "), maxBody-len(body))...)
	require.Len(t, body, maxBody)
	for _, secret := range []string{webhooktest.Secret, webhooktest.SigningKey} {
		req := webhooktest.NewStandardRequest(secret, body, webhooktest.WithTime(time.Now()), webhooktest.WithID("msg_max_body_"+secret[:4]))
		require.Equal(t, http.StatusOK, srv.post(t, req), "signed with %s…: %s", secret[:5], srv.logs)
	}
}

func TestServeTestKeysAndBadAddr(t *testing.T) {
	clearEnv(t)
	r := runCmd(t, "", "serve", "--test-keys", "--addr", "256.0.0.1:bad")
	require.Equal(t, exitFail, r.code)
	require.Contains(t, r.stderr, "webhook serve: --addr 256.0.0.1:bad: ")

	// An address that is none is a usage error, for either flag, before
	// anything listens: --addr's was a run-time failure, --inspect's not.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--addr", "nonsense"}, "webhook serve: --addr: address nonsense: missing port in address\n"},
		{[]string{"--addr", "[::1"}, "webhook serve: --addr: address [::1: missing ']' in address\n"},
		{[]string{"--addr", "127.0.0.1:99999"}, "webhook serve: --addr: port 99999 is out of range (0 to 65535)\n"},
		{[]string{"--addr", "127.0.0.1:0", "--inspect=127.0.0.1:70000"}, "webhook serve: --inspect: port 70000 is out of range (0 to 65535)\n"},
		// A URL, maybe pasted with its credentials, is told as one and
		// not shown: net's error quoted it whole.
		{[]string{"--addr", "http://u:hunter2@127.0.0.1:8080/"}, "webhook serve: --addr: a URL (not shown) is no address: give HOST:PORT, e.g. 127.0.0.1:8080\n"},
		{[]string{"--addr", "127.0.0.1:0", "--inspect=https://u:hunter2@127.0.0.1:4040"}, "webhook serve: --inspect: a URL (not shown) is no address: give HOST:PORT, e.g. 127.0.0.1:8080\n"},
	} {
		r := runCmd(t, "", append([]string{"serve", "--test-keys"}, tt.args...)...)
		require.Equal(t, exitUsage, r.code, r.stderr)
		require.True(t, strings.HasPrefix(r.stderr, tt.want), r.stderr)
		require.NotContains(t, r.stderr, "listening on")
		require.NotContains(t, r.stderr, "hunter2")
	}

	// An address in use: the message names the flag that chose it.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	r = runCmd(t, "", "serve", "--test-keys", "--addr", taken.Addr().String())
	require.Equal(t, exitFail, r.code)
	require.Contains(t, r.stderr, "webhook serve: --addr "+taken.Addr().String()+": ")
	r = runCmd(t, "", "serve", "--test-keys", "--addr", "127.0.0.1:0", "--inspect="+taken.Addr().String())
	require.Equal(t, exitFail, r.code)
	require.Contains(t, r.stderr, "webhook serve: --inspect "+taken.Addr().String()+": ")
	require.NotContains(t, r.stderr, "listening on")
}

// TestKeyErrors: every command takes keys as the library does, from
// flags and the environment alike: nothing trimmed, whitespace around a
// key refused with the library's message, another source's key refused,
// and the key never echoed. A key refused is named by where it came
// from, its flag or its environment variable (flags win over the
// variable, so it is one or the other), before the library's message:
// "secret 1 is not valid base64" alone did not say whether --secret or
// $WEBHOOK_SECRET held it.
func TestKeyErrors(t *testing.T) {
	body := writeFile(t, "body.json", jamBody)
	headers := writeFile(t, "headers.txt", "Webhook-Id: msg_1\nWebhook-Timestamp: 1\nWebhook-Signature: v1,x\n")
	serve := []string{"serve", "--addr", "127.0.0.1:0"}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"serve: $WEBHOOK_SECRET with a newline", map[string]string{envSecret: webhooktest.Secret + "\n"},
			[]string{"serve", "--addr", "127.0.0.1:0"}, "secret 0 ends with a line break"},
		{"serve: $WEBHOOK_SECRET list with a space after the comma", map[string]string{envSecret: otherKey + ", " + webhooktest.Secret},
			[]string{"serve", "--addr", "127.0.0.1:0"}, "secret 1 starts with whitespace"},
		{"serve: $INTERCOM_CLIENT_SECRET with spaces", map[string]string{envIntercom: webhooktest.IntercomSecret + "  "},
			[]string{"serve", "--addr", "127.0.0.1:0"}, "Intercom client secret 0 ends with whitespace"},
		{"serve: $SERIES_TOKEN with a newline", map[string]string{envSeriesToken: webhooktest.SeriesToken + "\n"},
			[]string{"serve", "--addr", "127.0.0.1:0"}, "Series token 0 ends with a line break"},
		{"serve: --intercom-secret whsec_", nil,
			[]string{"serve", "--addr", "127.0.0.1:0", "--intercom-secret", webhooktest.Secret}, "Standard Webhooks (Jam) signing secret"},
		{"serve: --secret holding an Intercom client secret", nil,
			[]string{"serve", "--addr", "127.0.0.1:0", "--secret", webhooktest.IntercomSecret}, "looks like a UUID"},
		{"verify: $WEBHOOK_SECRET with a newline", map[string]string{envSecret: webhooktest.Secret + "\n"},
			[]string{"verify", "--body", body, "--headers", headers}, "secret 0 ends with a line break"},
		{"sign: --secret with a newline", nil,
			[]string{"sign", "--secret", webhooktest.Secret + "\n", body}, "secret 0 ends with a line break"},
		{"sign: a whsk_ key, then a --secret with a newline", nil, // counted among all the --secret flags
			[]string{"sign", "--secret", webhooktest.SigningKey, "--secret", webhooktest.Secret + "\n", body}, "secret 1 ends with a line break"},
		{"sign: a bad whsk_ key after a good one", nil, // named by its position too
			[]string{"sign", "--secret", webhooktest.SigningKey, "--secret", "whsk_AAAA", body}, "--secret 1: webhooktest: whsk_ key is not base64"},
		{"sign: --intercom-secret whsec_", nil,
			[]string{"sign", "--source", "intercom", "--intercom-secret", webhooktest.Secret, body}, "Standard Webhooks (Jam) signing secret"},
		{"send: --series-token with a space", nil,
			[]string{"send", "--file", body, "--source", "series", "--series-token", " " + webhooktest.SeriesToken}, "Series token 0 starts with whitespace"},
		{"serve: $WEBHOOK_SECRET", map[string]string{envSecret: "short"}, serve, "webhook serve: $WEBHOOK_SECRET: webhook: secret 0 "},
		{"serve: --secret over $WEBHOOK_SECRET", map[string]string{envSecret: webhooktest.Secret}, append(serve, "--secret", webhooktest.Secret, "--secret", "short"), "webhook serve: --secret: webhook: secret 1 "},
		{"serve --test-keys: $WEBHOOK_SECRET", map[string]string{envSecret: "short"}, append(serve, "--test-keys"), "webhook serve: $WEBHOOK_SECRET: webhook: secret 0 "},
		{"serve: $INTERCOM_CLIENT_SECRET", map[string]string{envIntercom: "short"}, serve, "webhook serve: $INTERCOM_CLIENT_SECRET: webhook: Intercom client secret 0 "},
		{"serve: --intercom-secret", nil, append(serve, "--intercom-secret", "short"), "webhook serve: --intercom-secret: webhook: Intercom client secret 0 "},
		{"serve: $SERIES_TOKEN", map[string]string{envSeriesToken: "short"}, serve, "webhook serve: $SERIES_TOKEN: webhook: Series token 0 "},
		{"serve: $SERIES_HEADER", map[string]string{envSeriesToken: webhooktest.SeriesToken, envSeriesHeader: "Bad Header"}, serve, `webhook serve: $SERIES_HEADER: webhook: Series header name holds ' ' at byte 3, which no header name holds`},
		{"serve: --series-header", nil, append(serve, "--series-token", webhooktest.SeriesToken, "--series-header", "Bad Header"), `webhook serve: --series-header: webhook: Series header name holds ' ' at byte 3`},
		{"serve: --series-header as a header line", nil, append(serve, "--series-token", webhooktest.SeriesToken, "--series-header", webhooktest.SeriesHeader+": "+webhooktest.SeriesToken), `webhook serve: --series-header: webhook: Series header name holds ':'`},
		{"serve: $SERIES_HEADER as a header line", map[string]string{envSeriesToken: webhooktest.SeriesToken, envSeriesHeader: "Authorization: Bearer " + webhooktest.SeriesToken}, serve, `webhook serve: $SERIES_HEADER: webhook: Series header name holds ':'`},
		{"verify: $SERIES_TOKEN", map[string]string{envSeriesToken: "short"}, []string{"verify", "--body", body, "--headers", headers}, "webhook verify: $SERIES_TOKEN: webhook: Series token 0 "},
		{"verify: --secret", nil, []string{"verify", "--body", body, "--headers", headers, "--secret", "short"}, "webhook verify: --secret: webhook: secret 0 "},
		{"sign: --series-token", nil, []string{"sign", "--source", "series", "--series-token", "short", body}, "webhook sign: --series-token: webhook: Series token 0 "},
		{"send: --intercom-secret", nil, []string{"send", "--file", body, "--source", "intercom", "--intercom-secret", "short"}, "webhook send: --intercom-secret: webhook: Intercom client secret 0 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			r := runCmd(t, "", tt.args...)
			require.Equal(t, exitUsage, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			require.Contains(t, r.stderr, tt.want)
			if !strings.Contains(tt.want, "Series header name") { // a header name is no key
				require.Contains(t, r.stderr, "invalid secret")
			}
			requireNoSecrets(t, r.stdout+r.stderr, "")
			require.NotContains(t, r.stdout+r.stderr, "short")
		})
	}
	// Unpadded whsec_ secrets work in every command.
	clearEnv(t)
	unpadded := strings.TrimRight(webhooktest.Secret, "=")
	at := fmt.Sprint(webhooktest.Unix)
	s := runCmd(t, "", "sign", "--secret", unpadded, "--timestamp", at, body)
	require.Equal(t, exitOK, s.code, s.stderr)
	v := runCmd(t, "", "verify", "--body", body, "--headers", writeFile(t, "h.txt", s.stdout), "--secret", webhooktest.Secret, "--now", at)
	require.Equal(t, exitOK, v.code, v.stdout+v.stderr)
	t.Setenv(envSecret, unpadded)
	v = runCmd(t, "", "verify", "--body", body, "--headers", writeFile(t, "h.txt", s.stdout), "--now", at)
	require.Equal(t, exitOK, v.code, v.stdout+v.stderr)
}

// TestVerifyNowInMessages: with --now, every age verify prints is measured
// from --now, not from the machine's clock (the capture below was signed
// in 2026-11, long before or after whenever the test runs).
func TestVerifyNowInMessages(t *testing.T) {
	clearEnv(t)
	at := fmt.Sprint(webhooktest.Unix)
	bodyFile := writeFile(t, "body", jamBody)
	s := runCmd(t, "", "sign", "--timestamp", at, bodyFile)
	require.Equal(t, exitOK, s.code, s.stderr)
	headers := writeFile(t, "headers", s.stdout)
	tests := []struct {
		now  string
		want string
	}{
		{fmt.Sprint(webhooktest.Unix + 600), "(2026-11-24T09:00:00Z, 10m0s before --now) is older than the window"},
		{webhooktest.Time().Add(-90 * time.Minute).Format(time.RFC3339), "(2026-11-24T09:00:00Z, 1h30m0s after --now) is further in the future"},
	}
	for _, tt := range tests {
		r := runCmd(t, "", "verify", "--body", bodyFile, "--headers", headers, "--secret", webhooktest.Secret, "--now", tt.now)
		require.Equal(t, exitFail, r.code, r.stdout+r.stderr)
		require.Contains(t, r.stdout, tt.want)
	}
}

// TestVerifyNoHeaders: a headers file or request dump without headers is
// named as such, not reported as a delivery without signature headers.
func TestVerifyNoHeaders(t *testing.T) {
	clearEnv(t)
	body := writeFile(t, "body.json", jamBody)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"empty headers file", []string{"--body", body, "--headers", writeFile(t, "empty.txt", "")}, "empty.txt holds no headers: expected \"Name: value\" lines"},
		{"blank lines and comments only", []string{"--body", body, "--headers", writeFile(t, "comments.txt", "# captured\n\n   \n# nothing else\n")}, "comments.txt holds no headers"},
		{"a body given as headers", []string{"--body", body, "--headers", body}, "body.json holds no headers: it looks like a JSON body (are --body and --headers swapped?)"},
		{"an indented body given as headers", []string{"--body", body, "--headers", writeFile(t, "pretty.json", "{\n  \"jamId\": \"x\"\n}\n")}, "pretty.json holds no headers: it looks like a JSON body"},
		{"a request without headers", []string{"--request", writeFile(t, "bare.http", "POST /hooks HTTP/1.1\r\n\r\n"+jamBody)}, "bare.http holds no headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, "", append([]string{"verify", "--secret", webhooktest.Secret}, tt.args...)...)
			require.Equal(t, exitFail, r.code, r.stdout+r.stderr)
			require.Contains(t, r.stderr, tt.want)
			require.NotContains(t, r.stdout, "no signature headers")
		})
	}
	// A file with a real header but no signature headers is still a
	// delivery without signature headers.
	r := runCmd(t, "", "verify", "--secret", webhooktest.Secret, "--body", body, "--headers", writeFile(t, "h.txt", "Content-Type: application/json\n"))
	require.Equal(t, exitFail, r.code)
	require.Contains(t, r.stdout, "FAIL: no signature headers")
}

// TestVerifyInputErrors: a file verify cannot read is named by its flag,
// two files on standard input are a usage error, and a request dump that
// does not parse is told by the line at fault, never quoted: a request
// line may carry a credential in its query, a header line a signature,
// and a body given as --request by mistake is a body.
func TestVerifyInputErrors(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	body := writeFile(t, "body.json", jamBody)
	headers := writeFile(t, "h.txt", "Webhook-Id: msg_1\n")
	missing := filepath.Join(dir, "missing")
	const sig = "v1,c2lnbmF0dXJlLW9mLWEtY2FwdHVyZWQtcmVxdWVzdA=="
	tests := []struct {
		name   string
		args   []string
		code   int
		want   string
		hidden string
	}{
		{"--body missing", []string{"--body", missing, "--headers", headers}, exitFail, "webhook verify: --body: open " + missing + ": no such file or directory", ""},
		{"--headers missing", []string{"--body", body, "--headers", missing}, exitFail, "webhook verify: --headers: open " + missing + ": no such file or directory", ""},
		{"--request missing", []string{"--request", missing}, exitFail, "webhook verify: --request: open " + missing + ": no such file or directory", ""},
		{"--body a directory", []string{"--body", dir, "--headers", headers}, exitFail, "webhook verify: --body: read " + dir + ": is a directory", ""},
		{"both on standard input", []string{"--body", "-", "--headers", "-"}, exitUsage, "only one of --body and --headers can be standard input", ""},
		{"a body as the request", []string{"--request", writeFile(t, "body.http", `{"token":"hunter2-credential"}`)}, exitFail, "body.http is not an HTTP request: line 1 is not a request line (METHOD TARGET HTTP/1.1)", "hunter2"},
		{"a request line without its version", []string{"--request", writeFile(t, "short.http", "POST /hooks?token=hunter2-credential\r\n\r\n{}")}, exitFail, "short.http is not an HTTP request: line 1 is not a request line", "hunter2"},
		{"a bad version", []string{"--request", writeFile(t, "version.http", "POST /hooks?token=hunter2-credential HTTP/x\r\n\r\n{}")}, exitFail, "version.http is not an HTTP request: line 1 is not a request line", "hunter2"},
		{"a header line without its colon", []string{"--request", writeFile(t, "colon.http", "POST /hooks HTTP/1.1\r\nHost: x\r\nWebhook-Signature "+sig+"\r\n\r\n{}")}, exitFail, `colon.http is not an HTTP request: line 3 is not "Name: value"`, "c2lnbmF0dXJl"},
		{"an empty request", []string{"--request", writeFile(t, "empty.http", "")}, exitFail, "empty.http is not an HTTP request: line 1 is not a request line", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, "", append([]string{"verify", "--secret", webhooktest.Secret}, tt.args...)...)
			require.Equal(t, tt.code, r.code, r.stdout+r.stderr)
			require.Contains(t, r.stderr, tt.want)
			if tt.hidden != "" {
				require.NotContains(t, r.stdout+r.stderr, tt.hidden)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"installed at a tag", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/inhook/webhook/cmd/webhook", Version: "v1.2.3"}}, true, "webhook v1.2.3 (go1.26.8)"},
		{"stamped pseudo-version", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261201084212-9611ca1a2b3c+dirty"}}, true, "webhook v0.0.0-20261201084212-9611ca1a2b3c+dirty (go1.26.8)"},
		{"a checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true, "webhook (devel) (go1.26.8)"},
		{"no module version", &debug.BuildInfo{GoVersion: "go1.26.8"}, true, "webhook (devel) (go1.26.8)"},
		{"no build info", nil, false, "webhook (devel) (unknown Go version)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, versionLine(tt.bi, tt.ok))
		})
	}
	// The command prints this binary's own line, for each spelling.
	for _, arg := range []string{"version", "--version", "-version"} {
		r := runCmd(t, "", arg)
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Equal(t, versionLine(debug.ReadBuildInfo())+"\n", r.stdout)
		require.Regexp(t, `^webhook (v\S+|\(devel\)) \(go\S+\)\n$`, r.stdout)
	}
}

// TestServePrintsEventOfItsKind: serve prints an Intercom notification's
// item as its kind, without the zero fields the package's item model
// keeps for other kinds; kinds without a typed accessor as the sender
// sent them; and with --raw, each body as received.
func TestServePrintsEventOfItsKind(t *testing.T) {
	print := func(raw bool, d *webhook.Delivery) map[string]json.RawMessage {
		var out bytes.Buffer
		require.NoError(t, printEvents(&out, discardLogger(), raw)(context.Background(), d, d.Event))
		require.Equal(t, 1, strings.Count(out.String(), "\n"), "one line per event")
		var line map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(out.Bytes(), &line))
		return line
	}
	item := func(event json.RawMessage) json.RawMessage {
		var e struct {
			Data struct {
				Item json.RawMessage `json:"item"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(event, &e))
		return e.Data.Item
	}
	// Fields the item model holds for contacts, companies, admins and
	// tickets: none may appear in a conversation's line, and so on.
	others := map[string][]string{
		"intercom/conversation.user.replied.json": {"monthly_spend", "away_mode_enabled", "ticket_state", "role", "plan", "job_title"},
		"intercom/ticket.created.json":            {"monthly_spend", "away_mode_enabled", "conversation_parts", "statistics", "role"},
		"intercom/contact.user.created.json":      {"monthly_spend", "away_mode_enabled", "ticket_state", "statistics", "conversation_parts"},
		"intercom/company.created.json":           {"away_mode_enabled", "ticket_state", "statistics", "conversation_parts", "role"},
	}
	for name, absent := range others {
		t.Run(name, func(t *testing.T) {
			body := webhooktest.Fixture(name)
			ev, err := event.Parse(body)
			require.NoError(t, err)
			n := ev.(*event.IntercomNotification)
			line := print(false, &webhook.Delivery{Source: event.SourceIntercom, ID: n.ID.String(), Body: body, Event: ev})
			got := item(line["event"])
			want, err := json.Marshal(intercomItem(n))
			require.NoError(t, err)
			require.JSONEq(t, string(want), string(got), "the item is printed as its kind")
			for _, k := range absent {
				require.NotContains(t, string(got), `"`+k+`"`)
			}
			require.Contains(t, string(line["event"]), `"topic":"`+n.Topic+`"`, "the envelope stays")
		})
	}

	// A kind without a typed accessor: the item as sent.
	body := webhooktest.Fixture("intercom/article.created.json")
	ev, err := event.Parse(body)
	require.NoError(t, err)
	line := print(false, &webhook.Delivery{Source: event.SourceIntercom, Body: body, Event: ev})
	require.JSONEq(t, string(ev.(*event.IntercomNotification).Item()), string(item(line["event"])))
	require.NotContains(t, string(line["event"]), "monthly_spend")

	// --raw: the body as received, JSON as JSON, a form as a string.
	line = print(true, &webhook.Delivery{Source: event.SourceIntercom, Body: body, Event: ev})
	require.NotContains(t, line, "event")
	require.JSONEq(t, string(body), string(line["body"]))
	series, err := event.ParseSeries([]byte(seriesBody), "application/x-www-form-urlencoded")
	require.NoError(t, err)
	line = print(true, &webhook.Delivery{Source: event.SourceSeries, Body: []byte(seriesBody), Event: series})
	require.Equal(t, `"`+seriesBody+`"`, string(line["body"]))
}

// TestArgumentMayBeKey: an argument that may be a key, one with a
// Standard Webhooks key's prefix or one right after a key flag's value (a
// second key given without its flag: --secret A B), is never shown in an
// error, whichever command refuses it.
func TestArgumentMayBeKey(t *testing.T) {
	clearEnv(t)
	const second = "SECONDKEYnotshown0123456789"
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"serve", "--secret", webhooktest.Secret, "whsec_" + second}, exitUsage},
		{[]string{"serve", "--intercom-secret", webhooktest.IntercomSecret, second}, exitUsage},
		{[]string{"serve", "--series-token=" + liveSeriesToken, second}, exitUsage},
		{[]string{"serve", "--test-keys", "whpk_" + second}, exitUsage},
		{[]string{"verify", "--secret", webhooktest.Secret, "whsec_" + second, "--request", "r.http"}, exitUsage},
		{[]string{"version", "whsk_" + second}, exitUsage},
		{[]string{"inbox", "list", "--inbox", "inbox.db", "whsec_" + second}, exitUsage},
		{[]string{"sign", "--secret", webhooktest.Secret, "whsec_" + second}, exitFail},
		{[]string{"sign", "--source", "intercom", "--intercom-secret", webhooktest.IntercomSecret, second}, exitFail},
		{[]string{"send", "--secret", webhooktest.Secret, "whsec_" + second}, exitUsage},
		{[]string{"send", "--intercom-secret", webhooktest.IntercomSecret, second}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCmd(t, "", tt.args...)
			require.Equal(t, tt.code, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			require.NotContains(t, r.stdout+r.stderr, second)
			require.Contains(t, r.stderr, "not shown: it may be a key")
		})
	}
}

// TestVerifyCaptureArrival: a capture the inspector saved records its
// arrival (the headers file's "# received:" line); verified later without
// --now, its timestamp is refused as too old, and the advice gives that
// arrival as the --now to use, which then verifies it. It said "use --now
// with the arrival time", which the user had to dig out of the file.
func TestVerifyCaptureArrival(t *testing.T) {
	clearEnv(t)
	bodyFile := writeFile(t, "body", jamBody)
	s := runCmd(t, "", "sign", "--timestamp", fmt.Sprint(webhooktest.Unix), bodyFile)
	require.Equal(t, exitOK, s.code, s.stderr)
	arrived := "2026-11-24T09:00:01.5Z"
	tests := []struct {
		name, headers, want string
	}{
		{"a capture", "# captured by webhook serve --inspect: POST /webhooks, answered 200\n# received: " + arrived + "\n" + s.stdout,
			"(use --now " + arrived + ", the arrival its headers file records, or --skip-timestamp)"},
		{"headers without an arrival", s.stdout, "(use --now with the arrival time, or --skip-timestamp)"},
		{"an arrival that does not parse", "# received: yesterday\n" + s.stdout, "(use --now with the arrival time, or --skip-timestamp)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			headers := writeFile(t, "headers", tt.headers)
			r := runCmd(t, "", "verify", "--body", bodyFile, "--headers", headers, "--test-keys")
			require.Equal(t, exitFail, r.code, r.stdout+r.stderr)
			require.Contains(t, r.stdout, tt.want)
		})
	}
	headers := writeFile(t, "headers", "# received: "+arrived+"\n"+s.stdout)
	r := runCmd(t, "", "verify", "--body", bodyFile, "--headers", headers, "--test-keys", "--now", arrived)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
}
