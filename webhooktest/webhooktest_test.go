package webhooktest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// testKeysHandler is a handler of the three senders (Standard Webhooks,
// Intercom, Series) on the package's test keys, on the clock now, that
// logs nothing.
func testKeysHandler(t *testing.T, now func() time.Time) *webhook.Handler {
	t.Helper()
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken),
		webhook.WithClock(now),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	require.NoError(t, err)
	return h
}

func TestSignStandardSpecVector(t *testing.T) {
	// The known-answer vector of the Standard Webhooks specification.
	sig, err := webhooktest.SignStandard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", sig)

	_, err = webhooktest.SignStandard("whsec_not*base64", "msg_1", webhooktest.Time(), nil)
	require.Error(t, err)
}

// TestSignStandardSecretRule: SignStandard takes secrets as the verifiers
// do: padding optional, whitespace refused.
func TestSignStandardSecretRule(t *testing.T) {
	body := []byte(`{"test": 2432232314}`)
	ts := time.Unix(1614265330, 0)
	want, err := webhooktest.SignStandard(webhooktest.Secret, "msg_1", ts, body)
	require.NoError(t, err)
	unpadded := strings.TrimRight(webhooktest.Secret, "=")
	require.NotEqual(t, webhooktest.Secret, unpadded)
	got, err := webhooktest.SignStandard(unpadded, "msg_1", ts, body)
	require.NoError(t, err)
	require.Equal(t, want, got)
	for _, s := range []string{webhooktest.Secret + "\n", webhooktest.Secret + " ", " " + webhooktest.Secret} {
		_, err := webhooktest.SignStandard(s, "msg_1", ts, body)
		require.Error(t, err, "%q", s)
	}
}

func TestRequestsVerify(t *testing.T) {
	body := []byte(`{"jamId":"0d6f3c1e-2b4a-4f5d-8e9c-7a1b2c3d4e5f","teamId":"team_1"}`)
	clock := webhooktest.NewClock(webhooktest.Time())
	v, err := webhook.NewVerifier([]string{webhooktest.Secret}, webhook.WithClock(clock.Now))
	require.NoError(t, err)

	r := webhooktest.NewStandardRequest(webhooktest.Secret, body)
	id, ts, err := v.Verify(body, r.Header)
	require.NoError(t, err)
	require.Equal(t, webhooktest.MessageID(body), id, "a body's default id is stable, as a retry's is")
	require.True(t, ts.Equal(webhooktest.Time()))
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))

	r = webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithSvixHeaders(), webhooktest.WithID("msg_x"),
		webhooktest.WithTime(webhooktest.Time().Add(time.Minute)), webhooktest.WithMethod(http.MethodPut), webhooktest.WithTarget("/hooks/jam"))
	require.Empty(t, r.Header.Get("Webhook-Id"))
	id, ts, err = v.Verify(body, r.Header)
	require.NoError(t, err)
	require.Equal(t, "msg_x", id)
	require.Equal(t, int64(webhooktest.Unix+60), ts.Unix())
	require.Equal(t, "/hooks/jam", r.URL.Path)
	require.Equal(t, http.MethodPut, r.Method)

	// The clock moves, and the window with it.
	clock.Advance(10 * time.Minute)
	_, _, err = v.Verify(body, webhooktest.NewStandardRequest(webhooktest.Secret, body).Header)
	require.ErrorIs(t, err, webhook.ErrMessageTooOld)
	clock.Set(webhooktest.Time())

	iv, err := webhook.NewIntercomVerifier(webhooktest.IntercomSecret)
	require.NoError(t, err)
	r = webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, body)
	require.NoError(t, iv.Verify(body, r.Header))
	require.True(t, strings.HasPrefix(r.Header.Get("X-Hub-Signature"), "sha1="))

	sv, err := webhook.NewSeriesVerifier(webhooktest.SeriesHeader, webhooktest.SeriesToken)
	require.NoError(t, err)
	r = webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, body, webhooktest.WithHeader("X-Extra", "1"))
	require.NoError(t, sv.Verify(r.Header))
	require.Equal(t, "1", r.Header.Get("X-Extra"))
}

