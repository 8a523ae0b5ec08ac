package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// The functions below hold the README's snippets of the core's API line
// for line (TestREADMESnippetsCompile, at the root, finds them here), and
// the tests run them. Between the README's blocks they add only what the
// README leaves to the reader: the checks and answers between steps.

// verifyByHand is "Verify and decode without the handler", for Jam.
func verifyByHand(w http.ResponseWriter, r *http.Request) {
	v, err := webhook.NewVerifier([]string{os.Getenv("WEBHOOK_SECRET")}) // whsec_…
	if err != nil {
		log.Fatal(err)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil { // over 1 MiB (an *http.MaxBytesError), or the sender hung up
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	id, attemptedAt, err := v.Verify(body, r.Header) // webhook-* or svix-* headers
	if err != nil {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	log.Println("verified", id, attemptedAt.UTC().Format(time.RFC3339))

	ev, err := event.ParseFrom(event.SourceStandard, body) // after Verify; errors wrap ErrInvalidJSON (answer 400)
	switch ev := ev.(type) {
	case *event.JamCreated:
		uuid, _ := event.JamUUID(ev.JamURL)
		log.Println("new Jam", uuid, "by", ev.Author.Email)
	case *event.RecorderRecorded: // flat, envelope and Fin connector shapes alike
		log.Println("recording for conversation", ev.ConversationID)
	case *event.UnknownEvent: // a type this version does not know: acknowledge it
	}
	if errors.Is(err, event.ErrInvalidJSON) {
		http.Error(w, "bad request", http.StatusBadRequest)
	}
}

// intercomByHand is the same for Intercom, with the age check.
func intercomByHand(iv *webhook.IntercomVerifier) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil { // over 1 MiB, or the sender hung up
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err := iv.Verify(body, r.Header); err != nil { // iv is an *IntercomVerifier
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		ev, err := event.ParseFrom(event.SourceIntercom, body)
		if n, ok := ev.(*event.IntercomNotification); ok {
			if err := webhook.VerifyIntercomAge(n, time.Now(), webhook.DefaultRetention); err != nil {
				http.Error(w, "unauthorized", http.StatusUnauthorized) // a replay the store may have forgotten
				return
			}
			if c := n.Conversation(); c != nil {
				log.Println(n.Topic, n.ID, c.ID, c.Priority)
			}
		}
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
		}
	}
}

// tooLarge is a JSON body past the snippets' 1 MiB limit: read whole, it
// would verify, so only the read's error can refuse it.
func tooLarge() []byte {
	return []byte(`{"type":"jam.created","pad":"` + strings.Repeat("x", 1<<20) + `"}`)
}

// captureLog sends the standard logger's lines, without their time, to
// the buffer it returns until the test ends.
func captureLog(t *testing.T) *bytes.Buffer {
	var buf bytes.Buffer
	flags, out := log.Flags(), log.Writer()
	log.SetFlags(0)
	log.SetOutput(&buf)
	t.Cleanup(func() { log.SetFlags(flags); log.SetOutput(out) })
	return &buf
}

func TestVerifyByHand(t *testing.T) {
	t.Setenv("WEBHOOK_SECRET", webhooktest.Secret)
	now := time.Now()
	at := now.UTC().Format(time.RFC3339)
	signed := func(name string, at time.Time) *http.Request {
		return webhooktest.NewFixtureRequest(name, webhooktest.WithTime(at), webhooktest.WithID("msg_readme_1"))
	}
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("another endpoint's secret"))
	tests := []struct {
		name    string
		req     *http.Request
		status  int
		wantLog string // "" for none
	}{
		{"jam.created", signed("jam/jam.created.maximal.json", now), http.StatusOK,
			"verified msg_readme_1 " + at + "\nnew Jam 7c9e6679-7425-40de-944b-e07fc1f90ae7 by marta.oyelaran@larkspur-outdoor.example\n"},
		{"flat recorder shape", signed("jam/intercom.recorder.recorded.flat.json", now), http.StatusOK,
			"verified msg_readme_1 " + at + "\nrecording for conversation 215468124011902\n"},
		{"Fin connector shape", signed("jam/intercom.recorder.recorded.fin.json", now), http.StatusOK, "\nrecording for conversation "},
		{"unknown type, acknowledged", signed("jam/jam.updated.envelope.json", now), http.StatusOK, "verified msg_readme_1 " + at + "\n"},
		{"signed, not JSON", webhooktest.NewStandardRequest(webhooktest.Secret, []byte("{"), webhooktest.WithTime(now), webhooktest.WithID("msg_readme_1")),
			http.StatusBadRequest, "verified msg_readme_1 " + at + "\n"},
		{"another secret", webhooktest.NewStandardRequest(other, webhooktest.Fixture("jam/jam.created.maximal.json"), webhooktest.WithTime(now)), http.StatusUnauthorized, ""},
		{"signed an hour ago", signed("jam/jam.created.maximal.json", now.Add(-time.Hour)), http.StatusUnauthorized, ""},
		{"signed, over 1 MiB", webhooktest.NewStandardRequest(webhooktest.Secret, tooLarge(), webhooktest.WithTime(now)), http.StatusRequestEntityTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := captureLog(t)
			w := httptest.NewRecorder()
			verifyByHand(w, tt.req)
			require.Equal(t, tt.status, w.Code)
			if tt.wantLog == "" {
				require.Empty(t, logs.String())
			} else {
				require.Contains(t, logs.String(), tt.wantLog)
			}
		})
	}
}

