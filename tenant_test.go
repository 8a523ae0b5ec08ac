package webhook_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/testwait"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// tenantRig is a handler whose key function serves tenants by path.
type tenantRig struct {
	h     *webhook.Handler
	logs  *syncBuffer
	mu    sync.Mutex
	seen  []string // tenant/id of each delivery the callbacks saw
	herrs []*webhook.HandlerError
	keys  map[string]*webhook.Keys
	fail  error
	calls int
}

func newTenantRig(t *testing.T, opts ...webhook.Option) *tenantRig {
	t.Helper()
	clock := webhooktest.NewClock(webhooktest.Time())
	tr := &tenantRig{logs: &syncBuffer{}, keys: map[string]*webhook.Keys{}}
	for name, secret := range map[string]string{"acme": webhooktest.Secret, "globex": otherSecret} {
		v, err := webhook.NewVerifier([]string{secret}, webhook.WithClock(clock.Now))
		require.NoError(t, err)
		tr.keys[name] = &webhook.Keys{Tenant: name, Standard: v}
	}
	h, err := webhook.NewHandler(append([]webhook.Option{
		webhook.WithClock(clock.Now),
		webhook.WithLogger(slog.New(slog.NewJSONHandler(tr.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		webhook.WithKeyFunc(func(ctx context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			tr.calls++
			if tr.fail != nil {
				return nil, tr.fail
			}
			return tr.keys[strings.TrimPrefix(hint.Path, "/hooks/")], nil
		}),
	}, opts...)...)
	require.NoError(t, err)
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		tr.seen = append(tr.seen, d.Tenant+"/"+d.ID+"/"+d.Key)
		return nil
	})
	h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		tr.herrs = append(tr.herrs, err)
	})
	tr.h = h
	return tr
}

func (tr *tenantRig) serve(t *testing.T, tenant, secret string, opts ...webhooktest.RequestOption) int {
	t.Helper()
	w := httptest.NewRecorder()
	tr.h.ServeHTTP(w, webhooktest.NewStandardRequest(secret, jamBody, append([]webhooktest.RequestOption{webhooktest.WithTarget("/hooks/" + tenant)}, opts...)...))
	return w.Code
}

func TestKeyFunc(t *testing.T) {
	tr := newTenantRig(t)
	// Each tenant's deliveries verify with its own key only.
	require.Equal(t, http.StatusOK, tr.serve(t, "acme", webhooktest.Secret))
	require.Equal(t, http.StatusUnauthorized, tr.serve(t, "acme", otherSecret))
	require.Equal(t, http.StatusOK, tr.serve(t, "globex", otherSecret), "the same message id, from another tenant")
	require.Equal(t, http.StatusUnauthorized, tr.serve(t, "globex", webhooktest.Secret))
	require.Equal(t, http.StatusOK, tr.serve(t, "acme", webhooktest.Secret), "a duplicate within a tenant")
	id := webhooktest.MessageID(jamBody)
	require.Equal(t, []string{"acme/" + id + "/standard@acme:" + id, "globex/" + id + "/standard@globex:" + id}, tr.seen)

	// An unknown tenant: 401, and the diagnosis says so.
	require.Equal(t, http.StatusUnauthorized, tr.serve(t, "initech", webhooktest.Secret))
	last := tr.herrs[len(tr.herrs)-1]
	require.ErrorIs(t, last.Err, webhook.ErrNoMatchingSignature)
	require.Equal(t, webhook.HintNoKeys, last.Diagnosis.Hint)

	// Rotation: the tenant's verifier takes new secrets at once.
	require.NoError(t, tr.keys["acme"].Standard.SetSecrets(otherSecret))
	require.Equal(t, http.StatusUnauthorized, tr.serve(t, "acme", webhooktest.Secret, webhooktest.WithID("msg_rot1")))
	require.Equal(t, http.StatusOK, tr.serve(t, "acme", otherSecret, webhooktest.WithID("msg_rot2")))
}

func TestKeyFuncErrors(t *testing.T) {
	tests := []struct {
		name string
		fail error
		keys *webhook.Keys
	}{
		{name: "lookup fails", fail: errors.New("secrets db: connection refused")},
		{name: "empty tenant", keys: &webhook.Keys{}},
		{name: "tenant with a colon", keys: &webhook.Keys{Tenant: "a:b"}},
		// An inbox keeping Meta as JSON (sqlitestore) would hand the
		// workers "caf\uFFFD" for it, and for "caf\xe8" too.
		{name: "tenant not UTF-8", keys: &webhook.Keys{Tenant: "caf\xe9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTenantRig(t)
			tr.fail = tt.fail
			if tt.keys != nil {
				tr.keys["acme"] = tt.keys
			}
			w := httptest.NewRecorder()
			tr.h.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithTarget("/hooks/acme")))
			require.Equal(t, http.StatusInternalServerError, w.Code)
			require.Equal(t, "Internal Server Error\n", w.Body.String(), "no detail for the sender")
			require.Len(t, tr.herrs, 1)
			require.ErrorIs(t, tr.herrs[0].Err, webhook.ErrKeyFunc)
			lines := parseLogs(t, tr.logs.String())
			require.Len(t, lines, 1)
			require.Equal(t, "ERROR", lines[0].Level)
			if tt.fail != nil {
				require.Contains(t, tr.logs.String(), "connection refused", "the cause is logged")
			}
			require.Empty(t, tr.seen)
		})
	}
}

func TestKeyFuncExcludesStaticKeys(t *testing.T) {
	fn := func(ctx context.Context, hint webhook.KeyHint) (*webhook.Keys, error) { return nil, nil }
	_, err := webhook.NewHandler(webhook.WithKeyFunc(fn), webhook.WithSecrets(webhooktest.Secret))
	require.Error(t, err)
	_, err = webhook.NewHandler(webhook.WithKeyFunc(fn), webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken))
	require.NoError(t, err)
}

// TestKeyFuncInbox checks that in inbox mode equal message ids from two
// tenants are stored apart and reach the callbacks with their tenant.
func TestKeyFuncInbox(t *testing.T) {
	ib := webhook.NewMemoryInbox(0, nil)
	tr := newTenantRig(t, webhook.WithInbox(ib))
	require.Equal(t, http.StatusOK, tr.serve(t, "acme", webhooktest.Secret))
	require.Equal(t, http.StatusOK, tr.serve(t, "globex", otherSecret))
	require.Equal(t, http.StatusOK, tr.serve(t, "globex", otherSecret), "a duplicate within a tenant")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.h.Run(ctx) }()
	require.Eventually(t, func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return len(tr.seen) >= 2
	}, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, testwait.Recv(t, done, "Run's return"))
	id := webhooktest.MessageID(jamBody)
	require.ElementsMatch(t, []string{"acme/" + id + "/standard@acme:" + id, "globex/" + id + "/standard@globex:" + id}, tr.seen)
}

// TestKeyFuncInboxTenantFull: in inbox mode, a tenant whose deliveries
// pile up pending (no worker runs here) is answered 503 with Retry-After
// once it holds its share of the MemoryInbox (half, beside another
// tenant), while the other tenant's deliveries are still stored: one
// tenant filled the inbox, and every tenant was refused.
func TestKeyFuncInboxTenantFull(t *testing.T) {
	ib := webhook.NewMemoryInbox(10, nil)
	tr := newTenantRig(t, webhook.WithInbox(ib))
	send := func(tenant, secret, id string) *httptest.ResponseRecorder {
		t.Helper()
		w := httptest.NewRecorder()
		tr.h.ServeHTTP(w, webhooktest.NewStandardRequest(secret, jamBody, webhooktest.WithTarget("/hooks/"+tenant), webhooktest.WithID(id)))
		return w
	}
	require.Equal(t, http.StatusOK, send("globex", otherSecret, "msg_first").Code)
	for i := range 5 {
		require.Equal(t, http.StatusOK, send("acme", webhooktest.Secret, fmt.Sprint("msg_", i)).Code, "acme's delivery %d", i)
	}
	w := send("acme", webhooktest.Secret, "msg_5")
	require.Equal(t, http.StatusServiceUnavailable, w.Code, "acme past its share")
	require.NotEmpty(t, w.Header().Get("Retry-After"))
	require.Contains(t, tr.logs.String(), `tenant \"acme\" has 5 deliveries waiting`)
	require.Equal(t, http.StatusOK, send("acme", webhooktest.Secret, "msg_0").Code, "a duplicate is still acknowledged")
	for i := range 4 {
		require.Equal(t, http.StatusOK, send("globex", otherSecret, fmt.Sprint("msg_", i)).Code, "globex's delivery %d, beside acme's pile", i)
	}
	st, err := ib.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, 10, st.Pending)
}