// TestEveryFixtureThroughHandler sends each embedded fixture, signed for
// its sender, through a handler configured with the package's test keys.
func TestEveryFixtureThroughHandler(t *testing.T) {
	names := webhooktest.FixtureNames()
	require.NotEmpty(t, names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			clock := webhooktest.NewClock(webhooktest.Time())
			h := testKeysHandler(t, clock.Now)
			var got event.Event
			h.OnAny(func(ctx context.Context, d *webhook.Delivery, e event.Event) error {
				got = e
				want := webhooktest.Fixture(name)
				if strings.HasPrefix(name, "intercom/") {
					// Stamped at the request's time, as Intercom stamps what it sends.
					want = webhooktest.StampIntercom(want, webhooktest.Time())
				}
				require.Equal(t, want, d.Body)
				return nil
			})
			w := httptest.NewRecorder()
			h.ServeHTTP(w, webhooktest.NewFixtureRequest(name))
			require.Equal(t, http.StatusOK, w.Code)
			require.NotNil(t, got)
		})
	}
}

func TestFixtureSource(t *testing.T) {
	// name: source and Content-Type; "" for a name that is no fixture.
	sent := map[string][2]string{
		"jam/jam.created.maximal.json": {"standard", "application/json"},
		"intercom/ping.json":           {"intercom", "application/json"},
		"series/contact.form":          {"series", "application/x-www-form-urlencoded"},
		"series/contact.json":          {"series", "application/json"},
		"./series/company.form/":       {"series", "application/x-www-form-urlencoded"}, // cleaned, as Fixture cleans it
		"jam/no-such-fixture.json":     {},
		"elsewhere/x.json":             {},
		"jam":                          {},
	}
	for name, want := range sent {
		t.Run(name, func(t *testing.T) {
			source, ct, ok := webhooktest.FixtureSource(name)
			require.Equal(t, want[0] != "", ok)
			require.Equal(t, want, [2]string{string(source), ct})
			if ok {
				r := webhooktest.NewFixtureRequest(name)
				require.Equal(t, ct, r.Header.Get("Content-Type"), "NewFixtureRequest routes as FixtureSource says")
			}
		})
	}
	for _, name := range webhooktest.FixtureNames() {
		_, _, ok := webhooktest.FixtureSource(name)
		require.True(t, ok, name)
	}
}

// TestFixtureCopies: a test may change the bytes Fixture gives it; the
// next caller, a parallel test say, still gets the fixture.
func TestFixtureCopies(t *testing.T) {
	name := "jam/jam.created.minimal.json"
	b := webhooktest.Fixture(name)
	want := string(b)
	for i := range b {
		b[i] = 'x'
	}
	require.Equal(t, want, string(webhooktest.Fixture(name)))
	r := webhooktest.NewFixtureRequest(name)
	got, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	require.Equal(t, want, string(got))
}

