package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
)

// newInboxReceiver is the receiver in inbox mode: it answers once a
// delivery is stored in ib, and Run's workers call the callbacks, retrying
// failures. Its callbacks fail on purpose: the CRM times out on the first
// try of a Jam, and rejects recordings while crmBroken is set.
func newInboxReceiver(o *outcome, ib webhook.Inbox, crmBroken *atomic.Bool) (*webhook.Handler, error) {
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithInbox(ib),
		// Short waits so the demo finishes at once; the defaults retry
		// 25 times over up to three days.
		webhook.WithWorkers(webhook.WorkerConfig{MaxAttempts: 3, MinBackoff: 20 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, Poll: 10 * time.Millisecond}),
	)
	if err != nil {
		return nil, err
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		if d.InboxAttempt == 1 {
			o.add("run 1 failed: CRM timed out")
			return errors.New("CRM timed out")
		}
		o.add("run %d: OnJamCreated: jam %s", d.InboxAttempt, e.JamID)
		return nil
	})
	h.OnRecorderRecorded(func(ctx context.Context, d *webhook.Delivery, e *event.RecorderRecorded) error {
		if crmBroken.Load() {
			o.add("run %d failed", d.InboxAttempt)
			return fmt.Errorf("CRM rejects conversation %s", e.ConversationID)
		}
		o.add("run %d: OnRecorderRecorded: conversation %s", d.InboxAttempt, e.ConversationID)
		return nil
	})
	return h, nil
}

// The inbox steps' message ids, which make their inbox keys.
const (
	inboxRetriedID = "msg_quickstart_inbox_1"
	inboxDeadID    = "msg_quickstart_inbox_2"
)

// runInbox sends two deliveries to the inbox receiver at url and prints
// what the workers did with them: one succeeds on the inbox's retry, one
// goes dead and is replayed once the CRM is fixed.
func runInbox(w io.Writer, client *http.Client, url string, ib webhook.Inbox, o *outcome, crmBroken *atomic.Bool) error {
	ctx := context.Background()
	fmt.Fprintf(w, "\ninbox mode on %s: 200 once stored (in memory here: MemoryInbox is not durable),\n"+
		"then the workers run the callbacks, at least once, retrying failures\n\n", url)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSENT\tSTATUS\tWHAT THE WORKERS DID")
	var unexpected []string
	row := func(n int, what string, status int, key string, want webhook.InboxState) error {
		e, err := waitFor(ctx, ib, key, want)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		end := fmt.Sprintf("%s after %d runs", e.State, e.Attempts)
		if e.State == webhook.InboxDead {
			end += fmt.Sprintf(", last error %q", e.LastError)
		}
		if status != http.StatusOK {
			unexpected = append(unexpected, fmt.Sprintf("#%d %s: %d, want 200", n, what, status))
		}
		fmt.Fprintf(tw, "%d\t%s\t%d %s\t%s; %s\n", n, what, status, http.StatusText(status), o.take(), end)
		return nil
	}
	send := func(fixture, id string) (int, error) {
		return deliver(client, url, step{req: func(now time.Time) (*http.Request, error) {
			return webhooktest.NewFixtureRequest(fixture, webhooktest.WithTime(now), webhooktest.WithID(id)), nil
		}})
	}

	status, err := send(fixtureJamCreated, inboxRetriedID)
	if err != nil {
		return err
	}
	if err := row(10, "Jam jam.created", status, "standard:"+inboxRetriedID, webhook.InboxDone); err != nil {
		return err
	}
	crmBroken.Store(true)
	status, err = send(fixtureRecorded, inboxDeadID)
	if err != nil {
		return err
	}
	if err := row(11, "Jam intercom.recorder.recorded", status, "standard:"+inboxDeadID, webhook.InboxDead); err != nil {
		return err
	}
	// The CRM is fixed: replay the dead letter.
	crmBroken.Store(false)
	if err := ib.Replay(ctx, "standard:"+inboxDeadID); err != nil {
		return err
	}
	e, err := waitFor(ctx, ib, "standard:"+inboxDeadID, webhook.InboxDone)
	if err != nil {
		return err
	}
	fmt.Fprintf(tw, "12\treplay of #11 (Inbox.Replay), the CRM fixed\t-\t%s; %s after %d run\n", o.take(), e.State, e.Attempts)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(unexpected) > 0 {
		return errors.New("unexpected statuses: " + strings.Join(unexpected, ", "))
	}
	return nil
}

// waitFor polls the inbox until key is in state.
func waitFor(ctx context.Context, ib webhook.Inbox, key string, state webhook.InboxState) (webhook.InboxEntry, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		e, err := ib.Get(ctx, key)
		if err != nil {
			return e, err
		}
		if e.State == state {
			return e, nil
		}
		if time.Now().After(deadline) {
			return e, fmt.Errorf("%s is %s, not %s, after 10s", key, e.State, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
