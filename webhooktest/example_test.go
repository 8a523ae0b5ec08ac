package webhooktest_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
)

// Testing a handler with a fixture: configure the handler with the
// package's test keys and a clock set to the instant requests are signed
// at, serve the fixture's signed request with httptest, and check the
// status and what the callbacks saw. Like httptest.NewRequest, the
// builders return the request and panic on a name that is no fixture.
func Example() {
	clock := webhooktest.NewClock(webhooktest.Time())
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithClock(clock.Now),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		fmt.Println("jam.created:", e.JamID, e.Author.Email)
		return nil
	})
	h.OnIntercom("conversation.*", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		fmt.Println("intercom:", n.Topic, d.ID)
		return nil
	})

	for _, name := range []string{"jam/jam.created.maximal.json", "intercom/conversation.user.replied.json"} {
		r := webhooktest.NewFixtureRequest(name)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println("status:", w.Code)
	}

	// Ten minutes later, a request signed at webhooktest.Time() is
	// outside the window.
	clock.Advance(10 * time.Minute)
	r := webhooktest.NewFixtureRequest("jam/jam.created.minimal.json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println("status:", w.Code)
	// Output:
	// jam.created: 7c9e6679-7425-40de-944b-e07fc1f90ae7 marta.oyelaran@larkspur-outdoor.example
	// status: 200
	// intercom: conversation.user.replied notif_3f1c9a2e-7b4d-4e58-a6c1-0d9e8f7a6b5c
	// status: 200
	// status: 401
}

// A handler that verifies v1a (ed25519) signatures is configured with a
// whpk_ public key; its tests sign with the matching whsk_ signing key,
// which only a sender holds.
func ExampleNewStandardRequest_signingKey() {
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.PublicKey),
		webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		fmt.Println("jam.created:", e.JamID)
		return nil
	})
	body := webhooktest.Fixture("jam/jam.created.minimal.json")
	for _, key := range []string{webhooktest.SigningKey, webhooktest.Secret} {
		r := webhooktest.NewStandardRequest(key, body)
		version, _, _ := strings.Cut(r.Header.Get("Webhook-Signature"), ",")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(version, "status:", w.Code)
	}
	// Output:
	// jam.created: 0b6d2f1e-93c4-4d7a-8e25-6f1a9c3b4d80
	// v1a status: 200
	// v1 status: 401
}

// Intercom signs the body with the app's client secret and stamps no
// header with a time: the handler bounds a notification's age by its
// signed created_at, and deduplicates on its id. WithTime stamps the body
// before signing it, as Intercom stamps what it sends, and WithID sets its
// id, which makes it another notification.
func ExampleNewIntercomRequest() {
	h, err := webhook.NewHandler(
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	h.OnIntercom("conversation.*", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		fmt.Println("ran for", n.Topic, "conversation", n.Conversation().ID, "notification", d.ID)
		return nil
	})
	body := webhooktest.Fixture("intercom/conversation.user.replied.json")
	for _, opts := range [][]webhooktest.RequestOption{
		{webhooktest.WithTime(webhooktest.Time())},                                // fresh
		{webhooktest.WithTime(webhooktest.Time())},                                // Intercom's retry: the same body and id, a duplicate
		{webhooktest.WithTime(webhooktest.Time()), webhooktest.WithID("notif_2")}, // another notification
		{webhooktest.WithTime(webhooktest.Time().Add(-96 * time.Hour))},           // older than the max age (72h by default)
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, body, opts...))
		fmt.Println("status:", w.Code)
	}
	// Output:
	// ran for conversation.user.replied conversation 215468124301118 notification notif_3f1c9a2e-7b4d-4e58-a6c1-0d9e8f7a6b5c
	// status: 200
	// status: 200
	// ran for conversation.user.replied conversation 215468124301118 notification notif_2
	// status: 200
	// status: 401
}

// A Series webhook block carries a shared token in a header the admin
// chose, and a body of the admin's design, JSON or form-encoded.
func ExampleNewSeriesRequest() {
	h, err := webhook.NewHandler(
		webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	h.OnSeries(func(ctx context.Context, d *webhook.Delivery, e *event.SeriesWebhook) error {
		fmt.Println("series:", e.Fields["name"], "of", e.Fields["company"])
		return nil
	})
	body := []byte("name=Dana+Okafor&company=Northwind")
	for _, token := range []string{webhooktest.SeriesToken, "not-the-series-token"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, token, body,
			webhooktest.WithContentType("application/x-www-form-urlencoded")))
		fmt.Println("status:", w.Code)
	}
	// Output:
	// series: Dana Okafor of Northwind
	// status: 200
	// status: 401
}

