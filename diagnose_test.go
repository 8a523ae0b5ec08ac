package webhook_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// otherSecret and otherClientSecret are keys of the right kind that the
// handler is not configured with: the "wrong secret" of a real mistake.
const (
	otherSecret       = "whsec_b3RoZXItZW5kcG9pbnQtc2VjcmV0LW5vdC1vdXJz"
	otherClientSecret = "7d2e9a41-c3b8-4f50-9e61-28a4d7c0b3f5"
	accessToken       = "dG9rOjYxYmM0ZmQ3XzhkOWNfNDYxMl9hNmUyXzNlMjAwYTU0NWI3YjoxOjA="
)

// sent is one request as a sender sends it: over HTTP, so the server sets
// Content-Length as it would in production.
type sent struct {
	body   []byte            // the bytes on the wire
	header map[string]string // signature headers and any others
}

func signedJam(t *testing.T, secret string, body []byte, at time.Time) sent {
	t.Helper()
	id := webhooktest.MessageID(body)
	sig, err := webhooktest.SignStandard(secret, id, at, body)
	require.NoError(t, err)
	return sent{body: body, header: map[string]string{
		"Webhook-Id": id, "Webhook-Timestamp": strconv.FormatInt(at.Unix(), 10), "Webhook-Signature": sig, "Content-Type": "application/json",
	}}
}

func signedIntercom(secret string, body []byte) sent {
	return sent{body: body, header: map[string]string{
		"X-Hub-Signature": webhooktest.SignIntercom(secret, body), "Content-Type": "application/json",
	}}
}

// reencode is what a body-parsing middleware does: decode into a map and
// encode again, keys sorted, compact.
func reencode(t *testing.T, body []byte) []byte {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(body, &v))
	out, err := json.Marshal(v)
	require.NoError(t, err)
	return out
}

func gzipped(t *testing.T, body []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, err := zw.Write(body)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return b.Bytes()
}

// middleware wraps the handler as a user's stack would.
type middleware func(http.Handler) http.Handler

// drains reads the body for itself and leaves the request's drained.
func drains(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		next.ServeHTTP(w, r)
	})
}

// empties reads the body for itself and hands on an empty one, adjusting
// Request.ContentLength but not the header.
func empties(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body, r.ContentLength = http.NoBody, 0
		next.ServeHTTP(w, r)
	})
}

// lengthens hands on a longer body than the one sent, as a middleware
// that rewrites it does, keeping Request.ContentLength.
func lengthens(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		b = bytes.Replace(b, []byte("Dana"), []byte("Mallory"), 1)
		r.Body = io.NopCloser(bytes.NewReader(b))
		next.ServeHTTP(w, r)
	})
}

// reencodes parses the JSON body and hands on its re-encoding.
func reencodes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var v map[string]any
		if json.Unmarshal(b, &v) == nil {
			b, _ = json.Marshal(v)
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		next.ServeHTTP(w, r)
	})
}

