package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
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

// FuzzIntercomSigned holds Intercom verification to its definition,
// computed here from crypto/hmac: X-Hub-Signature verifies exactly when it
// is one value, "sha1=" and 40 hex digits (either case) that are the
// HMAC-SHA1 of the body under the client secret. Verify and the handler
// agree with that on any body and any header, for both API generations of
// the payload; a refused delivery reaches no callback and its error holds
// neither the secret, the MAC, nor the signature received; a verified one
// reaches the callback as the event event.Parse decodes from the body,
// whose envelope is what encoding/json decodes where encoding/json
// decodes it without error.
//
// The header template may hold $SIG, the right hex MAC, so that the
// fuzzer explores the syntax around a valid signature; mode 0 signs
// right, mode 1 with another app's secret, mode 2 uses the template.
func FuzzIntercomSigned(f *testing.F) {
	for _, name := range webhooktest.FixtureNames() {
		if src, _, _ := webhooktest.FixtureSource(name); src == event.SourceIntercom {
			f.Add(webhooktest.Fixture(name), uint8(0), "")
		}
	}
	older := webhooktest.Fixture("intercom/conversation.user.replied.older_api.json")
	for _, tmpl := range []string{"sha1=$SIG", "SHA1=$SIG", "sha1= $SIG", "sha1=$SIG ", "sha1=$SIG,sha1=$SIG", "sha256=$SIG", "$SIG", "sha1=0$SIG"} {
		f.Add(older, uint8(2), tmpl)
	}
	f.Add(older, uint8(1), "")
	f.Add([]byte(`{"type":"notification_event","topic":"ping","created_at":1,"data":{"item":{"type":"ping"}}}`), uint8(0), "")
	f.Add([]byte(`[]`), uint8(0), "")
	const secret, other = webhooktest.IntercomSecret, "7d2e9a41-c3b8-4f50-9e61-28a4d7c0b3f5"
	v, err := webhook.NewIntercomVerifier(secret)
	require.NoError(f, err)
	now := webhooktest.Time()
	f.Fuzz(func(t *testing.T, raw []byte, mode uint8, tmpl string) {
		body := webhooktest.StampIntercom(raw, now) // fresh, where it has a time
		mac := hmac.New(sha1.New, []byte(secret))
		mac.Write(body)
		want := hex.EncodeToString(mac.Sum(nil))
		var sig string
		switch mode % 3 {
		case 0:
			sig = webhooktest.SignIntercom(secret, body)
		case 1:
			sig = webhooktest.SignIntercom(other, body)
		case 2:
			sig = strings.ReplaceAll(tmpl, "$SIG", want)
		}
		hexSig, prefixed := strings.CutPrefix(sig, "sha1=")
		signed := prefixed && strings.EqualFold(hexSig, want)
		h := http.Header{"X-Hub-Signature": {sig}}

		err := v.Verify(body, h)
		if signed {
			require.NoError(t, err, "%q over %q", sig, body)
		} else {
			require.Error(t, err, "%q over %q verified", sig, body)
			require.True(t, errors.Is(err, webhook.ErrNoMatchingSignature) || errors.Is(err, webhook.ErrInvalidHeaders) ||
				errors.Is(err, webhook.ErrRequiredHeaders), "%v", err)
			requireNoneOf(t, err.Error(), secret, want, hexSig)
		}

		hd, err := webhook.NewHandler(webhook.WithIntercomSecrets(secret), webhook.WithoutDedupe(),
			webhook.WithClock(func() time.Time { return now }), webhook.WithLogger(slog.New(slog.DiscardHandler)))
		require.NoError(t, err)
		var got []event.Event
		hd.OnAny(func(_ context.Context, d *webhook.Delivery, e event.Event) error {
			require.Equal(t, body, d.Body)
			got = append(got, e)
			return nil
		})
		var herr *webhook.HandlerError
		hd.OnError(func(_ context.Context, _ *webhook.Delivery, e *webhook.HandlerError) { herr = e })
		r := httptest.NewRequest(http.MethodPost, webhooktest.DefaultTarget, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header["X-Hub-Signature"] = []string{sig}
		w := httptest.NewRecorder()
		hd.ServeHTTP(w, r)
		if !signed {
			require.Empty(t, got, "a delivery not signed with the key reached a callback")
			require.Contains(t, []int{http.StatusBadRequest, http.StatusUnauthorized}, w.Code)
			requireNoneOf(t, w.Body.String(), secret, want, hexSig)
			if herr != nil {
				requireNoneOf(t, herr.Error(), secret, want, hexSig)
			}
			return
		}
		if herr != nil {
			for _, e := range []error{webhook.ErrNoMatchingSignature, webhook.ErrInvalidHeaders, webhook.ErrRequiredHeaders} {
				require.NotErrorIs(t, herr, e, "a signed delivery refused as unsigned")
			}
		}
		if len(got) == 0 {
			require.NotEqual(t, http.StatusOK, w.Code)
			return
		}
		require.Len(t, got, 1)
		require.Equal(t, http.StatusOK, w.Code)
		ref, err := event.Parse(body)
		require.NoError(t, err)
		require.Equal(t, ref, got[0], "the handler's event is Parse's")
		n, ok := got[0].(*event.IntercomNotification)
		if !ok {
			return
		}
		var pub event.IntercomNotification
		if json.Unmarshal(body, &pub) != nil {
			return
		}
		require.Equal(t, pub.Type, n.Type)
		require.Equal(t, pub.ID, n.ID)
		require.Equal(t, pub.Topic, n.Topic)
		require.Equal(t, pub.AppID, n.AppID)
		require.True(t, pub.CreatedAt.Equal(n.CreatedAt.Time))
		require.True(t, pub.FirstSentAt.Equal(n.FirstSentAt.Time))
		require.True(t, pub.DeliveredAt.Equal(n.DeliveredAt.Time))
		require.Equal(t, pub.DeliveryAttempts, n.DeliveryAttempts)
		require.Equal(t, pub.DeliveryStatus, n.DeliveryStatus)
		require.Equal(t, pub.Self, n.Self)
		require.Equal(t, string(pub.Links), string(n.Links))
		require.Equal(t, pub.Data.Type, n.Data.Type)
		require.Equal(t, string(pub.Data.Item), string(n.Data.Item))
	})
}

// requireNoneOf requires that s hold none of the secrets of at least 8
// bytes (a shorter one may be there by chance).
func requireNoneOf(t *testing.T, s string, secrets ...string) {
	t.Helper()
	for _, x := range secrets {
		if len(x) >= 8 {
			require.NotContains(t, s, x)
		}
	}
}
