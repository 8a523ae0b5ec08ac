package webhook_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
)

// Keys per Intercom app: every app posts to the one URL, and the key
// function picks the app's client secret by the app_id the body names.
// The hint is unverified, so it only picks the keys: a body naming one app
// but signed with another's secret fails their check.
func ExampleWithKeyFunc_intercom() {
	apps := map[string]*webhook.Keys{}
	for app, secret := range map[string]string{"x7k2p9m4": webhooktest.IntercomSecret, "q7k3zm2x": "5d1e7c3a-2b4f-4e6a-9c8d-0f1a2b3c4d5e"} {
		iv, err := webhook.NewIntercomVerifier(secret)
		if err != nil {
			panic(err)
		}
		apps[app] = &webhook.Keys{Tenant: "app-" + app, Intercom: iv}
	}
	h, err := webhook.NewHandler(
		webhook.WithKeyFunc(func(ctx context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
			return apps[hint.AppID], nil // nil for an unknown app: 401
		}),
		webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	h.OnIntercom("conversation.*", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		fmt.Println(n.Topic, "for", d.Tenant, "dedupe key", d.Key)
		return nil
	})

	body := webhooktest.Fixture("intercom/conversation.user.replied.json") // app_id q7k3zm2x
	for _, tt := range []struct {
		name, secret string
		body         []byte
	}{
		{"its own app's secret", "5d1e7c3a-2b4f-4e6a-9c8d-0f1a2b3c4d5e", body},
		{"another app's secret", webhooktest.IntercomSecret, body},
		{"an app with no keys", webhooktest.IntercomSecret, []byte(strings.Replace(string(body), `"q7k3zm2x"`, `"zz9unknown"`, 1))},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, webhooktest.NewIntercomRequest(tt.secret, tt.body, webhooktest.WithTime(webhooktest.Time())))
		fmt.Println(tt.name+":", w.Code)
	}
	// Output:
	// conversation.user.replied for app-q7k3zm2x dedupe key intercom@app-q7k3zm2x:notif_3f1c9a2e-7b4d-4e58-a6c1-0d9e8f7a6b5c
	// its own app's secret: 200
	// another app's secret: 401
	// an app with no keys: 401
}