// TestDiagnosisPerMistake has one row per mistake users make wiring a
// receiver. A mistake the constructors catch since the secret rules
// (issue 18) asserts their error; the others are served over HTTP through
// the middleware at fault and assert the status, the reason class and the
// hint, in the log line and in what OnError receives. No log line may
// hold a secret, a MAC, a received signature or the body.
func TestDiagnosisPerMistake(t *testing.T) {
	at := webhooktest.Time()
	both := []webhook.Option{webhook.WithSecrets(webhooktest.Secret), webhook.WithIntercomSecrets(webhooktest.IntercomSecret)}
	app, err := webhook.NewIntercomVerifier(webhooktest.IntercomSecret)
	require.NoError(t, err)
	perApp := []webhook.Option{webhook.WithKeyFunc(func(_ context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
		if hint.AppID == "x7k2p9m4" {
			return &webhook.Keys{Tenant: "app-x7k2p9m4", Intercom: app}, nil
		}
		return nil, nil
	})}
	longID := strings.Repeat("n", 300)
	tests := []struct {
		name string
		// A constructor mistake: the options and what the error says.
		opts      []webhook.Option
		construct string
		// A delivery mistake: what is sent, through which middleware, to
		// a handler at which clock offset.
		send    func(t *testing.T) sent
		through middleware
		skew    time.Duration
		status  int
		reason  webhook.Reason
		hint    webhook.Hint
		words   string // in the log line, besides the hint
	}{
		{name: "wrong Jam secret", opts: both, send: func(t *testing.T) sent { return signedJam(t, otherSecret, jamBody, at) },
			status: 401, reason: webhook.ReasonSignature, hint: webhook.HintCheckSecret, words: `"tried":"1 v1 against 1 HMAC key(s)"`},
		{name: "wrong Intercom client secret", opts: both, send: func(t *testing.T) sent { return signedIntercom(otherClientSecret, intercomBody) },
			status: 401, reason: webhook.ReasonSignature, hint: webhook.HintCheckSecret, words: `"tried":"1 X-Hub-Signature against 1 client secret(s)"`},
		{name: "Jam body re-encoded by a middleware", opts: both, through: reencodes,
			send:   func(t *testing.T) sent { return signedJam(t, webhooktest.Secret, jamBody, at) },
			status: 401, reason: webhook.ReasonSignature, hint: webhook.HintReencoded, words: "sorted order"},
		{name: "Intercom body re-encoded by a middleware", opts: both, through: reencodes,
			send:   func(t *testing.T) sent { return signedIntercom(webhooktest.IntercomSecret, intercomBody) },
			status: 401, reason: webhook.ReasonSignature, hint: webhook.HintReencoded, words: "sorted order"},
		{name: "Jam body re-encoded by the sender's proxy", opts: both,
			send: func(t *testing.T) sent {
				s := signedJam(t, webhooktest.Secret, jamBody, at)
				s.body = reencode(t, jamBody)
				return s
			},
			status: 401, reason: webhook.ReasonSignature, hint: webhook.HintReencoded, words: "sorted order"},
		{name: "body drained by a middleware", opts: both, through: drains,
			send:   func(t *testing.T) sent { return signedJam(t, webhooktest.Secret, jamBody, at) },
			status: 400, reason: webhook.ReasonOther, hint: webhook.HintEmptyBody, words: `"body_len":0`},
		{name: "body emptied by a middleware", opts: both, through: empties,
			send:   func(t *testing.T) sent { return signedJam(t, webhooktest.Secret, jamBody, at) },
			status: 401, reason: webhook.ReasonSignature, hint: webhook.HintEmptyBody, words: `"body_len":0`},
		{name: "body lengthened by a middleware", opts: both, through: lengthens,
			send:   func(t *testing.T) sent { return signedJam(t, webhooktest.Secret, jamBody, at) },
			status: 400, reason: webhook.ReasonOther, hint: webhook.HintLengthMismatch, words: "runs past its Content-Length " + strconv.Itoa(len(jamBody))},
		{name: "gzip-encoded body", opts: both,
			send: func(t *testing.T) sent {
				s := signedJam(t, webhooktest.Secret, jamBody, at)
				s.body, s.header["Content-Encoding"] = gzipped(t, jamBody), "gzip"
				return s
			},
			status: 401, reason: webhook.ReasonSignature, hint: webhook.HintCompressed, words: `"content_encoding":"gzip"`},
		{name: "clock 10 minutes ahead", opts: both, skew: 10 * time.Minute,
			send:   func(t *testing.T) sent { return signedJam(t, webhooktest.Secret, jamBody, at) },
			status: 401, reason: webhook.ReasonTooOld, hint: webhook.HintClockAhead, words: `"skew":"clock 10m ahead of the sender"`},
		{name: "clock 10 minutes behind", opts: both, skew: -10 * time.Minute,
			send:   func(t *testing.T) sent { return signedJam(t, webhooktest.Secret, jamBody, at) },
			status: 401, reason: webhook.ReasonTooNew, hint: webhook.HintClockBehind, words: `"skew":"clock 10m behind the sender"`},
		{name: "Intercom notification replayed long after", opts: both,
			send: func(t *testing.T) sent {
				return signedIntercom(webhooktest.IntercomSecret, webhooktest.StampIntercom(intercomBody, at.Add(-100*24*time.Hour)))
			},
			status: 401, reason: webhook.ReasonTooOld, hint: webhook.HintClockAhead, words: `"evidence":"created_at 2400h ago by this clock, past the max age 72h"`},
		{name: "Intercom notification from the future", opts: both,
			send: func(t *testing.T) sent {
				return signedIntercom(webhooktest.IntercomSecret, webhooktest.StampIntercom(intercomBody, at.Add(10*time.Minute)))
			},
			status: 401, reason: webhook.ReasonTooNew, hint: webhook.HintClockBehind, words: `"evidence":"created_at 10m ahead of this clock, past the 5m allowed"`},
		{name: "Intercom app_id in another case, keys per tenant", opts: perApp,
			send: func(t *testing.T) sent {
				return signedIntercom(webhooktest.IntercomSecret, webhooktest.StampIntercom(
					bytes.Replace(intercomBody, []byte(`"app_id":"x7k2p9m4"`), []byte(`"app_id":"x7k2p9m4","APP_ID":"q7k3zm2x"`), 1), at))
			},
			status: 401, reason: webhook.ReasonSignature, hint: webhook.HintCraftedBody,
			words: `"evidence":"2 top-level app_id keys, 1 in another case or escaped: the keys were chosen by the exact one, the notification decodes to the last in any case"`},
		{name: "Intercom id over 256 bytes", opts: both,
			send: func(t *testing.T) sent {
				return signedIntercom(webhooktest.IntercomSecret, webhooktest.StampIntercom(
					bytes.Replace(intercomBody, []byte(`"id":"notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c"`), []byte(`"id":"`+longID+`"`), 1), at))
			},
			status: 400, reason: webhook.ReasonDecode, hint: webhook.HintCraftedBody, words: `"evidence":"id 300 bytes long, past the 256 allowed"`},
		{name: "wrong Series token", opts: []webhook.Option{webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken)},
			send: func(t *testing.T) sent {
				return sent{body: seriesJSON, header: map[string]string{webhooktest.SeriesHeader: "series-token-of-another-workspace", "Content-Type": "application/json"}}
			},
			status: 401, reason: webhook.ReasonSignature, hint: webhook.HintCheckSecret, words: `"evidence":"the X-Series-Token header holds none of the configured tokens"`},
		{name: "Jam delivery to an Intercom-only handler", opts: []webhook.Option{webhook.WithIntercomSecrets(webhooktest.IntercomSecret)},
			send:   func(t *testing.T) sent { return signedJam(t, webhooktest.Secret, jamBody, at) },
			status: 401, reason: webhook.ReasonMissingHeaders, hint: webhook.HintSourceNotConfigured,
			words: "Standard Webhooks (Jam) headers, but the handler has no Standard Webhooks keys"},
		{name: "Intercom delivery to a Jam-only handler", opts: []webhook.Option{webhook.WithSecrets(webhooktest.Secret)},
			send:   func(t *testing.T) sent { return signedIntercom(webhooktest.IntercomSecret, intercomBody) },
			status: 401, reason: webhook.ReasonMissingHeaders, hint: webhook.HintSourceNotConfigured,
			words: "an Intercom X-Hub-Signature, but the handler has no Intercom client secrets"},
		{name: "Intercom access token as client secret", opts: []webhook.Option{webhook.WithIntercomSecrets(accessToken)},
			construct: "looks like an Intercom access token"},
		{name: "Jam secret given to Intercom", opts: []webhook.Option{webhook.WithIntercomSecrets(webhooktest.Secret)},
			construct: "looks like a Standard Webhooks (Jam) signing secret"},
		{name: "Intercom secret given to Jam", opts: []webhook.Option{webhook.WithSecrets(webhooktest.IntercomSecret)},
			construct: "looks like a UUID, the form of an Intercom client secret"},
		{name: "Jam secret with a trailing newline", opts: []webhook.Option{webhook.WithSecrets(webhooktest.Secret + "\n")},
			construct: "ends with a line break"},
		{name: "Jam secret with trailing spaces", opts: []webhook.Option{webhook.WithSecrets(webhooktest.Secret + "  ")},
			construct: "ends with whitespace"},
		{name: "Intercom secret with a trailing newline", opts: []webhook.Option{webhook.WithIntercomSecrets(webhooktest.IntercomSecret + "\n")},
			construct: "ends with a line break"},
		{name: "Intercom secret with trailing spaces", opts: []webhook.Option{webhook.WithIntercomSecrets(webhooktest.IntercomSecret + "  ")},
			construct: "ends with whitespace"},
		{name: "Series token with a trailing newline", opts: []webhook.Option{webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken+"\n")},
			construct: "ends with a line break"},
		{name: "Series token with trailing spaces", opts: []webhook.Option{webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken+"  ")},
			construct: "ends with whitespace"},
	}
	var allLogs strings.Builder
	forbidden := []string{
		webhooktest.Secret, strings.TrimPrefix(webhooktest.Secret, "whsec_"), otherSecret, strings.TrimPrefix(otherSecret, "whsec_"),
		webhooktest.IntercomSecret, otherClientSecret, accessToken, webhooktest.SeriesToken,
		"Checkout button does nothing", "dana@northwind.example", "215471234567890", "q7k3zm2x", longID[:64], // body content
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncBuffer{}
			var observed []webhook.Rejection
			var omu sync.Mutex
			opts := append([]webhook.Option{
				webhook.WithObserver(&webhook.Observer{Rejected: func(ctx context.Context, r webhook.Rejection) {
					omu.Lock()
					defer omu.Unlock()
					observed = append(observed, r)
				}}),
				webhook.WithClock(func() time.Time { return at.Add(tt.skew) }),
				webhook.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
			}, tt.opts...)
			h, err := webhook.NewHandler(opts...)
			if tt.construct != "" {
				require.ErrorIs(t, err, webhook.ErrInvalidSecret)
				require.ErrorContains(t, err, tt.construct)
				allLogs.WriteString(err.Error())
				return
			}
			require.NoError(t, err)
			var mu sync.Mutex
			var got []*webhook.HandlerError
			h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, err)
			})
			var served http.Handler = h
			if tt.through != nil {
				served = tt.through(h)
			}
			srv := httptest.NewServer(served)
			defer srv.Close()
			s := tt.send(t)
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/webhooks", bytes.NewReader(s.body))
			require.NoError(t, err)
			for k, v := range s.header {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, tt.status, resp.StatusCode)
			require.Equal(t, http.StatusText(tt.status)+"\n", string(answer), "the sender learns nothing of the diagnosis")

			mu.Lock()
			require.Len(t, got, 1)
			he := got[0]
			mu.Unlock()
			require.Equal(t, tt.reason, webhook.ReasonOf(he.Err))
			require.NotNil(t, he.Diagnosis)
			require.Equal(t, tt.hint, he.Diagnosis.Hint)
			require.NotEmpty(t, he.Diagnosis.Evidence)
			if id := s.header["Webhook-Id"]; id != "" {
				require.Equal(t, id, he.Diagnosis.MessageID)
			}

			omu.Lock()
			require.Len(t, observed, 1)
			require.Same(t, he.Diagnosis, observed[0].Diagnosis, "the observer sees the diagnosis OnError does")
			require.Equal(t, tt.reason, observed[0].Reason)
			omu.Unlock()

			line := logs.String()
			require.Equal(t, 1, strings.Count(line, "\n"), line)
			require.Contains(t, line, `"class":"`+string(tt.reason)+`"`)
			require.Contains(t, line, `"hint":"`+string(tt.hint)+`"`)
			require.Contains(t, line, tt.words)
			require.NotContains(t, line, "webhook: : ")
			if id := s.header["Webhook-Id"]; id != "" {
				require.Contains(t, line, `"id_unverified":"`+id+`"`)
			}
			if sig := s.header["Webhook-Signature"]; sig != "" {
				require.NotContains(t, line, strings.TrimPrefix(sig, "v1,"))
			}
			if sig := s.header["X-Hub-Signature"]; sig != "" {
				require.NotContains(t, line, strings.TrimPrefix(sig, "sha1="))
			}
			if token := s.header[webhooktest.SeriesHeader]; token != "" {
				require.NotContains(t, line, token)
			}
			allLogs.WriteString(line)
		})
	}
	// Computed MACs: what the configured keys give for the bodies sent.
	for _, b := range [][]byte{jamBody, reencode(t, jamBody)} {
		mac, err := webhooktest.SignStandard(webhooktest.Secret, webhooktest.MessageID(jamBody), at, b)
		require.NoError(t, err)
		forbidden = append(forbidden, mac[3:])
	}
	forbidden = append(forbidden, webhooktest.SignIntercom(webhooktest.IntercomSecret, intercomBody)[5:],
		webhooktest.SignIntercom(webhooktest.IntercomSecret, reencode(t, intercomBody))[5:])
	for _, f := range forbidden {
		require.NotContains(t, allLogs.String(), f)
	}
}