// TestKeyFuncIntercomAppID: the key function picks an Intercom app's keys
// by the app_id it is shown, read before verification; the callbacks must
// then see that same app_id in the notification. A tenant signs its own
// bodies, so without the check it could sign one whose app_id the key
// lookup reads as its own but encoding/json decodes as another app's (a
// key in other case, an escaped key, a repeated key), and the callbacks
// would take it for that app's.
func TestKeyFuncIntercomAppID(t *testing.T) {
	const ownSecret, victimSecret = "6d1f0a3b-2c4e-4f7a-9b8c-5e6d7f8a9b0c", "0b7c5d2e-8f41-4a96-b3e0-c7d1f5a29e84"
	apps := map[string]*webhook.Keys{}
	for app, secret := range map[string]string{"own1app": ownSecret, "victim1": victimSecret} {
		v, err := webhook.NewIntercomVerifier(secret)
		require.NoError(t, err)
		apps[app] = &webhook.Keys{Tenant: "intercom-" + app, Intercom: v}
	}
	clock := webhooktest.NewClock(webhooktest.Time())
	h, err := webhook.NewHandler(webhook.WithClock(clock.Now), webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithKeyFunc(func(ctx context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
			if app, ok := strings.CutPrefix(hint.Path, "/apps/"); ok {
				return apps[app], nil
			}
			return apps[hint.AppID], nil
		}))
	require.NoError(t, err)
	var got *webhook.HandlerError
	h.OnError(func(_ context.Context, _ *webhook.Delivery, err *webhook.HandlerError) { got = err })
	var seen []string
	h.OnIntercom("*", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		seen = append(seen, d.Tenant+" "+n.AppID)
		return nil
	})
	envelope := func(appIDs string, id string) []byte {
		return []byte(`{"type":"notification_event",` + appIDs + `,"id":"` + id + `","topic":"conversation.user.replied",` +
			`"created_at":1795510790,"delivery_attempts":1,"data":{"item":{"type":"conversation","id":"215471234567890"}}}`)
	}
	// A refused one is diagnosed: which app_id keys the body holds, by
	// count, not by value.
	tests := []struct {
		name     string
		secret   string
		path     string // the keys are chosen by it when set, else by app_id
		body     []byte
		want     int
		hint     webhook.Hint
		evidence string
	}{
		{"own app", ownSecret, "", envelope(`"app_id":"own1app"`, "notif_1"), http.StatusOK, "", ""},
		{"victim app", victimSecret, "", envelope(`"app_id":"victim1"`, "notif_2"), http.StatusOK, "", ""},
		{"key in other case after", ownSecret, "", envelope(`"app_id":"own1app","APP_ID":"victim1"`, "notif_3"), http.StatusUnauthorized,
			webhook.HintCraftedBody, "2 top-level app_id keys, 1 in another case or escaped: the keys were chosen by the exact one, the notification decodes to the last in any case"},
		{"escaped key after", ownSecret, "", envelope(`"app_id":"own1app","app\u005fid":"victim1"`, "notif_4"), http.StatusUnauthorized,
			webhook.HintCraftedBody, "2 top-level app_id keys, 1 in another case or escaped: the keys were chosen by the exact one, the notification decodes to the last in any case"},
		{"only a key in other case", ownSecret, "", envelope(`"App_Id":"victim1"`, "notif_5"), http.StatusUnauthorized,
			webhook.HintNoKeys, "no tenant for this request"},
		{"only a key in other case, keys by path", ownSecret, "/apps/own1app", envelope(`"App_Id":"victim1"`, "notif_6"), http.StatusUnauthorized,
			webhook.HintCraftedBody, "1 top-level app_id key, in another case or escaped: the keys were chosen with no app_id, the notification decodes to one"},
		{"keys in other case only, keys by path", ownSecret, "/apps/own1app", envelope(`"App_Id":"victim1","APP_ID":"victim1"`, "notif_7"), http.StatusUnauthorized,
			webhook.HintCraftedBody, "2 top-level app_id keys, 2 in another case or escaped: the keys were chosen with no app_id, the notification decodes to one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			var opts []webhooktest.RequestOption
			if tt.path != "" {
				opts = append(opts, webhooktest.WithTarget(tt.path))
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, webhooktest.NewIntercomRequest(tt.secret, tt.body, opts...))
			require.Equal(t, tt.want, w.Code)
			if tt.want == http.StatusOK {
				return
			}
			require.NotNil(t, got)
			require.ErrorIs(t, got, webhook.ErrNoMatchingSignature)
			require.NotNil(t, got.Diagnosis)
			require.Equal(t, tt.hint, got.Diagnosis.Hint, got.Diagnosis.Evidence)
			require.Equal(t, tt.evidence, got.Diagnosis.Evidence)
			require.Equal(t, len(tt.body), got.Diagnosis.BodyLen)
			require.Equal(t, 1, got.Diagnosis.V1)
			require.Zero(t, got.Diagnosis.Keys, "the signature matched: no keys were tried in vain")
			require.NotContains(t, fmt.Sprintf("%+v", got.Diagnosis), "victim1")
		})
	}
	require.Equal(t, []string{"intercom-own1app own1app", "intercom-victim1 victim1"}, seen,
		"a notification reaches the callbacks only with the app_id its keys were chosen by")
}

// TestZeroVerifiers: a verifier not built by its constructor holds no
// keys. It verifies nothing and panics on nothing: Verify refuses every
// delivery, the With…Verifier options refuse it, and a key function
// returning one gets 500 (ErrKeyFunc, unusable keys), so the sender
// retries once the keys are fixed. Each used to panic on the first
// delivery.
func TestZeroVerifiers(t *testing.T) {
	jam := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)
	body := webhooktest.StampIntercom(intercomBody, webhooktest.Time())
	ic := webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, body)
	_, _, err := (&webhook.Verifier{}).Verify(jamBody, jam.Header)
	require.ErrorIs(t, err, webhook.ErrNoMatchingSignature)
	var set webhook.Verifier // given keys, but no clock nor window
	require.NoError(t, set.SetSecrets(webhooktest.Secret))
	_, _, err = set.Verify(jamBody, jam.Header)
	require.ErrorIs(t, err, webhook.ErrNoMatchingSignature)
	require.ErrorIs(t, (&webhook.IntercomVerifier{}).Verify(body, ic.Header), webhook.ErrNoMatchingSignature)
	series := webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, seriesJSON)
	require.ErrorIs(t, (&webhook.SeriesVerifier{}).Verify(series.Header), webhook.ErrNoMatchingSignature)

	for _, opt := range []webhook.Option{
		webhook.WithVerifier(&webhook.Verifier{}),
		webhook.WithIntercomVerifier(&webhook.IntercomVerifier{}),
		webhook.WithSeriesVerifier(&webhook.SeriesVerifier{}),
	} {
		_, err := webhook.NewHandler(opt)
		require.Error(t, err)
	}

	h, err := webhook.NewHandler(webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithKeyFunc(func(ctx context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
			return &webhook.Keys{Tenant: "acme", Standard: &webhook.Verifier{}, Intercom: &webhook.IntercomVerifier{}}, nil
		}))
	require.NoError(t, err)
	var herrs []*webhook.HandlerError
	h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) { herrs = append(herrs, err) })
	for _, req := range []*http.Request{
		webhooktest.NewStandardRequest(webhooktest.Secret, jamBody),
		webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, body),
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		require.Equal(t, http.StatusInternalServerError, w.Code)
	}
	require.Len(t, herrs, 2)
	for _, herr := range herrs {
		require.ErrorIs(t, herr, webhook.ErrKeyFunc)
	}
}

