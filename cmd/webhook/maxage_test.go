package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// servedAt is a serve run in this process: the receiver's URL, and the
// inspector page's when --inspect was given.
type servedAt struct {
	recv, page string
	logs       *syncBuffer // its standard error
	out        *syncBuffer // its standard output
	// stop cancels serve's context, as a signal would, and requires it
	// to exit 0 within 20 s; it returns how long serve took. The test's
	// end calls it too, and it stops serve once.
	stop func(t *testing.T) time.Duration
}

// serveInProcess runs serve with args until the test ends, which checks
// that it stopped cleanly.
func serveInProcess(t *testing.T, args ...string) servedAt {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), strings.NewReader(""), &stdout, &stderr)
	}()
	var once sync.Once
	var took time.Duration
	stop := func(t *testing.T) time.Duration {
		t.Helper()
		once.Do(func() {
			at := time.Now()
			cancel()
			select {
			case code := <-done:
				took = time.Since(at)
				require.Equal(t, exitOK, code, stderr.String())
			case <-time.After(20 * time.Second):
				t.Errorf("serve still running 20s after its stop; stderr: %s", stderr.String())
			}
		})
		return took
	}
	t.Cleanup(func() { stop(t) })
	inspect := false
	for _, a := range args {
		inspect = inspect || strings.HasPrefix(a, "--inspect=")
	}
	s := servedAt{logs: &stderr, out: &stdout, stop: stop}
	exited := func() bool {
		select {
		case code := <-done:
			done <- code
			return true
		default:
			return false
		}
	}
	require.Eventually(t, func() bool {
		// FailNow belongs to the test's goroutine, not Eventually's:
		// called here it ended the check, which then waited out the 20 s.
		if exited() {
			return true
		}
		if m := listenRE.FindStringSubmatch(stderr.String()); m != nil {
			s.recv = m[1]
		}
		if _, p, ok := strings.Cut(stderr.String(), "inspector on "); ok {
			s.page, _, _ = strings.Cut(p, "\n")
		}
		return s.recv != "" && (!inspect || s.page != "")
	}, 20*time.Second, 10*time.Millisecond, "%s", &stderr)
	if exited() {
		require.FailNow(t, "serve exited", "code %d: %s", <-done, stderr.String())
	}
	return s
}

// post sends r to the receiver and returns the status.
func (s servedAt) post(t *testing.T, r *http.Request) int {
	t.Helper()
	body, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	return s.postBytes(t, body, r.Header)
}

// postBytes sends body with header to the receiver and returns the status.
func (s servedAt) postBytes(t *testing.T, body []byte, header http.Header) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.recv+"/hooks", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// noticeAged is noticeBody signed with the test client secret, its
// created_at age before now (negative: in the future), and with its own id
// so that no two are duplicates.
func noticeAged(age time.Duration) *http.Request {
	body := strings.Replace(noticeBody, `"id":"notif_`, fmt.Sprintf(`"id":"notif_%d_`, time.Now().UnixNano()), 1)
	return webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, []byte(body), webhooktest.WithTime(time.Now().Add(-age)))
}