// TestBuildersPanic: every builder follows one rule, httptest.NewRequest's:
// an argument no test means panics, with a message that holds no secret.
func TestBuildersPanic(t *testing.T) {
	body := []byte(`{"jamId":"0d6f3c1e"}`)
	const bad = "whsec_not*base64"
	tests := []struct {
		name  string
		build func()
		want  string
	}{
		{"a secret that cannot sign", func() { webhooktest.NewStandardRequest(bad, body) }, "webhooktest: NewStandardRequest: secret is not whsec_ followed by base64"},
		{"an extra secret that cannot sign", func() {
			webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithExtraSecrets(bad))
		}, "webhooktest: NewStandardRequest: secret is not whsec_ followed by base64"},
		{"a secret read with its newline", func() { webhooktest.NewStandardRequest(webhooktest.Secret+"\n", body) }, "webhooktest: NewStandardRequest: secret contains whitespace, which base64 never does; remove it"},
		{"a signing key read with its newline", func() { webhooktest.NewStandardRequest(webhooktest.SigningKey+"\n", body) }, "webhooktest: NewStandardRequest: secret contains whitespace, which base64 never does; remove it"},
		{"a public key", func() { webhooktest.NewStandardRequest("whpk_"+strings.Repeat("A", 44), body) }, "webhooktest: NewStandardRequest: a whpk_ public key cannot sign; sign with its whsk_ signing key"},
		{"no such fixture", func() { webhooktest.NewFixtureRequest("jam/no-such-fixture.json") }, `webhooktest: no fixture "jam/no-such-fixture.json" (FixtureNames lists them)`},
		{"outside the senders", func() { webhooktest.NewFixtureRequest("elsewhere/x.json") }, `webhooktest: no fixture "elsewhere/x.json" (FixtureNames lists them)`},
		{"no such fixture body", func() { webhooktest.Fixture("jam/no-such-fixture.json") }, `webhooktest: no fixture "jam/no-such-fixture.json" (FixtureNames lists them)`},
		{"the sender's directory left out", func() { webhooktest.NewFixtureRequest("jam.created.maximal.json") }, `webhooktest: no fixture "jam.created.maximal.json"; did you mean "jam/jam.created.maximal.json"?`},
		{"in another sender's directory", func() { webhooktest.Fixture("intercom/jam.created.minimal.json") }, `webhooktest: no fixture "intercom/jam.created.minimal.json"; did you mean "jam/jam.created.minimal.json"?`},
		{"the shape left out", func() { webhooktest.NewFixtureRequest("jam/intercom.recorder.opted_out.json") }, `webhooktest: no fixture "jam/intercom.recorder.opted_out.json"; there are jam/intercom.recorder.opted_out.envelope.json, jam/intercom.recorder.opted_out.fin.json, jam/intercom.recorder.opted_out.flat.json`},
		{"the shape left out, several", func() { webhooktest.Fixture("intercom/conversation.admin.assigned") }, `webhooktest: no fixture "intercom/conversation.admin.assigned"; there are intercom/conversation.admin.assigned.json, intercom/conversation.admin.assigned.older_api.json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.PanicsWithValue(t, tt.want, tt.build)
		})
	}
}

// TestDefaultTarget: requests go where the README mounts the handler.
func TestDefaultTarget(t *testing.T) {
	body := []byte(`{}`)
	for _, r := range []*http.Request{
		webhooktest.NewStandardRequest(webhooktest.Secret, body),
		webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, body),
		webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, body),
		webhooktest.NewFixtureRequest("jam/jam.created.minimal.json"),
	} {
		require.Equal(t, "/webhooks", r.URL.Path)
		require.Equal(t, webhooktest.DefaultTarget, r.URL.Path)
	}
}

// TestExtraSecrets: a request signed while keys rotate verifies with
// either key alone.
func TestExtraSecrets(t *testing.T) {
	body := []byte(`{"jamId":"0d6f3c1e-2b4a-4f5d-8e9c-7a1b2c3d4e5f","teamId":"team_1"}`)
	const other = "whsec_b3RoZXIta2V5LWZvci1yb3RhdGlvbi10ZXN0cw=="
	r := webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithExtraSecrets(other), webhooktest.WithSvixHeaders())
	sigs := strings.Fields(r.Header.Get("Svix-Signature"))
	require.Len(t, sigs, 2)
	for i, secret := range []string{webhooktest.Secret, other} {
		want, err := webhooktest.SignStandard(secret, webhooktest.MessageID(body), webhooktest.Time(), body)
		require.NoError(t, err)
		require.Equal(t, want, sigs[i])
		v, err := webhook.NewVerifier([]string{secret}, webhook.WithClock(webhooktest.Time))
		require.NoError(t, err)
		_, _, err = v.Verify(body, r.Header)
		require.NoError(t, err, "secret %d", i)
	}
}

// TestWithHeaderFaults: WithHeader replaces a header the builder set, so a
// test that sends a wrong signature gets the fault it asks for, not a
// repeated header; given twice for one key it repeats the header.
func TestWithHeaderFaults(t *testing.T) {
	body := []byte(`{"jamId":"0d6f3c1e-2b4a-4f5d-8e9c-7a1b2c3d4e5f","teamId":"team_1"}`)
	intercomBody := webhooktest.Fixture("intercom/ping.json")
	const other = "whsec_b3RoZXIta2V5LWZvci1yb3RhdGlvbi10ZXN0cw=="
	otherSig, err := webhooktest.SignStandard(other, webhooktest.MessageID(body), webhooktest.Time(), body)
	require.NoError(t, err)
	stamped := webhooktest.StampIntercom(intercomBody, webhooktest.Time())
	tests := []struct {
		name   string
		req    *http.Request
		status int
		is     error // what the error hook's error wraps; nil for none
		header string
		values []string // the header's values in the request
	}{
		{"another key's signature", webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithHeader("Webhook-Signature", otherSig)),
			401, webhook.ErrNoMatchingSignature, "Webhook-Signature", []string{otherSig}},
		{"a malformed signature", webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithHeader("webhook-signature", "v1,not base64!")),
			401, webhook.ErrInvalidHeaders, "Webhook-Signature", []string{"v1,not base64!"}},
		{"another id than the signed one", webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithSvixHeaders(), webhooktest.WithHeader("Svix-Id", "msg_other")),
			401, webhook.ErrNoMatchingSignature, "Svix-Id", []string{"msg_other"}},
		{"a repeated signature header", webhooktest.NewStandardRequest(webhooktest.Secret, body,
			webhooktest.WithHeader("Webhook-Signature", otherSig), webhooktest.WithHeader("Webhook-Signature", otherSig)),
			401, webhook.ErrInvalidHeaders, "Webhook-Signature", []string{otherSig, otherSig}},
		{"another client secret's Intercom signature", webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, intercomBody, webhooktest.WithTime(webhooktest.Time()),
			webhooktest.WithHeader("X-Hub-Signature", webhooktest.SignIntercom("7d2e9a41-c3b8-4f50-9e61-28a4d7c0b3f5", stamped))),
			401, webhook.ErrNoMatchingSignature, "X-Hub-Signature", []string{webhooktest.SignIntercom("7d2e9a41-c3b8-4f50-9e61-28a4d7c0b3f5", stamped)}},
		{"a wrong Series token", webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, []byte(`{"name":"Dana"}`),
			webhooktest.WithHeader(webhooktest.SeriesHeader, "series-wrong-token-0000000")),
			401, webhook.ErrNoMatchingSignature, webhooktest.SeriesHeader, []string{"series-wrong-token-0000000"}},
		{"a Content-Type the source never sends", webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithHeader("Content-Type", "text/plain")),
			415, webhook.ErrUnsupportedMediaType, "Content-Type", []string{"text/plain"}},
		{"noise beside the signature", webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithHeader("X-Request-Id", "r1"), webhooktest.WithHeader("X-Request-Id", "r2")),
			200, nil, "X-Request-Id", []string{"r1", "r2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.values, tt.req.Header.Values(tt.header))
			h := testKeysHandler(t, webhooktest.Time)
			h.OnAny(func(context.Context, *webhook.Delivery, event.Event) error { return nil })
			var got error
			h.OnError(func(_ context.Context, _ *webhook.Delivery, err *webhook.HandlerError) { got = err })
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tt.req)
			require.Equal(t, tt.status, w.Code)
			if tt.is == nil {
				require.NoError(t, got)
				return
			}
			require.ErrorIs(t, got, tt.is)
		})
	}
}

// TestIntercomWithID: an Intercom notification's id is in its body, so
// WithID sets it there before signing, as it sets a Standard Webhooks
// request's webhook-id: the handler then sees each id as its own message,
// where it took every request of one fixture for a duplicate of the
// first.
func TestIntercomWithID(t *testing.T) {
	tests := []struct {
		name string
		req  func(id string) *http.Request
		want string // the body WithID("notif_7") gives, if not the fixture's
	}{
		{"fixture", func(id string) *http.Request {
			return webhooktest.NewFixtureRequest("intercom/conversation.user.replied.json", webhooktest.WithID(id))
		}, ""},
		{"null id (ping)", func(id string) *http.Request {
			return webhooktest.NewFixtureRequest("intercom/ping.json", webhooktest.WithID(id))
		}, ""},
		{"own secret, stamped", func(id string) *http.Request {
			return webhooktest.NewIntercomRequest("own-client-secret", webhooktest.Fixture("intercom/contact.user.created.json"),
				webhooktest.WithTime(webhooktest.Time()), webhooktest.WithID(id))
		}, ""},
		{"by hand, spaced, nested ids stay", func(id string) *http.Request {
			return webhooktest.NewIntercomRequest("own-client-secret", []byte(`{"type":"notification_event","topic":"ping","id" : "notif_1" ,"data":{"item":{"type":"ping","id":"x"}},"created_at":1795510800}`),
				webhooktest.WithID(id))
		}, `{"type":"notification_event","topic":"ping","id" : "notif_7" ,"data":{"item":{"type":"ping","id":"x"}},"created_at":1795510800}`},
		{"by hand, no id: added", func(id string) *http.Request {
			return webhooktest.NewIntercomRequest("own-client-secret", []byte(`{"type":"notification_event","topic":"ping","data":{"item":{"type":"ping"}},"created_at":1795510800}`),
				webhooktest.WithID(id))
		}, `{"id":"notif_7","type":"notification_event","topic":"ping","data":{"item":{"type":"ping"}},"created_at":1795510800}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := webhook.NewHandler(
				webhook.WithIntercomSecrets(webhooktest.IntercomSecret, "own-client-secret"),
				webhook.WithClock(webhooktest.Time),
				webhook.WithLogger(slog.New(slog.DiscardHandler)),
			)
			require.NoError(t, err)
			var ids []string
			var body []byte
			h.OnIntercom("*", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
				ids = append(ids, d.ID)
				body = d.Body
				return nil
			})
			for _, id := range []string{"notif_7", "notif_8", "notif_7"} {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, tt.req(id))
				require.Equal(t, http.StatusOK, w.Code, id)
				if id == "notif_7" && tt.want != "" && len(ids) == 1 {
					require.Equal(t, tt.want, string(body))
				}
			}
			require.Equal(t, []string{"notif_7", "notif_8"}, ids, "the third is a duplicate of the first")
		})
	}
}

