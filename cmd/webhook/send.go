package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
)

const sendUsage = `
Usage: webhook send [flags] [fixture…]
       webhook send [flags] --all
       webhook send [flags] --file body.json [--source standard|intercom|series]

Signs deliveries and POSTs them to --url, printing the status of each.
Fixtures are the bodies embedded in package webhooktest, named like
jam/jam.created.maximal.json (--list prints them); jam/ fixtures are sent as
Standard Webhooks, intercom/ as Intercom, series/ as Series webhooks.

Each Standard Webhooks delivery gets a new message id unless --id is given:
send the same --id twice to see the receiver acknowledge the duplicate
without running callbacks. Intercom deliveries are deduplicated on the
notification id inside the body. Intercom signs no timestamp header, so an
Intercom body's created_at and first_sent_at, those it has, are set to the
signing time (now, or --timestamp) before it is signed, as Intercom stamps
what it sends: receivers refuse notifications older than their max age, or
dated by neither.

SIGINT or SIGTERM abandons the delivery in flight and stops, the lines of
those answered printed (exit 1).

Keys default to the public test keys of package webhooktest (see
"webhook serve --test-keys"); --secret, --intercom-secret, --series-header
and --series-token override them.
`

// sendTimeout is how long a delivery may take, as long as Svix waits.
const sendTimeout = 15 * time.Second

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("send", sendUsage, stderr)
	var s signing
	s.keys.register(fs, false)
	when := registerSigning(&s, fs)
	to := fs.String("url", "http://127.0.0.1:8080/", "receiver URL")
	all := fs.Bool("all", false, "send every embedded fixture")
	list := fs.Bool("list", false, "list the embedded fixtures and exit")
	file := fs.String("file", "", "send the body in this file instead of fixtures")
	source := fs.String("source", "standard", "sender for --file: standard (Jam), intercom or series")
	ctype := fs.String("content-type", "", "Content-Type for --file (default: JSON, or form-encoded for a Series body that is not a JSON object)")
	method := fs.String("method", http.MethodPost, "HTTP method (Series blocks may PUT)")
	given := args
	args, code, stop := parseFlags(fs, args)
	if stop {
		return code
	}
	if *list {
		for _, name := range webhooktest.FixtureNames() {
			fmt.Fprintln(stdout, name)
		}
		return exitOK
	}

	if err := checkHTTPURL("--url", *to); err != nil {
		return usageErr(stderr, "send", "%v", err)
	}
	if err := checkMethod(*method); err != nil {
		return usageErr(stderr, "send", "%v", err)
	}

	var ds []delivery
	switch {
	case *file != "" && (*all || len(args) > 0):
		return usageErr(stderr, "send", "give --file, --all or fixture names, not several")
	case *all && len(args) > 0:
		return usageErr(stderr, "send", "give --all or fixture names, not both")
	case *file != "":
		src, err := parseSource(*source)
		if err != nil {
			return usageErr(stderr, "send", "%v", err)
		}
		body, err := os.ReadFile(*file)
		if err != nil {
			fmt.Fprintf(stderr, "webhook send: --file: %v\n", err)
			return exitFail
		}
		ct := *ctype
		if ct == "" {
			ct = contentType(src, body)
		}
		ds = append(ds, delivery{label: *file, source: src, ctype: ct, body: body})
	default:
		names := args
		if *all {
			names = webhooktest.FixtureNames()
		}
		if len(names) == 0 {
			return usageErr(stderr, "send", "nothing to send: give fixture names, --all or --file")
		}
		for _, name := range names {
			d, err := fixtureDelivery(name)
			if err != nil {
				if mayBeKey(given, name) {
					return usageErr(stderr, "send", "no fixture %s (see --list)", argText(given, name))
				}
				return usageErr(stderr, "send", "%v (see --list)", err)
			}
			ds = append(ds, d)
		}
	}
	if s.id != "" && len(ds) > 1 {
		return usageErr(stderr, "send", "--id applies to one delivery; got %d", len(ds))
	}
	s.ts = time.Now()
	if *when != "" {
		var err error
		if s.ts, err = parseWhen(*when); err != nil {
			return usageErr(stderr, "send", "%v", err)
		}
	}
	s.keys.withTestKeys()
	if err := s.keys.check(true); err != nil {
		return usageErr(stderr, "send", "%v", err)
	}
	// A key that cannot sign is refused before anything is sent, as sign
	// refuses it.
	for _, d := range ds {
		if err := s.canSign(d.source); err != nil {
			return usageErr(stderr, "send", "%v", err)
		}
	}

	// SIGINT or SIGTERM abandons the delivery in flight and stops, once
	// the lines of those answered are out: killed, send took them with
	// it, and which deliveries had gone was anyone's guess.
	ctx, unnotify := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer unnotify()
	// Senders do not follow redirects (Svix counts a 3xx as a failed
	// attempt), and a signed delivery goes only to --url.
	client := &http.Client{Timeout: sendTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	code = exitOK
	for i, d := range ds {
		if ctx.Err() != nil {
			tw.Flush()
			fmt.Fprintf(stderr, "webhook send: interrupted: %d of %d deliveries answered\n", i, len(ds))
			return exitFail
		}
		status, id, err := send(ctx, client, *method, *to, d, &s)
		if err != nil && ctx.Err() != nil {
			tw.Flush()
			fmt.Fprintf(stderr, "webhook send: interrupted: %d of %d deliveries answered; %s was in flight, and may have been received\n", i, len(ds), d.label)
			return exitFail
		}
		if err != nil {
			tw.Flush()
			fmt.Fprintf(stderr, "webhook send: %s: %v\n", d.label, err)
			return exitFail
		}
		if status < 200 || status > 299 {
			code = exitFail
		}
		fmt.Fprintf(tw, "%d %s\t%s\t%s\t%s\n", status, http.StatusText(status), d.label, d.source, id)
	}
	tw.Flush()
	return code
}

