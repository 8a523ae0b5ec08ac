package webhooktest_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

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

	r := webhooktest.NewStandardRequest(t, webhooktest.Secret, body)
	id, ts, err := v.Verify(body, r.Header)
	require.NoError(t, err)
	require.Equal(t, webhooktest.MessageID(body), id, "a body's default id is stable, as a retry's is")
	require.True(t, ts.Equal(webhooktest.Time()))
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))

	r = webhooktest.NewStandardRequest(t, webhooktest.Secret, body, webhooktest.WithSvixHeaders(), webhooktest.WithID("msg_x"),
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
	_, _, err = v.Verify(body, webhooktest.NewStandardRequest(t, webhooktest.Secret, body).Header)
	require.ErrorIs(t, err, webhook.ErrMessageTooOld)
	clock.Set(webhooktest.Time())

	iv, err := webhook.NewIntercomVerifier(webhooktest.IntercomSecret)
	require.NoError(t, err)
	r = webhooktest.NewIntercomRequest(t, webhooktest.IntercomSecret, body)
	require.NoError(t, iv.Verify(body, r.Header))
	require.True(t, strings.HasPrefix(r.Header.Get("X-Hub-Signature"), "sha1="))

	sv, err := webhook.NewSeriesVerifier(webhooktest.SeriesHeader, webhooktest.SeriesToken)
	require.NoError(t, err)
	r = webhooktest.NewSeriesRequest(t, webhooktest.SeriesHeader, webhooktest.SeriesToken, body, webhooktest.WithHeader("X-Extra", "1"))
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
			h, err := webhook.NewHandler(
				webhook.WithSecrets(webhooktest.Secret),
				webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
				webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken),
				webhook.WithClock(clock.Now),
				webhook.WithLogger(slog.New(slog.DiscardHandler)),
			)
			require.NoError(t, err)
			var got webhook.Event
			h.OnAny(func(ctx context.Context, d *webhook.Delivery, e webhook.Event) error {
				got = e
				want := webhooktest.Fixture(t, name)
				if strings.HasPrefix(name, "intercom/") {
					// Stamped at the request's time, as Intercom stamps what it sends.
					want = webhooktest.StampIntercom(want, webhooktest.Time())
				}
				require.Equal(t, want, d.Body)
				return nil
			})
			w := httptest.NewRecorder()
			h.ServeHTTP(w, webhooktest.NewFixtureRequest(t, name))
			require.Equal(t, http.StatusOK, w.Code)
			require.NotNil(t, got)
		})
	}
	_, err := webhooktest.FixtureRequest("elsewhere/x.json")
	require.Error(t, err)
	_, err = webhooktest.ReadFixture("jam/no-such-fixture.json")
	require.Error(t, err)
}
