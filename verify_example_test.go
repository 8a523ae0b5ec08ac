package webhook_test

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
)

// The Standard Webhooks specification's own vector, verified at the time
// it was signed.
func ExampleVerifier_Verify() {
	signedAt := time.Unix(1614265330, 0)
	v, err := webhook.NewVerifier(
		[]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		webhook.WithClock(func() time.Time { return signedAt }),
	)
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	h.Set("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("svix-timestamp", "1614265330")
	h.Set("svix-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")

	id, ts, err := v.Verify([]byte(`{"test": 2432232314}`), h)
	fmt.Println(id, ts.UTC().Format(time.RFC3339), err)

	_, _, err = v.Verify([]byte(`{"test": 1}`), h)
	fmt.Println(errors.Is(err, webhook.ErrNoMatchingSignature))
	// Output:
	// msg_p5jXN8AQM9LWM0D4loKWxJek 2021-02-25T15:02:10Z <nil>
	// true
}

// Rotating keys without a restart: accept the old and the new secret for a
// while, then drop the old one.
func ExampleVerifier_SetSecrets() {
	v, err := webhook.NewVerifier([]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	if err != nil {
		panic(err)
	}
	newSecret := "whsec_bmV3LXNlY3JldC1mb3ItdGhlLWV4YW1wbGUtMQ=="
	fmt.Println(v.SetSecrets("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", newSecret))
	fmt.Println(v.SetSecrets(newSecret))
	// A bad secret is refused and the keys in place stay.
	err = v.SetSecrets("whsec_not base64")
	fmt.Println(errors.Is(err, webhook.ErrInvalidSecret))
	// Output:
	// <nil>
	// <nil>
	// true
}

func ExampleIntercomVerifier_Verify() {
	v, err := webhook.NewIntercomVerifier("3f9a1c7e-55b2-4d0e-a8c6-91e4b7d2f013")
	if err != nil {
		panic(err)
	}
	body := []byte(`{"type":"notification_event","app_id":"q7x2lm4v","data":{"type":"notification_event_data","item":{"type":"conversation","id":"184467440737","state":"open"}},"id":"notif_5b0d1c7e-3f0a-4e5b-9a39-8f4f2d7c1e60","topic":"conversation.user.replied","delivery_status":"pending","delivery_attempts":1,"delivered_at":0,"first_sent_at":1795525260,"created_at":1795525260}`)
	h := http.Header{}
	h.Set("X-Hub-Signature", "sha1=4f3abf0552e4d1c0f8760a00929e5f0640dd6406")
	fmt.Println(v.Verify(body, h))

	// Intercom signs the bytes as sent: re-encoded JSON does not verify.
	err = v.Verify(append(body, '\n'), h)
	var ve *webhook.VerifyError
	fmt.Println(errors.As(err, &ve), ve.Source, errors.Is(err, webhook.ErrNoMatchingSignature))
	// Output:
	// <nil>
	// true intercom true
}

func ExampleSeriesVerifier_Verify() {
	v, err := webhook.NewSeriesVerifier("X-Series-Token", "series-token-7Yq2Lm9Xv4Rk8Tz")
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	h.Set("X-Series-Token", "series-token-7Yq2Lm9Xv4Rk8Tz")
	fmt.Println(v.Verify(h))
	h.Set("X-Series-Token", "guess")
	fmt.Println(v.Verify(h))
	// Output:
	// <nil>
	// webhook: series: no matching signature found
}

// Intercom signs no timestamp header, but created_at is inside the signed
// body: bound the age after verifying, so a capture replayed once the
// dedupe store has forgotten its id is still refused.
func ExampleVerifyIntercomAge() {
	body := []byte(`{"type":"notification_event","id":"notif_3f1c","topic":"conversation.user.replied","created_at":1773406800}`)
	ev, err := event.ParseFrom(event.SourceIntercom, body) // after IntercomVerifier.Verify
	if err != nil {
		panic(err)
	}
	n := ev.(*event.IntercomNotification)
	created := time.Unix(1773406800, 0)
	fmt.Println(webhook.VerifyIntercomAge(n, created.Add(time.Minute), webhook.DefaultRetention)) // Intercom's retry
	err = webhook.VerifyIntercomAge(n, created.Add(30*24*time.Hour), webhook.DefaultRetention)
	fmt.Println(errors.Is(err, webhook.ErrMessageTooOld))
	// Output:
	// <nil>
	// true
}

// Secrets are used exactly as given: one read from a file with its
// trailing newline, or another source's key, is refused with a message
// that says what is wrong and never holds the secret.
func ExampleNewVerifier_secretRule() {
	_, err := webhook.NewVerifier([]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"})
	fmt.Println(err)
	_, err = webhook.NewIntercomVerifier("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	fmt.Println(errors.Is(err, webhook.ErrInvalidSecret))
	// Unpadded base64 is fine.
	_, err = webhook.NewVerifier([]string{"whsec_dGVzdC1zZWNyZXQtZm9yLWluaG9vay13ZWJob29rdGVzdA"})
	fmt.Println(err)
	// Output:
	// webhook: secret 0 ends with a line break (kept from a file or an echo?); secrets are used exactly as given, never trimmed: invalid secret
	// true
	// <nil>
}
