// Command finrecorder handles the Intercom Fin recorder flow: when Fin
// asks a customer to record the problem, Jam reports
// intercom.recorder.recorded (with the Jam) or intercom.recorder.opted_out.
// This app links each Jam to its Intercom conversation, posts an internal
// note on the conversation for the support team, and when Intercom later
// notifies about the conversation, knows which Jam belongs to it.
//
//	WEBHOOK_SECRET=whsec_… INTERCOM_CLIENT_SECRET=… \
//	INTERCOM_TOKEN=… INTERCOM_ADMIN_ID=… go run ./examples/finrecorder
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
)

func main() {
	app := &App{
		Links: NewLinks(),
		Notes: &IntercomNotes{
			BaseURL: "https://api.intercom.io",
			Token:   os.Getenv("INTERCOM_TOKEN"),
			AdminID: os.Getenv("INTERCOM_ADMIN_ID"),
			Client:  &http.Client{Timeout: 5 * time.Second},
		},
		Out: os.Stdout,
	}
	h, err := app.Handler(
		webhook.WithSecrets(os.Getenv("WEBHOOK_SECRET")),
		webhook.WithIntercomSecrets(os.Getenv("INTERCOM_CLIENT_SECRET")),
	)
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/webhooks", h) // no method: Intercom checks the URL with HEAD
	srv := &http.Server{Addr: "127.0.0.1:8080", ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// A Link is what is known about the recording for one conversation.
type Link struct {
	ConversationID string
	JamID          string
	JamURL         string
	OptedOut       bool // the customer declined to record
}

// Links maps Intercom conversation ids to Jams. A real app keeps them in
// its database.
type Links struct {
	mu     sync.Mutex
	byConv map[string]Link
}

// NewLinks returns an empty Links.
func NewLinks() *Links { return &Links{byConv: map[string]Link{}} }

// Set records l.
func (ls *Links) Set(l Link) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.byConv[l.ConversationID] = l
}

// Get returns the link for a conversation.
func (ls *Links) Get(conversationID string) (Link, bool) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l, ok := ls.byConv[conversationID]
	return l, ok
}

// A Noter adds an internal note to an Intercom conversation.
type Noter interface {
	AddNote(ctx context.Context, conversationID, htmlBody string) error
}

// An App links Fin recordings to conversations.
type App struct {
	Links *Links
	Notes Noter
	Out   io.Writer // one line per event handled

	mu sync.Mutex
}

// Handler returns a webhook handler, configured by opts, running the app.
func (a *App) Handler(opts ...webhook.Option) (*webhook.Handler, error) {
	h, err := webhook.NewHandler(opts...)
	if err != nil {
		return nil, err
	}
	h.OnRecorderRecorded(a.recorded)
	h.OnRecorderOptedOut(a.optedOut)
	h.OnIntercom("conversation.*", a.conversation)
	return h, nil
}

func (a *App) recorded(ctx context.Context, d *webhook.Delivery, e *event.RecorderRecorded) error {
	l := Link{ConversationID: e.ConversationID.String(), JamID: e.JamID, JamURL: e.JamURL}
	if l.JamURL == "" && l.JamID != "" {
		l.JamURL = "https://jam.dev/c/" + url.PathEscape(l.JamID)
	}
	a.Links.Set(l)
	a.printf("conversation %s: recorded %s", l.ConversationID, l.JamURL)
	// A failed note fails the delivery, so Jam retries it; the link is
	// set again, which is harmless.
	return a.Notes.AddNote(ctx, l.ConversationID,
		fmt.Sprintf(`<p>The customer recorded the problem with Jam: <a href="%s">%s</a></p>`, html.EscapeString(l.JamURL), html.EscapeString(l.JamURL)))
}

func (a *App) optedOut(ctx context.Context, d *webhook.Delivery, e *event.RecorderOptedOut) error {
	l := Link{ConversationID: e.ConversationID.String(), OptedOut: true}
	a.Links.Set(l)
	a.printf("conversation %s: customer declined to record", l.ConversationID)
	return a.Notes.AddNote(ctx, l.ConversationID, "<p>The customer declined to record the problem with Jam.</p>")
}

func (a *App) conversation(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
	c := n.Conversation()
	if c == nil {
		return nil
	}
	l, ok := a.Links.Get(c.ID.String())
	switch {
	case !ok:
		a.printf("conversation %s: %s, no recording", c.ID, n.Topic)
	case l.OptedOut:
		a.printf("conversation %s: %s, customer declined to record", c.ID, n.Topic)
	default:
		a.printf("conversation %s: %s, Jam %s", c.ID, n.Topic, l.JamURL)
	}
	return nil
}

func (a *App) printf(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fmt.Fprintf(a.Out, format+"\n", args...)
}

// IntercomNotes adds notes through Intercom's REST API, replying to a
// conversation as an admin with message_type "note".
type IntercomNotes struct {
	BaseURL string // https://api.intercom.io
	Token   string // an access token: a secret, never log it
	AdminID string // the admin the notes are from
	Client  *http.Client
}

// AddNote implements Noter.
func (n *IntercomNotes) AddNote(ctx context.Context, conversationID, htmlBody string) error {
	body, err := json.Marshal(map[string]string{
		"message_type": "note",
		"type":         "admin",
		"admin_id":     n.AdminID,
		"body":         htmlBody,
	})
	if err != nil {
		return err
	}
	u := n.BaseURL + "/conversations/" + url.PathEscape(conversationID) + "/reply"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+n.Token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Intercom-Version", "2.11")
	resp, err := n.Client.Do(req)
	if err != nil {
		return fmt.Errorf("intercom: adding a note to conversation %s: %w", conversationID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("intercom: adding a note to conversation %s: %s", conversationID, resp.Status)
	}
	return nil
}