// TestReportsHoldNoSecrets extends TestHandlerLogsNoSecrets to the paths
// it does not take: a key function's tenants (no keys, an app_id that
// does not match), v1a entries, svix-* headers, a Series token header too
// long, a form body that does not decode, a body short of its
// Content-Length; and to every report of a rejection, not only the log:
// the error hook's HandlerError and Diagnosis, and the observer's
// Rejection. None may hold a secret, a computed MAC, a received signature
// or the body.
func TestReportsHoldNoSecrets(t *testing.T) {
	const appSecret, wrongAppSecret = "6d1f0a3b-2c4e-4f7a-9b8c-5e6d7f8a9b0c", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	var seed [32]byte
	copy(seed[:], "a seed for a v1a key, not secret")
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := "whpk_" + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
	clock := webhooktest.NewClock(webhooktest.Time())
	std, err := webhook.NewVerifier([]string{webhooktest.Secret, pub}, webhook.WithClock(clock.Now))
	require.NoError(t, err)
	app, err := webhook.NewIntercomVerifier(appSecret)
	require.NoError(t, err)
	logs := &syncBuffer{}
	var reports strings.Builder
	var mu sync.Mutex
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(&reports, format+"\n", args...)
	}
	h, err := webhook.NewHandler(
		webhook.WithClock(clock.Now),
		webhook.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken),
		webhook.WithObserver(&webhook.Observer{Rejected: func(ctx context.Context, r webhook.Rejection) {
			report("rejection %d %s %v %+v", r.Status, r.Reason, r.Err, r.Diagnosis)
		}}),
		webhook.WithKeyFunc(func(ctx context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
			switch {
			case hint.Path == "/hooks/acme":
				return &webhook.Keys{Tenant: "acme", Standard: std}, nil
			case hint.AppID == "x7k2p9m4":
				return &webhook.Keys{Tenant: "app", Intercom: app}, nil
			}
			return nil, nil
		}))
	require.NoError(t, err)
	h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) {
		report("hook %v %+v", err, err.Diagnosis)
	})
	h.OnAny(func(ctx context.Context, d *webhook.Delivery, e event.Event) error {
		t.Errorf("a rejected request reached a callback: %s", e.EventType())
		return nil
	})

	wrong := "whsec_d3Jvbmcta2V5LXNob3VsZC1uZXZlci1iZS1sb2dnZWQ="
	id := webhooktest.MessageID(jamBody)
	sign := func(secret string, ts time.Time, body []byte) string {
		s, err := webhooktest.SignStandard(secret, id, ts, body)
		require.NoError(t, err)
		return s
	}
	v1a := "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(id+".1.")))
	acme := webhooktest.WithTarget("/hooks/acme")
	icBody := webhooktest.StampIntercom(intercomBody, webhooktest.Time())
	mismatched := bytes.Replace(icBody, []byte(`"app_id":"x7k2p9m4"`), []byte(`"app_id":"x7k2p9m4","APP_ID":"q7k3zm2x"`), 1)
	short := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, acme)
	short.Body = io.NopCloser(bytes.NewReader(jamBody[:len(jamBody)/2]))
	longToken := strings.Repeat("a-long-series-token-", 300)
	withV1a := webhooktest.NewStandardRequest(wrong, jamBody, acme)
	withV1a.Header.Set("Webhook-Signature", withV1a.Header.Get("Webhook-Signature")+" "+v1a)
	reqs := []*http.Request{
		withV1a,
		webhooktest.NewStandardRequest(wrong, jamBody, acme, webhooktest.WithSvixHeaders()),
		webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, acme, webhooktest.WithTime(webhooktest.Time().Add(-time.Hour))),
		webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithTarget("/hooks/initech")),
		webhooktest.NewStandardRequest(webhooktest.Secret, []byte(`{"jamId":"unterminated-secret-value`), acme),
		short,
		webhooktest.NewIntercomRequest(wrongAppSecret, icBody),
		webhooktest.NewIntercomRequest(appSecret, mismatched),
		webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, "wrong-series-token-0123", seriesJSON),
		webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, longToken, seriesJSON),
		webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, []byte("name=Dana%zz+Okafor&company=Northwind"),
			webhooktest.WithContentType("application/x-www-form-urlencoded")),
	}
	var responses strings.Builder
	for _, req := range reqs {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		require.NotEqual(t, http.StatusOK, w.Code, "%s %s", req.URL, req.Header)
		responses.WriteString(w.Body.String())
	}
	all := logs.String() + reports.String() + responses.String()
	require.Equal(t, len(reqs), strings.Count(reports.String(), "rejection "), "every request is rejected once")
	require.Equal(t, len(reqs), strings.Count(reports.String(), "hook "))
	require.Contains(t, reports.String(), "V1:1 V1a:1 OtherEntries:0 Keys:1 PublicKeys:1", "the v1a entry was tried")
	require.Contains(t, reports.String(), "rejection 400 decode webhook: invalid form body", "a body that does not decode is a decode rejection")
	forbidden := []string{
		webhooktest.Secret, strings.TrimPrefix(webhooktest.Secret, "whsec_"), wrong, strings.TrimPrefix(wrong, "whsec_"),
		base64.StdEncoding.EncodeToString(seed[:]), string(seed[:]),
		appSecret, wrongAppSecret, webhooktest.SeriesToken, "wrong-series-token", longToken[:64],
		sign(webhooktest.Secret, webhooktest.Time(), jamBody)[3:], sign(wrong, webhooktest.Time(), jamBody)[3:], v1a[4:],
		webhooktest.SignIntercom(appSecret, icBody)[5:], webhooktest.SignIntercom(wrongAppSecret, icBody)[5:],
		webhooktest.SignIntercom(appSecret, mismatched)[5:],
		"Checkout button does nothing", "unterminated-secret-value", "Dana", "Okafor", "Northwind", "215471234567890",
	}
	for _, s := range forbidden {
		require.NotContains(t, all, s)
	}
}

// lookupError is a key function's own error type, with a pointer
// receiver that reads its fields, as most do.
type lookupError struct{ table string }

func (e *lookupError) Error() string { return "lookup in " + e.table + " failed" }

// panickyError is an error whose Error method panics.
type panickyError struct{}

func (panickyError) Error() string { panic("an Error method that panics") }