func TestIntercomByHand(t *testing.T) {
	iv, err := webhook.NewIntercomVerifier(webhooktest.IntercomSecret)
	require.NoError(t, err)
	now := time.Now()
	const name = "intercom/conversation.priority.updated.json"
	tests := []struct {
		name    string
		req     *http.Request
		status  int
		wantLog string // "" for none
	}{
		{"created now", webhooktest.NewFixtureRequest(name, webhooktest.WithTime(now)), http.StatusOK,
			"conversation.priority.updated notif_a1b2c3d4-0007-4e00-8000-000000000007 215468124301118 high\n"},
		{"created past the retention", webhooktest.NewFixtureRequest(name, webhooktest.WithTime(now.Add(-webhook.DefaultRetention-time.Minute))), http.StatusUnauthorized, ""},
		{"another client secret", webhooktest.NewIntercomRequest("3f6a1c9e-2b7d-4e58-a0c4-9d8e7f6a5b4c", webhooktest.Fixture(name), webhooktest.WithTime(now)), http.StatusUnauthorized, ""},
		{"signed, not JSON", webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, []byte("{")), http.StatusBadRequest, ""},
		{"signed, over 1 MiB", webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, tooLarge()), http.StatusRequestEntityTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := captureLog(t)
			w := httptest.NewRecorder()
			intercomByHand(iv)(w, tt.req)
			require.Equal(t, tt.status, w.Code)
			require.Equal(t, tt.wantLog, logs.String())
		})
	}
}

// listDead is the README's loop over the dead deliveries of an inbox,
// those dead the longest first.
func listDead(ctx context.Context, ib webhook.Inbox) error {
	q := webhook.InboxQuery{State: webhook.InboxDead, Order: webhook.InboxByUpdated, OmitBody: true}
	for {
		page, err := ib.List(ctx, q)
		if err != nil {
			return err
		}
		for _, e := range page.Entries {
			fmt.Println(e.Key, e.LastError)
		}
		if !page.More {
			break
		}
		q.After = page.Next
	}
	return nil
}

func Example_listDead() {
	ctx := context.Background()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	ib := webhook.NewMemoryInbox(0, func() time.Time { return now })
	for _, id := range []string{"msg_1", "msg_2", "msg_3"} {
		_, _ = ib.Store(ctx, &webhook.InboxEntry{Key: "standard:" + id, Source: event.SourceStandard, ID: id, Body: []byte(`{}`)})
		now = now.Add(time.Second)
	}
	// msg_2 dies first, then msg_3; msg_1 stays pending.
	ls, _ := ib.Lease(ctx, 3, time.Minute)
	for _, key := range []string{"standard:msg_2", "standard:msg_3"} {
		for _, l := range ls {
			if l.Entry.Key == key {
				_ = ib.Kill(ctx, key, l.Token, "the CRM said no to "+key)
				now = now.Add(time.Second)
			}
		}
	}
	if err := listDead(ctx, ib); err != nil {
		fmt.Println(err)
	}
	// Output:
	// standard:msg_2 the CRM said no to standard:msg_2
	// standard:msg_3 the CRM said no to standard:msg_3
}

// serveCapture is the README's test input from a delivery the inspector
// saved in testdata/captured.
func serveCapture(t *testing.T, h *webhook.Handler, w http.ResponseWriter) *webhooktest.Capture {
	c, err := webhooktest.ReadCapture(os.DirFS("testdata/captured"), "jam/jam.created.msg_2Qd8s1YfKz7LmW3vX9pA.json")
	require.NoError(t, err)
	// webhook.WithClock(func() time.Time { return c.Received }) keeps its timestamp in the window.
	h.ServeHTTP(w, c.Request())
	return c
}

// TestServeCapture: a handler whose clock reads the capture's arrival
// time (its "# received:" line) accepts it; one on today's clock refuses
// it as too old.
func TestServeCapture(t *testing.T) {
	received := time.Date(2026, 11, 24, 9, 0, 1, 0, time.UTC) // testdata/captured/jam/….headers
	tests := []struct {
		name  string
		clock func() time.Time
		want  int
	}{
		{"clock at its arrival", func() time.Time { return received }, http.StatusOK},
		{"today's clock", time.Now, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithClock(tt.clock),
				webhook.WithLogger(slog.New(slog.DiscardHandler)))
			require.NoError(t, err)
			var got *event.JamCreated
			h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
				got = e
				return nil
			})
			w := httptest.NewRecorder()
			c := serveCapture(t, h, w)
			require.Equal(t, received, c.Received)
			require.Equal(t, tt.want, w.Code)
			if tt.want == http.StatusOK {
				require.NotNil(t, got)
				require.Equal(t, "7c9e6679-7425-40de-944b-e07fc1f90ae7", got.JamID)
			}
		})
	}
}