// TestWithIDKeyCase: the handler decodes a notification with
// encoding/json, which matches its "id" key in any case ("ID", "Id", an
// escape), so WithID sets the key the handler reads, not only one spelled
// "id": it added an "id" before an "ID" the handler then read instead,
// and the requests were duplicates whatever WithID said. A Jam body's own
// "id" is no message id (the webhook-id header is), and stays as it is.
func TestWithIDKeyCase(t *testing.T) {
	const notif = `"type":"notification_event","topic":"ping","data":{"item":{"type":"ping"}},"created_at":1795510800`
	envelope := `{"type":"jam.created","%s":"evt_1","created_at":"2026-03-15T10:11:12Z","data":{"jamId":"d2f4a6c8","teamId":"team_1"}}`
	tests := []struct {
		name string
		req  func(id string) *http.Request
		body string // the body sent for WithID("notif_7")
	}{
		{"Intercom ID", func(id string) *http.Request {
			return webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, []byte(`{"ID":"notif_1",`+notif+`}`), webhooktest.WithID(id))
		}, `{"ID":"notif_7",` + notif + `}`},
		{"Intercom Id", func(id string) *http.Request {
			return webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, []byte(`{"Id":"notif_1",`+notif+`}`), webhooktest.WithID(id))
		}, `{"Id":"notif_7",` + notif + `}`},
		{"Intercom escaped I\\u0044", func(id string) *http.Request {
			return webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, []byte(`{"I\u0044":"notif_1",`+notif+`}`), webhooktest.WithID(id))
		}, `{"I\u0044":"notif_7",` + notif + `}`},
		{"Intercom id then ID", func(id string) *http.Request {
			return webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, []byte(`{"id":"notif_1",`+notif+`,"ID":"notif_2"}`), webhooktest.WithID(id))
		}, `{"id":"notif_7",` + notif + `,"ID":"notif_7"}`},
		{"Intercom dotless ıd is no id", func(id string) *http.Request {
			return webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, []byte(`{"ıd":"notif_1",`+notif+`}`), webhooktest.WithID(id))
		}, `{"id":"notif_7","ıd":"notif_1",` + notif + `}`},
		{"Jam envelope ID", func(id string) *http.Request {
			return webhooktest.NewStandardRequest(webhooktest.Secret, []byte(fmt.Sprintf(envelope, "ID")), webhooktest.WithID(id))
		}, fmt.Sprintf(envelope, "ID")},
		{"Jam envelope Id", func(id string) *http.Request {
			return webhooktest.NewStandardRequest(webhooktest.Secret, []byte(fmt.Sprintf(envelope, "Id")), webhooktest.WithID(id))
		}, fmt.Sprintf(envelope, "Id")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := webhook.NewHandler(
				webhook.WithSecrets(webhooktest.Secret),
				webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
				webhook.WithClock(webhooktest.Time),
				webhook.WithLogger(slog.New(slog.DiscardHandler)),
			)
			require.NoError(t, err)
			var ids []string
			var body []byte
			h.OnAny(func(ctx context.Context, d *webhook.Delivery, e event.Event) error {
				ids = append(ids, d.ID)
				if len(ids) == 1 {
					body = d.Body
				}
				return nil
			})
			for _, id := range []string{"notif_7", "notif_8", "notif_7"} {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, tt.req(id))
				require.Equal(t, http.StatusOK, w.Code, id)
			}
			require.Equal(t, tt.body, string(body))
			require.Equal(t, []string{"notif_7", "notif_8"}, ids, "the third is a duplicate of the first")
		})
	}
}