// TestKeyFuncMisbehaves: whatever the key function does (panic, return
// an error that cannot be read, keys and an error, keys of the wrong kind
// or another tenant's, wait until the sender hangs up), the request gets
// the status the README's table gives, no callback runs, nothing panics
// out of ServeHTTP, and nothing a secret is reaches the logs, the error
// hook or the sender.
func TestKeyFuncMisbehaves(t *testing.T) {
	acme, err := webhook.NewVerifier([]string{webhooktest.Secret}, webhook.WithClock(webhooktest.NewClock(webhooktest.Time()).Now))
	require.NoError(t, err)
	globex, err := webhook.NewVerifier([]string{otherSecret}, webhook.WithClock(webhooktest.NewClock(webhooktest.Time()).Now))
	require.NoError(t, err)
	var seed [32]byte
	copy(seed[:], "a seed for a v1a key, not secret")
	pub := "whpk_" + base64.StdEncoding.EncodeToString(ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey))
	pubOnly, err := webhook.NewVerifier([]string{pub}, webhook.WithClock(webhooktest.NewClock(webhooktest.Time()).Now))
	require.NoError(t, err)
	app, err := webhook.NewIntercomVerifier(webhooktest.IntercomSecret)
	require.NoError(t, err)
	tests := []struct {
		name   string
		fn     webhook.KeyFunc
		cancel bool // the sender hangs up while the key function runs
		want   int
		is     error
		hint   webhook.Hint
	}{
		{name: "panics with a string", want: http.StatusInternalServerError, is: webhook.ErrKeyFunc,
			fn: func(context.Context, webhook.KeyHint) (*webhook.Keys, error) { panic("assignment to entry in nil map") }},
		{name: "panics with an error", want: http.StatusInternalServerError, is: webhook.ErrKeyFunc,
			fn: func(context.Context, webhook.KeyHint) (*webhook.Keys, error) { panic(errors.New("cache: closed")) }},
		{name: "panics with nil", want: http.StatusInternalServerError, is: webhook.ErrKeyFunc,
			fn: func(context.Context, webhook.KeyHint) (*webhook.Keys, error) { panic(nil) }},
		{name: "returns a typed nil error", want: http.StatusInternalServerError, is: webhook.ErrKeyFunc,
			fn: func(context.Context, webhook.KeyHint) (*webhook.Keys, error) {
				var err *lookupError // nil, but not a nil error
				return nil, err
			}},
		{name: "returns an error whose Error panics", want: http.StatusInternalServerError, is: webhook.ErrKeyFunc,
			fn: func(context.Context, webhook.KeyHint) (*webhook.Keys, error) { return nil, panickyError{} }},
		{name: "returns a PanicError it did not panic with", want: http.StatusInternalServerError, is: webhook.ErrKeyFunc,
			fn: func(context.Context, webhook.KeyHint) (*webhook.Keys, error) {
				return nil, &webhook.PanicError{Value: "a callback's, kept"}
			}},
		{name: "returns keys and an error", want: http.StatusInternalServerError, is: webhook.ErrKeyFunc,
			fn: func(context.Context, webhook.KeyHint) (*webhook.Keys, error) {
				return &webhook.Keys{Tenant: "acme", Standard: acme}, &lookupError{table: "tenants"}
			}},
		{name: "waits until the sender hangs up", cancel: true, want: http.StatusInternalServerError, is: webhook.ErrKeyFunc,
			fn: func(ctx context.Context, _ webhook.KeyHint) (*webhook.Keys, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}},
		{name: "keys of no verifier", want: http.StatusUnauthorized, is: webhook.ErrNoMatchingSignature, hint: webhook.HintNoKeys,
			fn: func(context.Context, webhook.KeyHint) (*webhook.Keys, error) {
				return &webhook.Keys{Tenant: "acme"}, nil
			}},
		{name: "only the other source's keys", want: http.StatusUnauthorized, is: webhook.ErrNoMatchingSignature, hint: webhook.HintNoKeys,
			fn: func(context.Context, webhook.KeyHint) (*webhook.Keys, error) {
				return &webhook.Keys{Tenant: "acme", Intercom: app}, nil
			}},
		{name: "only a v1a public key for a v1 delivery", want: http.StatusUnauthorized, is: webhook.ErrNoMatchingSignature, hint: webhook.HintCheckSecret,
			fn: func(context.Context, webhook.KeyHint) (*webhook.Keys, error) {
				return &webhook.Keys{Tenant: "acme", Standard: pubOnly}, nil
			}},
		{name: "another tenant's keys", want: http.StatusUnauthorized, is: webhook.ErrNoMatchingSignature, hint: webhook.HintCheckSecret,
			fn: func(context.Context, webhook.KeyHint) (*webhook.Keys, error) {
				return &webhook.Keys{Tenant: "globex", Standard: globex}, nil
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncBuffer{}
			var rejections []webhook.Rejection
			h, err := webhook.NewHandler(webhook.WithKeyFunc(tt.fn),
				webhook.WithObserver(&webhook.Observer{Rejected: func(ctx context.Context, r webhook.Rejection) { rejections = append(rejections, r) }}),
				webhook.WithClock(webhooktest.NewClock(webhooktest.Time()).Now),
				webhook.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			require.NoError(t, err)
			h.OnAny(func(ctx context.Context, d *webhook.Delivery, e event.Event) error {
				t.Errorf("a delivery reached a callback with tenant %q", d.Tenant)
				return nil
			})
			var herrs []*webhook.HandlerError
			h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) { herrs = append(herrs, err) })
			req := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithTarget("/hooks/acme"))
			if tt.cancel {
				ctx, cancel := context.WithTimeout(req.Context(), 20*time.Millisecond)
				defer cancel()
				req = req.WithContext(ctx)
			}
			w := httptest.NewRecorder()
			require.NotPanics(t, func() { h.ServeHTTP(w, req) })
			require.Equal(t, tt.want, w.Code)
			require.Equal(t, http.StatusText(tt.want)+"\n", w.Body.String(), "no detail for the sender")
			require.Len(t, herrs, 1)
			require.ErrorIs(t, herrs[0], tt.is)
			// A key function's failure has a reason of its own, for the
			// rejection metrics.
			require.Len(t, rejections, 1)
			require.Equal(t, tt.is == webhook.ErrKeyFunc, rejections[0].Reason == webhook.ReasonKeyFunc, "reason %s", rejections[0].Reason)
			require.Equal(t, rejections[0].Reason, webhook.ReasonOf(herrs[0].Err), "ReasonOf agrees with the reason reported")
			var pe *webhook.PanicError
			require.Equal(t, strings.HasPrefix(tt.name, "panics") || strings.Contains(tt.name, "PanicError"), errors.As(herrs[0], &pe), "a panic is reported as one")
			require.Equal(t, strings.HasPrefix(tt.name, "panics"), strings.Contains(herrs[0].Error(), "webhook: key function failed: panicked: "),
				"only a panic reads as one: %v", herrs[0])
			if strings.HasPrefix(tt.name, "panics") {
				require.Contains(t, logs.String(), `"stack":"goroutine `, "the stack is logged, as a callback's is")
			}
			msg := ""
			require.NotPanics(t, func() { msg = herrs[0].Error() }, "the error hook's error can be read")
			if tt.hint != "" {
				require.NotNil(t, herrs[0].Diagnosis)
				require.Equal(t, tt.hint, herrs[0].Diagnosis.Hint, herrs[0].Diagnosis.Evidence)
			}
			lines := parseLogs(t, logs.String())
			require.Len(t, lines, 1)
			if tt.want >= 500 {
				require.Equal(t, "ERROR", lines[0].Level)
			}
			all := logs.String() + msg + fmt.Sprintf("%+v", herrs[0].Diagnosis)
			sig := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody).Header.Get("Webhook-Signature")
			for _, s := range []string{webhooktest.Secret, strings.TrimPrefix(webhooktest.Secret, "whsec_"), otherSecret,
				webhooktest.IntercomSecret, sig[3:], "Checkout button"} {
				require.NotContains(t, all, s)
			}
		})
	}
}