// TestVerifyIntercomMaxAge: verify judges an Intercom notification's age
// against --intercom-max-age, and answers as serve given the same flag
// answers the same delivery: OK where serve answers 200, FAIL where it
// answers 401. verify used the default max age whatever serve was told.
func TestVerifyIntercomMaxAge(t *testing.T) {
	clearEnv(t)
	ages := []time.Duration{30 * time.Minute, 2 * time.Hour, 80 * time.Hour, -10 * time.Minute}
	tests := []struct {
		flags []string
		ok    []bool // by ages
		max   string // the max age a "too old" names
	}{
		{nil, []bool{true, true, false, false}, "72h0m0s"},
		{[]string{"--intercom-max-age", "1h"}, []bool{true, false, false, false}, "1h0m0s"},
		{[]string{"--intercom-max-age=100h"}, []bool{true, true, true, false}, "100h0m0s"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.flags), func(t *testing.T) {
			srv := serveInProcess(t, append([]string{"--intercom-secret", webhooktest.IntercomSecret}, tt.flags...)...)
			for i, age := range ages {
				req := noticeAged(age)
				body, err := io.ReadAll(req.Body)
				require.NoError(t, err)
				var headers strings.Builder
				for k, vs := range req.Header {
					for _, v := range vs {
						fmt.Fprintf(&headers, "%s: %s\n", k, v)
					}
				}
				bodyFile, headersFile := writeFile(t, "body.json", string(body)), writeFile(t, "headers.txt", headers.String())
				r := runCmd(t, "", append([]string{"verify", "--intercom-secret", webhooktest.IntercomSecret, "--body", bodyFile, "--headers", headersFile}, tt.flags...)...)
				status := srv.postBytes(t, body, req.Header)
				if tt.ok[i] {
					require.Equal(t, exitOK, r.code, "age %v: %s%s", age, r.stdout, r.stderr)
					require.Equal(t, http.StatusOK, status, "age %v", age)
					continue
				}
				require.Equal(t, exitFail, r.code, "age %v: %s%s", age, r.stdout, r.stderr)
				require.Equal(t, http.StatusUnauthorized, status, "age %v", age)
				if age > 0 {
					// The flag's value and the notification's age (its
					// created_at has whole seconds), never the signature
					// or the body.
					require.Contains(t, r.stdout, "--intercom-max-age "+tt.max, "age %v", age)
					require.Regexp(t, regexp.MustCompile(`created_at \(`+strings.TrimSuffix(age.String(), "0s")+`[0-9]+s ago\)`), r.stdout, "age %v", age)
					require.NotContains(t, r.stdout, strings.TrimPrefix(req.Header.Get("X-Hub-Signature"), "sha1="))
					require.NotContains(t, r.stdout, "notif_")
				}
			}
		})
	}

	// --now measures the age from the time given.
	req := webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, []byte(noticeBody), webhooktest.WithTime(webhooktest.Time()))
	var headers strings.Builder
	for k := range req.Header {
		fmt.Fprintf(&headers, "%s: %s\n", k, req.Header.Get(k))
	}
	body, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	bodyFile, headersFile := writeFile(t, "body.json", string(body)), writeFile(t, "headers.txt", headers.String())
	at := webhooktest.Time().Add(2 * time.Hour).Format(time.RFC3339)
	for flag, want := range map[string]int{"1h": exitFail, "3h": exitOK} {
		r := runCmd(t, "", "verify", "--intercom-secret", webhooktest.IntercomSecret, "--body", bodyFile, "--headers", headersFile, "--now", at, "--intercom-max-age", flag)
		require.Equal(t, want, r.code, "--intercom-max-age %s: %s%s", flag, r.stdout, r.stderr)
		if want == exitFail {
			require.Contains(t, r.stdout, "created_at (2h0m0s before --now)")
			require.Contains(t, r.stdout, "--intercom-max-age 1h0m0s")
		}
	}
}

// TestIntercomMaxAgeFlagRefused: serve and verify refuse a max age that is
// not over the library's floor, naming the flag, where serve used to pass
// it on and fail with the library's message naming WithIntercomMaxAge.
func TestIntercomMaxAgeFlagRefused(t *testing.T) {
	clearEnv(t)
	body := writeFile(t, "body.json", noticeBody)
	headers := writeFile(t, "headers.txt", "X-Hub-Signature: sha1=00\n")
	for _, v := range []string{"4m59s", "0", "-1h"} {
		for _, args := range [][]string{
			{"serve", "--test-keys", "--addr", "127.0.0.1:0"},
			{"verify", "--intercom-secret", webhooktest.IntercomSecret, "--body", body, "--headers", headers},
		} {
			r := runCmd(t, "", append(args, "--intercom-max-age", v)...)
			require.Equal(t, exitUsage, r.code, "%s --intercom-max-age %s: %s", args[0], v, r.stderr)
			require.Contains(t, r.stderr, "--intercom-max-age must be at least 5m0s")
			require.NotContains(t, r.stderr, "WithIntercomMaxAge")
			require.NotContains(t, r.stderr, "listening on")
		}
	}
}

