package main

import (
	"context"
	"errors"
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

// TestREADMEQuotesTheseTests: the README's testing section quotes the
// tests below verbatim, so what a reader pastes compiles and passes.
func TestREADMEQuotesTheseTests(t *testing.T) {
	src, err := os.ReadFile("handler_test.go")
	require.NoError(t, err)
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	for _, name := range []string{"TestJamCreated", "TestJamCreatedInbox"} {
		_, fn, ok := strings.Cut(string(src), "\nfunc "+name+"(")
		require.True(t, ok, name)
		fn, _, ok = strings.Cut(fn, "\n}\n")
		require.True(t, ok, name)
		require.Contains(t, string(readme), "```go\nfunc "+name+"("+fn+"\n}\n```\n", "README.md must quote %s of examples/readme/handler_test.go verbatim in a go block", name)
	}
}

func TestJamCreated(t *testing.T) {
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(webhooktest.Time),                               // requests are signed at a fixed time
		webhook.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))), // why a request was refused
	)
	require.NoError(t, err)
	var got *event.JamCreated
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		got = e
		return nil
	})

	w := httptest.NewRecorder()
	h.ServeHTTP(w, webhooktest.NewFixtureRequest("jam/jam.created.maximal.json"))
	require.Equal(t, http.StatusOK, w.Code)
	require.NotNil(t, got, "OnJamCreated did not run") // callbacks have run when ServeHTTP returns
	require.Equal(t, "7c9e6679-7425-40de-944b-e07fc1f90ae7", got.JamID)
}

func TestJamCreatedInbox(t *testing.T) {
	clock := webhooktest.NewClock(webhooktest.Time())
	inbox := webhook.NewMemoryInbox(0, clock.Now) // the handler's clock; sqlitestore.WithClock(clock.Now) likewise
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(clock.Now),
		webhook.WithInbox(inbox),
		webhook.WithWorkers(webhook.WorkerConfig{MaxBackoff: time.Minute}), // a retry waits a minute at most
	)
	require.NoError(t, err)
	crmDown := true // no lock: Drain returns once the callbacks have
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		if crmDown {
			return errors.New("CRM timed out")
		}
		return nil
	})
	ctx := t.Context()

	w := httptest.NewRecorder()
	h.ServeHTTP(w, webhooktest.NewFixtureRequest("jam/jam.created.maximal.json", webhooktest.WithID("msg_1")))
	require.Equal(t, http.StatusOK, w.Code) // stored, not run yet
	n, err := h.Drain(ctx)                  // runs what is due; returns once the inbox has the outcome
	require.NoError(t, err)
	require.Equal(t, 1, n)
	e, err := inbox.Get(ctx, "standard:msg_1")
	require.NoError(t, err)
	require.Equal(t, webhook.InboxPending, e.State) // to be retried
	require.Equal(t, "CRM timed out", e.LastError)

	crmDown = false
	clock.Advance(time.Minute) // MaxBackoff: the retry is due
	n, err = h.Drain(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	e, err = inbox.Get(ctx, "standard:msg_1")
	require.NoError(t, err)
	require.Equal(t, webhook.InboxDone, e.State)
	require.Equal(t, 2, e.Attempts)
}