// TestCrossTenantForgery: someone holding one tenant's key (the tenant
// itself, say, which signs its own test deliveries) tries to have a
// delivery processed, deduplicated or stored as another tenant's. The
// key function is the README's: Jam tenants by path, Intercom apps by
// app_id, and for the last rows Intercom apps by path. Every attempt is
// refused, or runs as the signer's own tenant in its own namespace: it
// never marks the victim's message ids as processed, so the victim's
// real deliveries of the same ids still run.
func TestCrossTenantForgery(t *testing.T) {
	const acmeApp, globexApp = "6d1f0a3b-2c4e-4f7a-9b8c-5e6d7f8a9b0c", "0b7c5d2e-8f41-4a96-b3e0-c7d1f5a29e84"
	clock := webhooktest.NewClock(webhooktest.Time())
	keys := map[string]*webhook.Keys{}
	for name, secrets := range map[string][2]string{"acme": {webhooktest.Secret, acmeApp}, "globex": {otherSecret, globexApp}} {
		std, err := webhook.NewVerifier([]string{secrets[0]}, webhook.WithClock(clock.Now))
		require.NoError(t, err)
		app, err := webhook.NewIntercomVerifier(secrets[1])
		require.NoError(t, err)
		keys[name] = &webhook.Keys{Tenant: name, Standard: std, Intercom: app}
	}
	type run struct{ tenant, key, appID string }
	var runs []run
	h, err := webhook.NewHandler(webhook.WithClock(clock.Now), webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithKeyFunc(func(ctx context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
			if tenant, ok := strings.CutPrefix(hint.Path, "/hooks/"); ok {
				return keys[tenant], nil
			}
			return keys[hint.AppID], nil
		}))
	require.NoError(t, err)
	h.OnAny(func(ctx context.Context, d *webhook.Delivery, e event.Event) error {
		r := run{tenant: d.Tenant, key: d.Key}
		if n, ok := e.(*event.IntercomNotification); ok {
			r.appID = n.AppID
		}
		runs = append(runs, r)
		return nil
	})
	notification := func(appID, id string) []byte {
		return []byte(`{"type":"notification_event","app_id":"` + appID + `","id":"` + id + `","topic":"conversation.user.replied",` +
			`"created_at":1795510790,"delivery_attempts":1,"data":{"item":{"type":"conversation","id":"215471234567890"}}}`)
	}
	jam := func(secret, path, id string) *http.Request {
		return webhooktest.NewStandardRequest(secret, jamBody, webhooktest.WithTarget(path), webhooktest.WithID(id))
	}
	tests := []struct {
		name string
		req  *http.Request
		want int
		run  *run // the callbacks' run, if any
	}{
		{"Jam: acme's key on globex's path", jam(webhooktest.Secret, "/hooks/globex", "msg_1"), 401, nil},
		{"Jam: acme's key on acme's path, a message id of globex's", jam(webhooktest.Secret, "/hooks/acme", "msg_1"), 200,
			&run{tenant: "acme", key: "standard@acme:msg_1"}},
		{"Jam: an id holding globex's dedupe key", jam(webhooktest.Secret, "/hooks/acme", "globex:msg_1"), 200,
			&run{tenant: "acme", key: "standard@acme:globex:msg_1"}},
		{"Jam: an id of ':' and globex's name", jam(webhooktest.Secret, "/hooks/acme", ":globex:msg_1"), 200,
			&run{tenant: "acme", key: "standard@acme::globex:msg_1"}},
		{"Jam: globex's own delivery still runs", jam(otherSecret, "/hooks/globex", "msg_1"), 200,
			&run{tenant: "globex", key: "standard@globex:msg_1"}},
		{"Intercom: acme's key, globex's app_id", webhooktest.NewIntercomRequest(acmeApp, notification("globex", "notif_1")), 401, nil},
		{"Intercom: acme's key and app_id, a notification id of globex's", webhooktest.NewIntercomRequest(acmeApp, notification("acme", "notif_1")), 200,
			&run{tenant: "acme", key: "intercom@acme:notif_1", appID: "acme"}},
		{"Intercom: an id holding globex's dedupe key", webhooktest.NewIntercomRequest(acmeApp, notification("acme", "globex:notif_1")), 200,
			&run{tenant: "acme", key: "intercom@acme:globex:notif_1", appID: "acme"}},
		{"Intercom: globex's own notification still runs", webhooktest.NewIntercomRequest(globexApp, notification("globex", "notif_1")), 200,
			&run{tenant: "globex", key: "intercom@globex:notif_1", appID: "globex"}},
		{"Intercom by path: acme's key on globex's path", webhooktest.NewIntercomRequest(acmeApp, notification("globex", "notif_2"),
			webhooktest.WithTarget("/hooks/globex")), 401, nil},
		// Keys chosen by path verify the tenant, not the body's app_id:
		// the callbacks must go by Delivery.Tenant (KeyHint.AppID's doc).
		{"Intercom by path: acme's key on acme's path, globex's app_id", webhooktest.NewIntercomRequest(acmeApp, notification("globex", "notif_2"),
			webhooktest.WithTarget("/hooks/acme")), 200, &run{tenant: "acme", key: "intercom@acme:notif_2", appID: "globex"}},
		{"Intercom by path: globex's own notification still runs", webhooktest.NewIntercomRequest(globexApp, notification("globex", "notif_2"),
			webhooktest.WithTarget("/hooks/globex")), 200, &run{tenant: "globex", key: "intercom@globex:notif_2", appID: "globex"}},
	}
	for _, tt := range tests {
		runs = nil
		w := httptest.NewRecorder()
		h.ServeHTTP(w, tt.req)
		require.Equal(t, tt.want, w.Code, tt.name)
		if tt.run == nil {
			require.Empty(t, runs, tt.name)
		} else {
			require.Equal(t, []run{*tt.run}, runs, tt.name)
		}
	}
}

// TestTenantNames: the dedupe namespace is Keys.Tenant, byte for byte.
// Tenants whose names differ only in case or Unicode form are apart, and
// the same tenant reached by another spelling of its path (a key function
// that looks tenants up case-insensitively, returning the Keys it keeps)
// shares its namespace, so a replay by that spelling is a duplicate.
func TestTenantNames(t *testing.T) {
	clock := webhooktest.NewClock(webhooktest.Time())
	keys := map[string]*webhook.Keys{}
	for _, name := range []string{"acme", "Acme", "ａｃｍｅ", "caf\u00e9", "cafe\u0301"} {
		v, err := webhook.NewVerifier([]string{webhooktest.Secret}, webhook.WithClock(clock.Now))
		require.NoError(t, err)
		keys[name] = &webhook.Keys{Tenant: name, Standard: v}
	}
	keys["acme-eu"] = keys["acme"] // one tenant under two paths
	var seen []string
	h, err := webhook.NewHandler(webhook.WithClock(clock.Now), webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithKeyFunc(func(ctx context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
			name := strings.TrimPrefix(hint.Path, "/hooks/")
			if k := keys[name]; k != nil {
				return k, nil
			}
			for n, k := range keys {
				if strings.EqualFold(n, name) {
					return k, nil
				}
			}
			return nil, nil
		}))
	require.NoError(t, err)
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		seen = append(seen, d.Key)
		return nil
	})
	for _, path := range []string{"acme", "Acme", "ａｃｍｅ", "caf\u00e9", "cafe\u0301", "ACME", "acme-eu", "ACME-EU"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithTarget("/hooks/"+url.PathEscape(path)),
			webhooktest.WithID("msg_1")))
		require.Equal(t, http.StatusOK, w.Code, path)
	}
	require.Equal(t, []string{"standard@acme:msg_1", "standard@Acme:msg_1", "standard@ａｃｍｅ:msg_1",
		"standard@caf\u00e9:msg_1", "standard@cafe\u0301:msg_1"}, seen)
}