// SignStandard and SignIntercom give the signature header value alone, for
// a request a test builds itself; a key SignStandard cannot sign with (a
// whpk_ public key) is an error, not a panic. The values are the HMACs any
// implementation computes: "id.timestamp.body" under the decoded whsec_
// key, the body under the client secret.
func ExampleSignStandard() {
	sig, err := webhooktest.SignStandard(webhooktest.Secret, "msg_2Kq8vZ", webhooktest.Time(), []byte(`{"type":"jam.created"}`))
	fmt.Println(sig, err)
	_, err = webhooktest.SignStandard(webhooktest.PublicKey, "msg_2Kq8vZ", webhooktest.Time(), []byte(`{}`))
	fmt.Println(err != nil)
	fmt.Println(webhooktest.SignIntercom(webhooktest.IntercomSecret, []byte(`{}`)))
	// Output:
	// v1,FFDsbTkYTgdSImWeVczpAcF2oOF8GInJvNKrNC3jWUE= <nil>
	// true
	// sha1=299ebc1f597b3f1d841d2566c5e8e04e3b767996
}

// Testing inbox mode's retries without waiting for them: the handler and
// its inbox share one Clock, so a failed run's retry comes due only when
// the test advances it, and an Observer's done hook says when each run's
// outcome is recorded in the inbox. The workers still look for due
// retries on a real timer (WorkerConfig.Poll), so keep Poll short.
func ExampleClock() {
	clock := webhooktest.NewClock(webhooktest.Time())
	inbox := webhook.NewMemoryInbox(0, clock.Now) // or sqlitestore.Open(path, sqlitestore.WithClock(clock.Now))
	runs := make(chan webhook.Dispatched, 16)     // each run's outcome; room to spare, as hooks must not block
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(clock.Now),
		webhook.WithInbox(inbox),
		webhook.WithWorkers(webhook.WorkerConfig{MinBackoff: time.Second, MaxBackoff: time.Minute, Poll: time.Millisecond}),
		webhook.WithObserver(&webhook.Observer{
			Dispatch: func(ctx context.Context, d *webhook.Delivery, meta map[string]string) (context.Context, func(webhook.Dispatched)) {
				return ctx, func(r webhook.Dispatched) { runs <- r } // after the inbox recorded the outcome
			},
		}),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	var crmDown atomic.Bool
	crmDown.Store(true)
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		if crmDown.Load() {
			return errors.New("CRM timed out")
		}
		return nil
	})
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- h.Run(ctx) }()

	w := httptest.NewRecorder()
	h.ServeHTTP(w, webhooktest.NewFixtureRequest("jam/jam.created.minimal.json", webhooktest.WithID("msg_1")))
	fmt.Println("answered", w.Code)

	r := <-runs
	fmt.Println("run", r.Attempt, r.Outcome, r.Err)
	e, err := inbox.Get(ctx, "standard:msg_1")
	if err != nil {
		panic(err)
	}
	fmt.Println(e.State, "until the clock reaches NextAttempt:", e.NextAttempt.After(clock.Now()))

	crmDown.Store(false)
	clock.Advance(time.Minute) // MaxBackoff: the longest a retry waits
	r = <-runs
	fmt.Println("run", r.Attempt, r.Outcome)
	stop()
	fmt.Println("Run:", <-stopped)
	// Output:
	// answered 200
	// run 1 retry CRM timed out
	// pending until the clock reaches NextAttempt: true
	// run 2 success
	// Run: <nil>
}

// Rotating a Standard Webhooks secret: while keys rotate the sender signs
// each delivery with the old key and the new, one signature each, and a
// handler holding either accepts it. A handler that holds the new key
// alone refuses a delivery signed with the old one only.
func ExampleWithExtraSecrets() {
	const newSecret = "whsec_b3RoZXIta2V5LWZvci1yb3RhdGlvbi10ZXN0cw=="
	h, err := webhook.NewHandler(
		webhook.WithSecrets(newSecret),
		webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		fmt.Println("jam.created", d.ID)
		return nil
	})
	body := webhooktest.Fixture("jam/jam.created.minimal.json")
	for _, r := range []*http.Request{
		webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithExtraSecrets(newSecret), webhooktest.WithID("msg_rotating")),
		webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithID("msg_old_key")),
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(len(strings.Fields(r.Header.Get("Webhook-Signature"))), "signatures, status:", w.Code)
	}
	// Output:
	// jam.created msg_rotating
	// 2 signatures, status: 200
	// 1 signatures, status: 401
}

// A test of what the handler refuses sends the fault itself: WithHeader
// replaces a header the builder signed, so the request carries a wrong
// signature, an id other than the one signed, or a Content-Type the
// sender never sends, and nothing else is wrong with it.
func ExampleWithHeader() {
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	h.OnError(func(_ context.Context, _ *webhook.Delivery, err *webhook.HandlerError) {
		fmt.Println("no matching signature:", errors.Is(err, webhook.ErrNoMatchingSignature))
	})
	body := webhooktest.Fixture("jam/jam.created.minimal.json")
	for _, fault := range []webhooktest.RequestOption{
		webhooktest.WithHeader("Webhook-Signature", "v1,"+base64.StdEncoding.EncodeToString(make([]byte, 32))),
		webhooktest.WithHeader("Webhook-Id", "msg_not_the_signed_one"),
		webhooktest.WithHeader("Content-Type", "text/plain"),
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, body, fault))
		fmt.Println("status:", w.Code)
	}
	// Output:
	// no matching signature: true
	// status: 401
	// no matching signature: true
	// status: 401
	// no matching signature: false
	// status: 415
}