// checkHTTPURL refuses a URL flag's value (raw, of the flag name) that is
// no http:// or https:// URL with a host, before anything is signed or
// sent. What it says of one never shows its password, query or
// fragment, where tokens go, nor any of it when it does not parse: a URL
// that does not parse has no parts to tell the token from the rest.
func checkHTTPURL(name, raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil && !strings.Contains(raw, "://"), err == nil && u.Scheme == "":
		return fmt.Errorf("%s has no scheme: give an http:// or https:// URL, http://HOST[:PORT]/PATH", name)
	case err != nil && strings.Contains(raw, "@"):
		// url's error quotes the URL, its password with it.
		return fmt.Errorf("%s does not parse as a URL (percent-encode a :, /, ?, #, @ or %% in its user name or password)", name)
	case err != nil:
		return fmt.Errorf("%s does not parse as a URL: %s", name, parseReason(err))
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%s %s is not an http:// or https:// URL", name, shownURL(u))
	}
	return nil
}

// send signs and sends one delivery, and returns the response status and
// the message id the receiver deduplicates it on. Every key must have
// passed canSign for d's source.
func send(ctx context.Context, client *http.Client, method, to string, d delivery, s *signing) (int, string, error) {
	h, body := s.sign(d, true)
	d.body = body
	req, err := http.NewRequestWithContext(ctx, method, to, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header = h
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", sendError(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode, messageID(d, h), nil
}

// checkMethod refuses a --method that is no HTTP method.
func checkMethod(m string) error {
	if _, err := http.NewRequest(m, "http://127.0.0.1/", nil); err != nil || m == "" {
		// An empty one NewRequest takes for GET.
		return fmt.Errorf("--method %q is not an HTTP method", m)
	}
	return nil
}

// sendError is err, from sending a delivery, with the URL it quotes as
// shownURL shows it: net/http's error quotes the URL the request went to
// with its query and fragment, where tokens go.
func sendError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	shown := "(not shown)"
	if u, perr := url.Parse(ue.URL); perr == nil {
		shown = shownURL(u)
	}
	return fmt.Errorf("%s %s: %w", strings.ToUpper(ue.Op), shown, ue.Err)
}

// messageID returns the id the receiver deduplicates d on: the header's
// for Standard Webhooks, the notification's for Intercom, "-" for none.
func messageID(d delivery, h http.Header) string {
	if v := h.Get("Webhook-Id") + h.Get("Svix-Id"); v != "" {
		return v
	}
	if d.source == event.SourceIntercom {
		if e, err := event.ParseFrom(event.SourceIntercom, d.body); err == nil {
			if n, ok := e.(*event.IntercomNotification); ok && n.ID != "" {
				return n.ID.String()
			}
		}
	}
	return "-"
}