// TestWithTimeKeyCase: WithTime stamps the created_at the handler reads,
// in whatever case the body spells it, so the handler's max age takes
// the request as sent now; left at 0 it refuses it as too old.
func TestWithTimeKeyCase(t *testing.T) {
	for _, key := range []string{"created_at", "Created_At", "CREATED_AT", `created\u005fat`} {
		t.Run(key, func(t *testing.T) {
			h, err := webhook.NewHandler(
				webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
				webhook.WithClock(webhooktest.Time),
				webhook.WithLogger(slog.New(slog.DiscardHandler)),
			)
			require.NoError(t, err)
			h.OnAny(func(context.Context, *webhook.Delivery, event.Event) error { return nil })
			body := `{"type":"notification_event","topic":"ping","id":"notif_1","data":{"item":{"type":"ping"}},"` + key + `":0}`
			w := httptest.NewRecorder()
			h.ServeHTTP(w, webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, []byte(body), webhooktest.WithTime(webhooktest.Time())))
			require.Equal(t, http.StatusOK, w.Code)
		})
	}
}

// TestRequestServedTwice holds the package doc's word: a request carries
// its body once, and served again it is refused as empty, 400, not taken
// for a duplicate or a forgery.
func TestRequestServedTwice(t *testing.T) {
	for _, name := range []string{"jam/jam.created.minimal.json", "intercom/ping.json", "series/contact.json"} {
		t.Run(name, func(t *testing.T) {
			h := testKeysHandler(t, webhooktest.Time)
			h.OnAny(func(context.Context, *webhook.Delivery, event.Event) error { return nil })
			var hint webhook.Hint
			h.OnError(func(_ context.Context, _ *webhook.Delivery, err *webhook.HandlerError) {
				if err.Diagnosis != nil {
					hint = err.Diagnosis.Hint
				}
			})
			r := webhooktest.NewFixtureRequest(name)
			for _, want := range []int{http.StatusOK, http.StatusBadRequest} {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				require.Equal(t, want, w.Code)
			}
			require.Equal(t, webhook.HintEmptyBody, hint)
		})
	}
}

// TestIntercomAppID: every Intercom fixture that names its app names
// IntercomAppID, so a test of a key function that chooses keys by
// KeyHint.AppID maps that one app to IntercomSecret.
func TestIntercomAppID(t *testing.T) {
	n := 0
	for _, name := range webhooktest.FixtureNames() {
		if !strings.HasPrefix(name, "intercom/") {
			continue
		}
		var top struct {
			AppID *string `json:"app_id"`
		}
		require.NoError(t, json.Unmarshal(webhooktest.Fixture(name), &top), name)
		if top.AppID != nil {
			require.Equal(t, webhooktest.IntercomAppID, *top.AppID, name)
			n++
		}
	}
	require.Greater(t, n, 30, "the Intercom fixtures name their app")
}
