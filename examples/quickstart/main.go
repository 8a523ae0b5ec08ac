// Command quickstart runs a webhook receiver on a loopback port, sends it
// one signed delivery of every kind it handles, then a forged one, a stale
// one and a replay, and prints what happened to each. Then it shows the
// same receiver in inbox mode: a delivery whose callback fails and then
// succeeds on the inbox's retry, and one that goes dead and is replayed:
//
//	go run ./examples/quickstart
//
// It exits 1 if any delivery got a status other than the one expected.
// The deliveries are signed with the public test keys of package
// webhooktest; a real receiver takes its keys from its configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// outcome records what the receiver did with the current delivery.
type outcome struct {
	mu   sync.Mutex
	what []string
}

func (o *outcome) add(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.what = append(o.what, fmt.Sprintf(format, args...))
}

func (o *outcome) take() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := strings.Join(o.what, "; ")
	o.what = nil
	return s
}

// newReceiver is the part of this program a real service has: a handler
// with keys for every source and a callback per event.
func newReceiver(o *outcome) (*webhook.Handler, error) {
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),                               // Jam, from the Svix portal: whsec_…
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),               // the Intercom app's client secret
		webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken), // the header the Series admin added
		webhook.WithLogger(slog.New(slog.DiscardHandler)),                     // the table below shows the reasons
	)
	if err != nil {
		return nil, err
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		o.add("OnJamCreated: %s", jamCreatedFields(e))
		return nil
	})
	h.OnRecorderRecorded(func(ctx context.Context, d *webhook.Delivery, e *event.RecorderRecorded) error {
		o.add("OnRecorderRecorded: %s", recordedFields(e))
		return nil
	})
	h.OnRecorderOptedOut(func(ctx context.Context, d *webhook.Delivery, e *event.RecorderOptedOut) error {
		o.add("OnRecorderOptedOut: %s", optedOutFields(e))
		return nil
	})
	h.OnIntercom("conversation.*", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		o.add("OnIntercom(conversation.*): %s", conversationFields(n))
		return nil
	})
	h.OnIntercom("ping", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		o.add("OnIntercom(ping): %s", pingFields(n))
		return nil
	})
	h.OnSeries(func(ctx context.Context, d *webhook.Delivery, s *event.SeriesWebhook) error {
		o.add("OnSeries: %s", seriesFields(s))
		return nil
	})
	h.OnUnknown(func(ctx context.Context, d *webhook.Delivery, e *event.UnknownEvent) error {
		o.add("OnUnknown: type=%q", e.Type)
		return nil
	})
	h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) {
		if dg := err.Diagnosis; dg != nil && dg.Hint != webhook.HintNone {
			// The evidence about why, for the log and alerts; the
			// sender only ever sees the status.
			o.add("OnError: %v (hint %s: %s)", err.Err, dg.Hint, dg.Evidence)
			return
		}
		o.add("OnError: %v", err.Err)
	})
	return h, nil
}

// A step is one delivery and the status it must get.
type step struct {
	what string
	req  func(now time.Time) (*http.Request, error)
	want int
}

// The fixtures sent: one of each kind, as the senders send them.
const (
	fixtureJamCreated    = "jam/jam.created.maximal.json"
	fixtureRecorded      = "jam/intercom.recorder.recorded.flat.json"
	fixtureOptedOut      = "jam/intercom.recorder.opted_out.envelope.json"
	fixtureIntercomReply = "intercom/conversation.user.replied.json"
	fixtureIntercomPing  = "intercom/ping.json"
	fixtureSeries        = "series/contact.form"
)

// The deliveries: each kind, then the attacks. Requests are signed at
// now with webhooktest's test keys.
func steps() []step {
	fixture := func(name string, opts ...webhooktest.RequestOption) func(time.Time) (*http.Request, error) {
		return func(now time.Time) (*http.Request, error) {
			return webhooktest.NewFixtureRequest(name, append([]webhooktest.RequestOption{webhooktest.WithTime(now)}, opts...)...), nil
		}
	}
	forged := func(now time.Time) (*http.Request, error) {
		// Signed with a key the receiver does not have.
		return webhooktest.NewStandardRequest("whsec_Zm9yZ2VkLWJ5LXNvbWVvbmUtd2l0aG91dC10aGUta2V5",
			webhooktest.Fixture(fixtureJamCreated), webhooktest.WithTime(now)), nil
	}
	return []step{
		{"Jam jam.created", fixture(fixtureJamCreated, webhooktest.WithID(replayID)), http.StatusOK},
		{"Jam intercom.recorder.recorded", fixture(fixtureRecorded), http.StatusOK},
		{"Jam intercom.recorder.opted_out (svix-* headers)", fixture(fixtureOptedOut, webhooktest.WithSvixHeaders()), http.StatusOK},
		{"Intercom conversation.user.replied", fixture(fixtureIntercomReply), http.StatusOK},
		{"Intercom ping", fixture(fixtureIntercomPing), http.StatusOK},
		{"Series webhook (form-encoded)", fixture(fixtureSeries), http.StatusOK},
		{"forged: jam.created signed with another key", forged, http.StatusUnauthorized},
		{"stale: jam.created signed 10 minutes ago", func(now time.Time) (*http.Request, error) {
			return fixture(fixtureJamCreated)(now.Add(-10 * time.Minute))
		}, http.StatusUnauthorized},
		{"replay: #1 again, same id, fresh signature", fixture(fixtureJamCreated, webhooktest.WithID(replayID)), http.StatusOK},
	}
}

// replayID is the message id of the first delivery, sent again last.
const replayID = "msg_quickstart_1"

// run starts the receiver, sends the deliveries and prints the table.
func run(w io.Writer) error {
	var o outcome
	h, err := newReceiver(&o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ib := webhook.NewMemoryInbox(1000, nil)
	var crmBroken atomic.Bool
	hi, err := newInboxReceiver(&o, ib, &crmBroken)
	if err != nil {
		return err
	}
	workers, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- hi.Run(workers) }()
	defer func() { stop(); <-ran }()
	mux := http.NewServeMux()
	mux.Handle("/webhooks", h)
	mux.Handle("/inbox", hi)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/webhooks"
	fmt.Fprintf(w, "receiver listening on %s\n\n", url)

	client := &http.Client{Timeout: 10 * time.Second}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSENT\tSTATUS\tWHAT RAN")
	var unexpected []string
	for i, s := range steps() {
		status, err := deliver(client, url, s)
		if err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
		ran := o.take()
		if ran == "" {
			ran = "nothing: a duplicate is acknowledged, not processed again"
		}
		mark := ""
		if status != s.want {
			mark = fmt.Sprintf(" (want %d)", s.want)
			unexpected = append(unexpected, fmt.Sprintf("#%d %s: %d, want %d", i+1, s.what, status, s.want))
		}
		fmt.Fprintf(tw, "%d\t%s\t%d %s%s\t%s\n", i+1, s.what, status, http.StatusText(status), mark, ran)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := runInbox(w, client, "http://"+ln.Addr().String()+"/inbox", ib, &o, &crmBroken); err != nil {
		return err
	}
	if len(unexpected) > 0 {
		return errors.New("unexpected statuses: " + strings.Join(unexpected, ", "))
	}
	fmt.Fprintln(w, "\nall statuses as expected")
	return nil
}

// deliver sends a step's request to url, over the network.
func deliver(client *http.Client, url string, s step) (int, error) {
	r, err := s.req(time.Now())
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest(r.Method, url, r.Body)
	if err != nil {
		return 0, err
	}
	req.Header = r.Header
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