// TestTenantDiagnosis: a tenant delivery refused is diagnosed with the
// evidence of the request and of its own tenant's keys only. The sender
// learns nothing (every 401 has the same response, whether the tenant
// exists, lacks keys for the source, or holds other keys), and the log
// line and the error hook name no other tenant and count no other
// tenant's keys: acme holds 2 Jam keys, globex 3.
func TestTenantDiagnosis(t *testing.T) {
	const globexApp = "0b7c5d2e-8f41-4a96-b3e0-c7d1f5a29e84"
	clock := webhooktest.NewClock(webhooktest.Time())
	acmeStd, err := webhook.NewVerifier([]string{webhooktest.Secret, rotOld}, webhook.WithClock(clock.Now))
	require.NoError(t, err)
	globexStd, err := webhook.NewVerifier([]string{otherSecret, rotNew, rotStranger}, webhook.WithClock(clock.Now))
	require.NoError(t, err)
	globexApp1, err := webhook.NewIntercomVerifier(globexApp)
	require.NoError(t, err)
	keys := map[string]*webhook.Keys{
		"acme":   {Tenant: "acme", Standard: acmeStd},
		"globex": {Tenant: "globex", Standard: globexStd, Intercom: globexApp1},
	}
	logs := &syncBuffer{}
	h, err := webhook.NewHandler(webhook.WithClock(clock.Now),
		webhook.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		webhook.WithKeyFunc(func(ctx context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
			if tenant, ok := strings.CutPrefix(hint.Path, "/hooks/"); ok {
				return keys[tenant], nil
			}
			return keys[hint.AppID], nil
		}))
	require.NoError(t, err)
	var got *webhook.HandlerError
	h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) { got = err })
	wrong := "whsec_d3Jvbmcta2V5LXNob3VsZC1uZXZlci1iZS1sb2dnZWQ="
	tests := []struct {
		name     string
		req      *http.Request
		tenant   string // logged, and the only tenant named
		hint     webhook.Hint
		evidence string
		keys     int
	}{
		{name: "no such tenant", req: webhooktest.NewStandardRequest(wrong, jamBody, webhooktest.WithTarget("/hooks/initech")),
			hint: webhook.HintNoKeys, evidence: "no tenant for this request"},
		{name: "a tenant without the source's keys", req: webhooktest.NewIntercomRequest(webhooktest.IntercomSecret,
			webhooktest.StampIntercom(intercomBody, webhooktest.Time()), webhooktest.WithTarget("/hooks/acme")),
			tenant: "acme", hint: webhook.HintNoKeys, evidence: "tenant acme has no intercom keys"},
		{name: "another key than the tenant's", req: webhooktest.NewStandardRequest(wrong, jamBody, webhooktest.WithTarget("/hooks/acme")),
			tenant: "acme", hint: webhook.HintCheckSecret, keys: 2},
		{name: "another tenant's key", req: webhooktest.NewStandardRequest(otherSecret, jamBody, webhooktest.WithTarget("/hooks/acme")),
			tenant: "acme", hint: webhook.HintCheckSecret, keys: 2},
		{name: "an app_id of no tenant", req: webhooktest.NewIntercomRequest(globexApp, webhooktest.StampIntercom(intercomBody, webhooktest.Time())),
			hint: webhook.HintNoKeys, evidence: "no tenant for this request"},
	}
	var response string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			before := len(logs.String())
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tt.req)
			require.Equal(t, http.StatusUnauthorized, w.Code)
			if response == "" {
				response = fmt.Sprint(w.Header(), w.Body.String())
			}
			require.Equal(t, response, fmt.Sprint(w.Header(), w.Body.String()), "every 401 reads alike")
			require.NotNil(t, got)
			dg := got.Diagnosis
			require.NotNil(t, dg)
			require.Equal(t, tt.hint, dg.Hint, dg.Evidence)
			if tt.evidence != "" {
				require.Equal(t, tt.evidence, dg.Evidence)
			}
			require.Equal(t, tt.keys, dg.Keys, "only the tenant's own keys are counted")
			require.Equal(t, 1, dg.V1, "the request's evidence is there")
			require.Equal(t, tt.req.ContentLength, int64(dg.BodyLen))
			line := logs.String()[before:]
			require.Equal(t, tt.tenant != "", strings.Contains(line, `"tenant":"`+tt.tenant+`"`), line)
			report := line + got.Error() + fmt.Sprintf("%+v", *dg)
			for _, other := range []string{"acme", "globex", "initech"} {
				if other != tt.tenant {
					require.NotContains(t, report, other)
				}
			}
		})
	}
}

// FuzzTenantAppID: whoever holds one Intercom app's client secret
// (mallory's) signs any body, with any app_id keys, and sends it; the
// key function chooses the keys by the body's app_id, or, for byPath, by
// the path, which names mallory. Whatever reaches a callback ran as
// mallory's, in mallory's dedupe namespace, and with keys chosen by
// app_id carries mallory's app_id: never the victim's.
func FuzzTenantAppID(f *testing.F) {
	f.Add([]byte(`"app_id":"mallory",`), "notif_1", false)
	f.Add([]byte(`"app_id":"mallory","APP_ID":"victim",`), "notif_1", false)
	f.Add([]byte(`"app_id":"mallory","app\u005fid":"victim",`), "notif_1", false)
	f.Add([]byte(`"app_id":"victim",`), "notif_1", true)
	f.Add([]byte(`"app_id":"mal\u006cory","app_id":null,`), "victim:notif_1", false)
	f.Add([]byte(`"app_id":"mallory","app_id":1,`), "notif_1", false)
	const mallorySecret, victimSecret = "6d1f0a3b-2c4e-4f7a-9b8c-5e6d7f8a9b0c", "0b7c5d2e-8f41-4a96-b3e0-c7d1f5a29e84"
	keys := map[string]*webhook.Keys{}
	for app, secret := range map[string]string{"mallory": mallorySecret, "victim": victimSecret} {
		v, err := webhook.NewIntercomVerifier(secret)
		require.NoError(f, err)
		keys[app] = &webhook.Keys{Tenant: app, Intercom: v}
	}
	clock := webhooktest.NewClock(webhooktest.Time())
	h, err := webhook.NewHandler(webhook.WithClock(clock.Now), webhook.WithLogger(slog.New(slog.DiscardHandler)), webhook.WithoutDedupe(),
		webhook.WithKeyFunc(func(ctx context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
			if tenant, ok := strings.CutPrefix(hint.Path, "/hooks/"); ok {
				return keys[tenant], nil
			}
			return keys[hint.AppID], nil
		}))
	require.NoError(f, err)
	type run struct {
		tenant, appID string
		byPath        bool
	}
	var mu sync.Mutex
	var runs []run
	h.OnAny(func(ctx context.Context, d *webhook.Delivery, e event.Event) error {
		r := run{tenant: d.Tenant, byPath: strings.HasPrefix(d.Header.Get("X-Path"), "/hooks/")}
		if n, ok := e.(*event.IntercomNotification); ok {
			r.appID = n.AppID
		}
		mu.Lock()
		runs = append(runs, r)
		mu.Unlock()
		return nil
	})
	f.Fuzz(func(t *testing.T, fields []byte, id string, byPath bool) {
		body := append([]byte(`{"type":"notification_event",`), fields...)
		body = append(body, `"id":`+strconv.Quote(id)+`,"topic":"conversation.user.replied","created_at":`+strconv.FormatInt(webhooktest.Unix, 10)+
			`,"delivery_attempts":1,"data":{"item":{"type":"conversation","id":"215471234567890"}}}`...)
		target := webhooktest.DefaultTarget
		if byPath {
			target = "/hooks/mallory"
		}
		req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature", webhooktest.SignIntercom(mallorySecret, body))
		req.Header.Set("X-Path", target)
		mu.Lock()
		runs = nil
		mu.Unlock()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		mu.Lock()
		defer mu.Unlock()
		for _, r := range runs {
			require.Equal(t, "mallory", r.tenant, "%s", body)
			if !r.byPath {
				require.Equal(t, "mallory", r.appID, "%s", body)
			}
		}
		if w.Code == http.StatusOK && !byPath {
			require.NotEmpty(t, runs, "a notification acknowledged ran: %s", body)
		}
	})
}