// TestMinIntercomMaxAgeIsTheLibrarys: the floor the flag is checked
// against is the one NewHandler holds a handler to.
func TestMinIntercomMaxAgeIsTheLibrarys(t *testing.T) {
	_, err := webhook.NewHandler(webhook.WithIntercomSecrets(webhooktest.IntercomSecret), webhook.WithIntercomMaxAge(minIntercomMaxAge))
	require.NoError(t, err)
	_, err = webhook.NewHandler(webhook.WithIntercomSecrets(webhooktest.IntercomSecret), webhook.WithIntercomMaxAge(minIntercomMaxAge-time.Second))
	require.Error(t, err)
}

// TestInspectorIntercomMaxAge: the inspector's verdict on a notification's
// age is the one serve's handler reached with the same --intercom-max-age:
// its age step fails where the handler answered 401, and passes where it
// answered 200. It checked the default max age whatever serve was told.
func TestInspectorIntercomMaxAge(t *testing.T) {
	clearEnv(t)
	srv := serveInProcess(t, "--test-keys", "--inspect=127.0.0.1:0", "--intercom-max-age", "1h")
	tests := []struct {
		age    time.Duration
		status int
		result string
	}{
		{30 * time.Minute, http.StatusOK, "pass"},
		{2 * time.Hour, http.StatusUnauthorized, "fail"},
		{80 * time.Hour, http.StatusUnauthorized, "fail"},
	}
	for i, tt := range tests {
		require.Equal(t, tt.status, srv.post(t, noticeAged(tt.age)), "age %v", tt.age)
		var d struct{ Verdict []verdictStep }
		require.Eventually(t, func() bool {
			resp, err := http.Get(fmt.Sprintf("%s/api/deliveries/%d", srv.page, i+1))
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			d.Verdict = nil
			return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&d) == nil && len(d.Verdict) > 0
		}, 10*time.Second, 20*time.Millisecond)
		steps := map[string]verdictStep{}
		for _, s := range d.Verdict {
			steps[s.Step] = s
		}
		require.Equal(t, tt.result, steps["age"].Result, "age %v: %+v", tt.age, d.Verdict)
		require.Contains(t, steps["age"].Detail, "1h0m0s", "age %v", tt.age)
		answered := "pass"
		if tt.status != http.StatusOK {
			answered = "fail"
		}
		require.Equal(t, answered, steps["answered"].Result, "age %v", tt.age)
	}
}

// TestVerifyIntercomTooOldSays: verify's "too old" names the timestamp the
// age was measured from, the age, and --intercom-max-age's value; for a
// notification with neither timestamp it says so. Never the signature or
// the body. It named the flag alone.
func TestVerifyIntercomTooOldSays(t *testing.T) {
	clearEnv(t)
	at := webhooktest.Time()
	tests := []struct {
		name, stamps string // the body's timestamps
		want         []string
	}{
		{name: "created_at", stamps: fmt.Sprintf(`"created_at":%d,`, at.Add(-3*time.Hour).Unix()),
			want: []string{"created_at (3h0m0s before --now)", "--intercom-max-age 2h0m0s"}},
		{name: "first_sent_at only", stamps: fmt.Sprintf(`"first_sent_at":%d,`, at.Add(-5*time.Hour).Unix()),
			want: []string{"first_sent_at (5h0m0s before --now)", "--intercom-max-age 2h0m0s"}},
		{name: "neither", want: []string{"neither created_at nor first_sent_at", "--intercom-max-age 2h0m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"type":"notification_event","app_id":"app_sekrit_body",` + tt.stamps + `"id":"notif_1","topic":"ping","data":{"item":{"type":"ping","message":"hi"}}}`
			req := webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, []byte(body))
			sig := req.Header.Get("X-Hub-Signature")
			bodyFile, headersFile := writeFile(t, "body.json", body), writeFile(t, "headers.txt", "X-Hub-Signature: "+sig+"\n")
			r := runCmd(t, "", "verify", "--intercom-secret", webhooktest.IntercomSecret, "--body", bodyFile, "--headers", headersFile,
				"--now", at.Format(time.RFC3339), "--intercom-max-age", "2h")
			require.Equal(t, exitFail, r.code, r.stdout+r.stderr)
			for _, w := range tt.want {
				require.Contains(t, r.stdout, w)
			}
			for _, s := range []string{strings.TrimPrefix(sig, "sha1="), "app_sekrit_body", "notif_1", webhooktest.IntercomSecret} {
				require.NotContains(t, r.stdout+r.stderr, s)
			}
		})
	}
}