// TestTroubleshootingCoversHints checks that the README's troubleshooting
// table gives a fix for every hint.
func TestTroubleshootingCoversHints(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "## Troubleshooting: no matching signature")
	require.True(t, ok)
	section, _, _ = strings.Cut(section, "\n## ")
	for _, h := range []webhook.Hint{webhook.HintCheckSecret, webhook.HintCompressed, webhook.HintEmptyBody, webhook.HintLengthMismatch,
		webhook.HintReencoded, webhook.HintNotJSON, webhook.HintClockAhead, webhook.HintClockBehind, webhook.HintSourceNotConfigured, webhook.HintNoKeys,
		webhook.HintCraftedBody} {
		require.Contains(t, section, "| `"+string(h)+"` |", "no row for hint %s", h)
	}
}

// TestDiagnosisTried: a diagnosis counts the keys the signature entries
// were compared with only when they were: a request refused for its
// headers or its timestamp, before any MAC, says which entries it
// carried, not that they were tried.
func TestDiagnosisTried(t *testing.T) {
	ts := webhooktest.Time()
	std := func(opts ...webhooktest.RequestOption) *http.Request {
		return webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, opts...)
	}
	tests := []struct {
		name  string
		req   *http.Request
		is    error
		keys  int
		words string // the log line's account of the entries
	}{
		{"wrong key", webhooktest.NewStandardRequest(otherSecret, jamBody), webhook.ErrNoMatchingSignature, 1, `"tried":"1 v1 against 1 HMAC key(s)"`},
		{"wrong client secret", webhooktest.NewIntercomRequest(otherClientSecret, intercomBody), webhook.ErrNoMatchingSignature, 1, `"tried":"1 X-Hub-Signature against 1 client secret(s)"`},
		{"timestamp too old", std(webhooktest.WithTime(ts.Add(-10 * time.Minute))), webhook.ErrMessageTooOld, 0, `"entries":"1 v1, 0 v1a, 0 of other versions"`},
		{"timestamp too new", std(webhooktest.WithTime(ts.Add(10 * time.Minute))), webhook.ErrMessageTooNew, 0, `"entries":"1 v1, 0 v1a, 0 of other versions"`},
		{"timestamp not unix seconds", std(webhooktest.WithHeader("Webhook-Timestamp", "1795510800000")), webhook.ErrInvalidHeaders, 0, `"entries":"1 v1, 0 v1a, 0 of other versions"`},
		{"signature header empty", std(webhooktest.WithHeader("Webhook-Signature", "")), webhook.ErrRequiredHeaders, 0, `"body_len"`},
		{"malformed Intercom signature", webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, intercomBody, webhooktest.WithHeader("X-Hub-Signature", "sha1=zz")),
			webhook.ErrInvalidHeaders, 0, `"entries":"1 X-Hub-Signature"`},
		{"Intercom notification too old", webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, intercomBody, webhooktest.WithTime(ts.Add(-30*24*time.Hour))),
			webhook.ErrMessageTooOld, 0, `"entries":"1 X-Hub-Signature"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncBuffer{}
			h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
				webhook.WithClock(webhooktest.Time), webhook.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
			require.NoError(t, err)
			got := refused(t, h, tt.req, http.StatusUnauthorized)
			require.ErrorIs(t, got, tt.is)
			require.NotNil(t, got.Diagnosis)
			require.Equal(t, tt.keys, got.Diagnosis.Keys)
			require.Zero(t, got.Diagnosis.PublicKeys)
			require.Contains(t, logs.String(), tt.words)
			if tt.keys == 0 {
				require.NotContains(t, logs.String(), `"tried"`)
			}
		})
	}
}

// TestDiagnosisNoComparableEntry: when no signature entry is of a version
// the configured keys verify (v1a entries at a handler with HMAC keys
// only, v1 at one with public keys only, versions it does not know), no
// body could have verified, so the diagnosis names the keys, not what
// the body shows.
func TestDiagnosisNoComparableEntry(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	whpk := "whpk_" + base64.StdEncoding.EncodeToString(pub)
	v1a := func(body []byte) string {
		msg := webhooktest.MessageID(body) + "." + strconv.FormatInt(webhooktest.Unix, 10) + "." + string(body)
		return "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(msg)))
	}
	gz := gzipped(t, jamBody)
	sorted := reencode(t, jamBody)
	tests := []struct {
		name     string
		secrets  []string
		req      *http.Request
		hint     webhook.Hint
		evidence string
	}{
		{"v1a entry, HMAC keys only, compressed body", []string{webhooktest.Secret},
			webhooktest.NewStandardRequest(webhooktest.Secret, gz, webhooktest.WithHeader("Webhook-Signature", v1a(gz)), webhooktest.WithHeader("Content-Encoding", "gzip")),
			webhook.HintCheckSecret, "no signature entry of a version the configured keys verify"},
		{"v1a entry, HMAC keys only, re-encoded body", []string{webhooktest.Secret},
			webhooktest.NewStandardRequest(webhooktest.Secret, sorted, webhooktest.WithHeader("Webhook-Signature", v1a(jamBody))),
			webhook.HintCheckSecret, "no signature entry of a version the configured keys verify"},
		{"unknown versions only", []string{webhooktest.Secret},
			webhooktest.NewStandardRequest(webhooktest.Secret, sorted, webhooktest.WithHeader("Webhook-Signature", "v2,c2lnbmVk v3,c2lnbmVk")),
			webhook.HintCheckSecret, "no signature entry of a version the configured keys verify"},
		{"v1 entry, public keys only", []string{whpk},
			webhooktest.NewStandardRequest(webhooktest.Secret, jamBody),
			webhook.HintCheckSecret, "no signature entry of a version the configured keys verify"},
		{"v1 entry, HMAC key, compressed body", []string{webhooktest.Secret, whpk},
			webhooktest.NewStandardRequest(webhooktest.Secret, gz, webhooktest.WithHeader("Webhook-Signature", v1a(jamBody)+" "+mustSign(t, otherSecret, gz)),
				webhooktest.WithHeader("Content-Encoding", "gzip")),
			webhook.HintCompressed, "Content-Encoding gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := webhook.NewHandler(webhook.WithSecrets(tt.secrets...), webhook.WithClock(webhooktest.Time), webhook.WithLogger(slog.New(slog.DiscardHandler)))
			require.NoError(t, err)
			got := refused(t, h, tt.req, http.StatusUnauthorized)
			require.ErrorIs(t, got, webhook.ErrNoMatchingSignature)
			require.NotNil(t, got.Diagnosis)
			require.Equal(t, tt.hint, got.Diagnosis.Hint, got.Diagnosis.Evidence)
			require.Contains(t, got.Diagnosis.Evidence, tt.evidence)
		})
	}
}

func mustSign(t *testing.T, secret string, body []byte) string {
	t.Helper()
	sig, err := webhooktest.SignStandard(secret, webhooktest.MessageID(body), webhooktest.Time(), body)
	require.NoError(t, err)
	return sig
}

// FuzzDiagnosisHoldsNoSecrets holds every rejection's log line and
// Diagnosis to what they may carry: whatever the body, the received
// signature or token, and the mistake, neither holds a configured key or
// token, the MAC a key computes, the signature or token received, or the
// body's text.
func FuzzDiagnosisHoldsNoSecrets(f *testing.F) {
	f.Add([]byte("Checkout button does nothing"), []byte("0123456789abcdef0123456789abcdef"), uint8(0), int16(0))
	f.Add([]byte("dana@northwind.example"), []byte("sig"), uint8(1), int16(-700))
	f.Add([]byte("215471234567890"), []byte{}, uint8(2), int16(900))
	for m := uint8(3); m < 10; m++ {
		f.Add([]byte("a note of a customer"), []byte("another-token-of-theirs"), m, int16(0))
	}
	f.Fuzz(func(t *testing.T, payload, sig []byte, mode uint8, skew int16) {
		if len(payload) < 4 {
			return // too short for its text to tell
		}
		text := hex.EncodeToString(payload)
		body := []byte(`{"type":"notification_event","topic":"conversation.user.replied","created_at":` +
			strconv.FormatInt(webhooktest.Unix, 10) + `,"note":"` + text + `"}`)
		received := ""
		var r *http.Request
		opts := []webhook.Option{webhook.WithSecrets(webhooktest.Secret), webhook.WithIntercomSecrets(webhooktest.IntercomSecret)}
		switch mode % 10 {
		case 0: // another endpoint's secret
			r = webhooktest.NewStandardRequest(otherSecret, body)
		case 1: // a signature of the sender's choosing
			received = base64.StdEncoding.EncodeToString(sig)
			r = webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithHeader("Webhook-Signature", "v1,"+received))
		case 2: // compressed on the way
			r = webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithHeader("Content-Encoding", "gzip"))
			gz := gzipped(t, body)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(gz)), int64(len(gz))
		case 3: // cut short on the way
			r = webhooktest.NewStandardRequest(webhooktest.Secret, body)
			r.Body = io.NopCloser(bytes.NewReader(body[:len(body)/2]))
		case 4: // lengthened on the way
			r = webhooktest.NewStandardRequest(webhooktest.Secret, body)
			r.Body = io.NopCloser(bytes.NewReader(append(bytes.Clone(body), body...)))
		case 5: // another app's client secret
			r = webhooktest.NewIntercomRequest(otherClientSecret, body)
		case 6: // an Intercom signature of the sender's choosing
			received = hex.EncodeToString(sig)
			r = webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, body, webhooktest.WithHeader("X-Hub-Signature", "sha1="+received))
		case 7: // a Series token of the sender's choosing
			received = "tok-" + hex.EncodeToString(sig)
			r = webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, received, body)
		case 8: // keys per app, and a signed body whose app_id the decoding reads apart
			body = bytes.Replace(body, []byte(`"note":`), []byte(`"app_id":"x7k2p9m4","App_ID":"`+text+`","id":"notif_1","note":`), 1)
			r = webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, body)
			app, err := webhook.NewIntercomVerifier(webhooktest.IntercomSecret)
			require.NoError(t, err)
			opts = []webhook.Option{webhook.WithKeyFunc(func(_ context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
				if hint.AppID == "x7k2p9m4" {
					return &webhook.Keys{Tenant: "app-x7k2p9m4", Intercom: app}, nil
				}
				return nil, nil
			})}
		case 9: // a signed notification id past the bound
			body = bytes.Replace(body, []byte(`"note":`), []byte(`"id":"`+strings.Repeat(text, 257/len(text)+1)+`","note":`), 1)
			r = webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, body)
		}
		logs := &syncBuffer{}
		h, err := webhook.NewHandler(append(opts,
			webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken),
			webhook.WithClock(func() time.Time { return webhooktest.Time().Add(time.Duration(skew) * time.Second) }),
			webhook.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: dropTime}))))...)
		require.NoError(t, err)
		var dg *webhook.Diagnosis
		h.OnError(func(_ context.Context, _ *webhook.Delivery, err *webhook.HandlerError) { dg = err.Diagnosis })
		h.OnAny(func(context.Context, *webhook.Delivery, event.Event) error { return nil })
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			require.Equal(t, uint8(7), mode%10, "only a Series token of the sender's choosing can be the configured one")
			return
		}
		if m := mode % 10; m == 8 || m == 9 && skew > -300 {
			require.NotNil(t, dg, "mode %d: %d %s", m, w.Code, logs.String())
			require.Equal(t, webhook.HintCraftedBody, dg.Hint, "mode %d: %s", m, dg.Evidence)
		}
		out := logs.String() + fmt.Sprintf("%+v", dg)
		forbidden := []string{webhooktest.Secret, strings.TrimPrefix(webhooktest.Secret, "whsec_"), webhooktest.IntercomSecret, webhooktest.SeriesToken,
			mustSign(t, webhooktest.Secret, body)[3:], webhooktest.SignIntercom(webhooktest.IntercomSecret, body)[5:], text}
		if len(received) >= 8 {
			forbidden = append(forbidden, received)
		}
		for _, s := range forbidden {
			require.NotContains(t, out, s)
		}
	})
}

// dropTime leaves the log's clock out of a line whose text a test
// searches: its digits are not the request's.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

// refused serves req on h, requires the status code, and returns the
// HandlerError that OnError was given.
func refused(t *testing.T, h *webhook.Handler, req *http.Request, code int) *webhook.HandlerError {
	t.Helper()
	var got *webhook.HandlerError
	h.OnError(func(_ context.Context, _ *webhook.Delivery, err *webhook.HandlerError) { got = err })
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	require.Equal(t, code, w.Code)
	require.NotNil(t, got)
	return got
}