// TestV1aKeysBudget: v1a verification copies the message, so whpk_ keys
// need a body memory budget of three times the max body size; NewHandler
// and Handler.SetSecrets refuse them under a smaller one. Keys they never
// see (a key function's, or a WithVerifier verifier's set by its own
// SetSecrets during a rotation) answered a v1a delivery too large for
// the budget and its copy 503 "budget exhausted" on an idle handler, on
// every attempt, as though under load, until the sender dropped it. Now
// such a delivery is a 500 whose error names the budget to raise, while
// the ones that fit (small v1a deliveries, v1 ones) still pass.
func TestV1aKeysBudget(t *testing.T) {
	var seed [32]byte
	copy(seed[:], "a seed for a v1a key, not secret")
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := "whpk_" + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
	signer := "whsk_" + base64.StdEncoding.EncodeToString(seed[:])
	large := append(bytes.TrimSuffix(jamBody, []byte("}")), `,"pad":"`+strings.Repeat("x", 60<<10)+`"}`...)
	small := webhook.WithMaxBodyMemory(128 << 10) // twice the max body size below: enough without whpk_ keys
	tests := []struct {
		name   string
		static bool // WithVerifier, its keys set later, instead of a key function
		budget []webhook.Option
		keys   []string
		signer string
		body   []byte
		want   int
	}{
		{name: "key function, large v1a delivery", budget: []webhook.Option{small}, keys: []string{pub}, signer: signer, body: large, want: 500},
		{name: "key function, small v1a delivery", budget: []webhook.Option{small}, keys: []string{pub}, signer: signer, body: jamBody, want: 200},
		{name: "key function, v1 delivery beside a whpk_ key", budget: []webhook.Option{small}, keys: []string{webhooktest.Secret, pub}, signer: webhooktest.Secret, body: large, want: 200},
		{name: "key function, no whpk_ key", budget: []webhook.Option{small}, keys: []string{webhooktest.Secret}, signer: webhooktest.Secret, body: large, want: 200},
		{name: "key function, a budget of three times", budget: []webhook.Option{webhook.WithMaxBodyMemory(3*64<<10 + 1024)}, keys: []string{pub}, signer: signer, body: large, want: 200},
		{name: "WithVerifier, whpk_ set by its SetSecrets", static: true, budget: []webhook.Option{small}, keys: []string{pub}, signer: signer, body: large, want: 500},
		{name: "WithVerifier, a budget of three times", static: true, budget: []webhook.Option{webhook.WithMaxBodyMemory(3*64<<10 + 1024)}, keys: []string{pub}, signer: signer, body: large, want: 200},
	}
	t.Run("a budget held by another request", func(t *testing.T) {
		// Load is still 503: the retry finds the budget free.
		v, err := webhook.NewVerifier([]string{pub}, webhook.WithClock(webhooktest.Time))
		require.NoError(t, err)
		h, err := webhook.NewHandler(webhook.WithMaxBodySize(64<<10), webhook.WithMaxBodyMemory(3*64<<10+1024), webhook.WithClock(webhooktest.Time),
			webhook.WithLogger(slog.New(slog.DiscardHandler)),
			webhook.WithKeyFunc(func(context.Context, webhook.KeyHint) (*webhook.Keys, error) {
				return &webhook.Keys{Tenant: "acme", Standard: v}, nil
			}))
		require.NoError(t, err)
		pr, pw := io.Pipe()
		slow := webhooktest.NewStandardRequest(signer, large, webhooktest.WithID("msg_slow"))
		slow.Body, slow.ContentLength = pr, -1
		done := make(chan int)
		go func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, slow)
			done <- w.Code
		}()
		_, err = pw.Write(large[:40<<10])
		require.NoError(t, err)
		require.Eventually(t, func() bool { return webhook.BodyHeld(h) >= 64<<10 }, 5*time.Second, time.Millisecond)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, webhooktest.NewStandardRequest(signer, large))
		require.Equal(t, http.StatusServiceUnavailable, w.Code)
		_, err = pw.Write(large[40<<10:])
		require.NoError(t, err)
		require.NoError(t, pw.Close())
		require.Equal(t, http.StatusOK, testwait.Recv(t, done, "the first upload's status"))
		w = httptest.NewRecorder()
		h.ServeHTTP(w, webhooktest.NewStandardRequest(signer, large))
		require.Equal(t, http.StatusOK, w.Code, "the retry, on an idle handler")
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := webhook.NewVerifier([]string{otherSecret}, webhook.WithClock(webhooktest.Time))
			require.NoError(t, err)
			opts := append([]webhook.Option{webhook.WithMaxBodySize(64 << 10), webhook.WithClock(webhooktest.Time),
				webhook.WithLogger(slog.New(slog.DiscardHandler))}, tt.budget...)
			if tt.static {
				opts = append(opts, webhook.WithVerifier(v))
			} else {
				opts = append(opts, webhook.WithKeyFunc(func(context.Context, webhook.KeyHint) (*webhook.Keys, error) {
					return &webhook.Keys{Tenant: "acme", Standard: v}, nil
				}))
			}
			h, err := webhook.NewHandler(opts...)
			require.NoError(t, err)
			require.NoError(t, v.SetSecrets(tt.keys...), "the rotation")
			var herr *webhook.HandlerError
			h.OnError(func(_ context.Context, _ *webhook.Delivery, err *webhook.HandlerError) { herr = err })
			for attempt := 0; attempt < 3; attempt++ { // the sender's retries, on an idle handler
				w := httptest.NewRecorder()
				h.ServeHTTP(w, webhooktest.NewStandardRequest(tt.signer, tt.body))
				require.Equal(t, tt.want, w.Code, "attempt %d: %v", attempt, herr)
			}
			if tt.want == 500 {
				require.ErrorContains(t, herr, "three times the max body size")
				require.NotErrorIs(t, herr, webhook.ErrBodyMemory, "not the load of other requests")
			}
		})
	}
}

// TestKeyFuncOutlivesHangUp: in inbox mode a verified delivery is stored
// even if the sender hangs up before the answer (Intercom gives up after
// 5 seconds, and may not send that attempt again), so the key function
// that stands between the delivery and its verification must not be cut
// short by the hang-up either: a lookup still running when the sender
// gave up used to see its context canceled, and the delivery was lost.
// Without an inbox nothing is stored for the hang-up to spare, and the key
// function keeps the request's context.
func TestKeyFuncOutlivesHangUp(t *testing.T) {
	for _, inbox := range []bool{true, false} {
		t.Run(fmt.Sprintf("inbox %v", inbox), func(t *testing.T) {
			v, err := webhook.NewIntercomVerifier(webhooktest.IntercomSecret)
			require.NoError(t, err)
			ib := webhook.NewMemoryInbox(0, nil)
			hungUp := make(chan struct{})
			opts := []webhook.Option{webhook.WithClock(webhooktest.Time), webhook.WithLogger(slog.New(slog.DiscardHandler)),
				webhook.WithKeyFunc(func(ctx context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
					<-hungUp // a slow lookup, still running when the sender gives up
					select {
					case <-ctx.Done():
						return nil, ctx.Err()
					case <-time.After(20 * time.Millisecond):
						return &webhook.Keys{Tenant: "acme", Intercom: v}, nil
					}
				})}
			if inbox {
				opts = append(opts, webhook.WithInbox(ib))
			}
			h, err := webhook.NewHandler(opts...)
			require.NoError(t, err)
			ran := false
			h.OnAny(func(context.Context, *webhook.Delivery, event.Event) error { ran = true; return nil })
			ctx, hangUp := context.WithCancel(context.Background())
			req := webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, webhooktest.StampIntercom(intercomBody, webhooktest.Time())).WithContext(ctx)
			go func() {
				time.Sleep(5 * time.Millisecond)
				hangUp()
				close(hungUp)
			}()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			stats, err := ib.Stats(context.Background())
			require.NoError(t, err)
			if inbox {
				require.Equal(t, http.StatusOK, w.Code)
				require.Equal(t, 1, stats.Pending, "the delivery is stored")
			} else {
				require.Equal(t, http.StatusInternalServerError, w.Code)
				require.False(t, ran)
			}
		})
	}
}

// TestKeyFuncHandlerSetSecrets: with a key function the handler holds no
// Standard Webhooks keys of its own, so Handler.SetSecrets, a rotation
// call that would change nothing, fails, and says where the keys are.
func TestKeyFuncHandlerSetSecrets(t *testing.T) {
	h, err := webhook.NewHandler(webhook.WithKeyFunc(func(context.Context, webhook.KeyHint) (*webhook.Keys, error) { return nil, nil }))
	require.NoError(t, err)
	err = h.SetSecrets(webhooktest.Secret)
	require.ErrorContains(t, err, "WithKeyFunc")
	require.NotContains(t, err.Error(), strings.TrimPrefix(webhooktest.Secret, "whsec_"))
}

// TestSharedStoreTenantKeys: a dedupe store or an inbox shared by a
// handler with a key function and one without (one Redis prefix for a
// product's own workspace and its customers', say) keeps their keys apart.
// A delivery to the plain handler whose message id spells a tenant's key
// ("acme:msg_1", which any Standard Webhooks sender may choose) must not
// claim that tenant's message: acme's real msg_1 is processed, or stored,
// not acknowledged as a duplicate and lost.
func TestSharedStoreTenantKeys(t *testing.T) {
	clock := webhooktest.NewClock(webhooktest.Time())
	acme, err := webhook.NewVerifier([]string{webhooktest.Secret}, webhook.WithClock(clock.Now))
	require.NoError(t, err)
	keys := map[string]*webhook.Keys{"acme": {Tenant: "acme", Standard: acme}, "a": {Tenant: "a", Standard: acme}}
	keyFunc := webhook.WithKeyFunc(func(ctx context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
		return keys[strings.TrimPrefix(hint.Path, "/hooks/")], nil
	})
	tests := []struct {
		name     string
		plainID  string // the plain handler's message id
		tenant   string
		tenantID string // the tenant's, whose key the plain one spells
	}{
		{name: "a plain id spelling a tenant's key", plainID: "acme:msg_1", tenant: "acme", tenantID: "msg_1"},
		{name: "a plain id spelling a tenant's key with an id holding ':'", plainID: "acme:x:y", tenant: "acme", tenantID: "x:y"},
		{name: "a plain id spelling a short tenant's key", plainID: "a:cme:msg_1", tenant: "a", tenantID: "cme:msg_1"},
	}
	for _, tt := range tests {
		for _, mode := range []string{"deduper", "inbox"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				var shared webhook.Option
				var ib *webhook.MemoryInbox
				if mode == "deduper" {
					shared = webhook.WithDeduper(webhook.NewMemoryStore(0, clock.Now))
				} else {
					ib = webhook.NewMemoryInbox(0, clock.Now)
					shared = webhook.WithInbox(ib)
				}
				var runs []string
				onJam := func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
					runs = append(runs, d.Tenant+"/"+d.ID)
					return nil
				}
				opts := []webhook.Option{webhook.WithClock(clock.Now), webhook.WithLogger(slog.New(slog.DiscardHandler)), shared}
				plain, err := webhook.NewHandler(append(opts, webhook.WithVerifier(acme))...)
				require.NoError(t, err)
				plain.OnJamCreated(onJam)
				multi, err := webhook.NewHandler(append(opts, keyFunc)...)
				require.NoError(t, err)
				multi.OnJamCreated(onJam)

				w := httptest.NewRecorder()
				plain.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID(tt.plainID)))
				require.Equal(t, http.StatusOK, w.Code)
				w = httptest.NewRecorder()
				multi.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody,
					webhooktest.WithTarget("/hooks/"+tt.tenant), webhooktest.WithID(tt.tenantID)))
				require.Equal(t, http.StatusOK, w.Code)
				if mode == "deduper" {
					require.Equal(t, []string{"/" + tt.plainID, tt.tenant + "/" + tt.tenantID}, runs)
					return
				}
				page, err := ib.List(context.Background(), webhook.InboxQuery{})
				require.NoError(t, err)
				var stored []string
				for _, e := range page.Entries {
					stored = append(stored, e.Meta["webhook.tenant"]+"/"+e.ID)
				}
				require.ElementsMatch(t, []string{"/" + tt.plainID, tt.tenant + "/" + tt.tenantID}, stored)
			})
		}
	}
}

// TestKeyFuncVerifierClock: a tenant's Verifier built without the clock the
// handler was given (a test's WithClock(webhooktest.Time) beside a
// NewVerifier on time.Now) refuses the delivery for its timestamp. The
// diagnosis reckons by the clock that refused it, and says which clock it
// was and what to do: it read "too old" with "clock in step with the
// sender", the handler's clock, which had not judged.
func TestKeyFuncVerifierClock(t *testing.T) {
	tests := []struct {
		name     string
		verifier time.Time // the tenant Verifier's clock
		hint     webhook.Hint
		evidence string
	}{
		{"the Verifier on its own clock, ahead", webhooktest.Time().Add(8 * 24 * time.Hour), webhook.HintClockAhead,
			"clock 192h ahead of the sender, by the Verifier's own clock; the handler's clock (WithClock) in step with the sender: build the Verifier with the handler's WithClock"},
		{"the Verifier on its own clock, behind", webhooktest.Time().Add(-time.Hour), webhook.HintClockBehind,
			"clock 1h behind the sender, by the Verifier's own clock; the handler's clock (WithClock) in step with the sender: build the Verifier with the handler's WithClock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := webhook.NewVerifier([]string{webhooktest.Secret}, webhook.WithClock(func() time.Time { return tt.verifier }))
			require.NoError(t, err)
			h, err := webhook.NewHandler(webhook.WithClock(webhooktest.Time), webhook.WithLogger(slog.New(slog.DiscardHandler)),
				webhook.WithKeyFunc(func(context.Context, webhook.KeyHint) (*webhook.Keys, error) {
					return &webhook.Keys{Tenant: "acme", Standard: v}, nil
				}))
			require.NoError(t, err)
			var got *webhook.HandlerError
			h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) { got = err })
			w := httptest.NewRecorder()
			h.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody))
			require.Equal(t, http.StatusUnauthorized, w.Code)
			require.NotNil(t, got)
			require.NotNil(t, got.Diagnosis)
			require.Equal(t, tt.hint, got.Diagnosis.Hint)
			require.Equal(t, tt.verifier.Sub(webhooktest.Time()), got.Diagnosis.Skew, "the skew of the clock that judged")
			require.Equal(t, tt.evidence, got.Diagnosis.Evidence)
		})
	}
	// The same clock: the evidence is the skew alone, as without a key function.
	clock := func() time.Time { return webhooktest.Time().Add(time.Hour) }
	v, err := webhook.NewVerifier([]string{webhooktest.Secret}, webhook.WithClock(clock))
	require.NoError(t, err)
	h, err := webhook.NewHandler(webhook.WithClock(clock), webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithKeyFunc(func(context.Context, webhook.KeyHint) (*webhook.Keys, error) {
			return &webhook.Keys{Tenant: "acme", Standard: v}, nil
		}))
	require.NoError(t, err)
	var got *webhook.HandlerError
	h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) { got = err })
	h.ServeHTTP(httptest.NewRecorder(), webhooktest.NewStandardRequest(webhooktest.Secret, jamBody))
	require.NotNil(t, got)
	require.Equal(t, "clock 1h ahead of the sender", got.Diagnosis.Evidence)
}
