// Command slack posts every new Jam to a Slack channel through an incoming
// webhook, as a message with blocks: the title linked to the Jam, who
// captured it, on what, and from where.
//
//	WEBHOOK_SECRET=whsec_… SLACK_WEBHOOK_URL=https://hooks.slack.com/services/… go run ./examples/slack
//
// The post happens inside the callback, so Jam retries the delivery if
// Slack fails (the handler answers 500 and releases the message). Slack
// answers quickly; for slower work, queue the event in the callback and
// answer at once, since Svix gives up after about 15 seconds.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
)

func main() {
	slackURL := os.Getenv("SLACK_WEBHOOK_URL")
	if slackURL == "" {
		log.Fatal("set SLACK_WEBHOOK_URL to a Slack incoming webhook URL")
	}
	n := &Notifier{URL: slackURL, Client: &http.Client{Timeout: 5 * time.Second}}
	h, err := webhook.NewHandler(webhook.WithSecrets(os.Getenv("WEBHOOK_SECRET")))
	if err != nil {
		log.Fatal(err)
	}
	h.OnJamCreated(n.OnJamCreated)
	http.Handle("POST /webhooks/jam", h)
	srv := &http.Server{Addr: "127.0.0.1:8080", ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// A Notifier posts Jams to a Slack incoming webhook.
type Notifier struct {
	URL    string       // the incoming webhook URL: a secret, never log it
	Client *http.Client // with a timeout well under the sender's
}

// OnJamCreated is the handler callback.
func (n *Notifier) OnJamCreated(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
	body, err := json.Marshal(NewMessage(e))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.Client.Do(req)
	if err != nil {
		// The client's error names the URL, which holds Slack's secret.
		return fmt.Errorf("slack: post failed for Jam %s", e.JamID)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<12))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("slack: %s for Jam %s", resp.Status, e.JamID)
	}
	return nil
}

// A Message is a Slack message: Text is the notification and fallback,
// Blocks the layout.
type Message struct {
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks"`
}

// A Block is a Slack layout block: a section or a context.
type Block struct {
	Type     string  `json:"type"`
	Text     *Text   `json:"text,omitempty"`
	Elements []*Text `json:"elements,omitempty"`
}

// Text is a Slack text object.
type Text struct {
	Type string `json:"type"` // "mrkdwn"
	Text string `json:"text"`
}

// NewMessage formats a Jam for Slack.
func NewMessage(e *event.JamCreated) Message {
	title := strings.TrimSpace(e.Title)
	if title == "" {
		title = "Untitled Jam"
	}
	who := e.Author.Name
	if who == "" {
		who = e.Author.Email
	}
	if who == "" {
		who = "someone"
	}
	main := fmt.Sprintf("*<%s|%s>*\n%s captured a %s", escape(e.JamURL), escape(title), escape(who), kind(e.Type))
	if e.OriginalURL != "" {
		main += " on " + escape(e.OriginalURL)
	}
	if desc := strings.TrimSpace(e.Description); desc != "" {
		main += "\n>" + escape(truncate(desc, 300))
	}
	var facts []string
	if b := e.SystemInfo.Browser; b.Name != "" {
		facts = append(facts, strings.TrimSpace(b.Name+" "+b.Version))
	}
	if o := e.SystemInfo.OS; o.Name != "" {
		facts = append(facts, strings.TrimSpace(o.Name+" "+o.Version))
	}
	if e.Origin != "" {
		facts = append(facts, "via "+string(e.Origin))
	}
	if e.IsIncognito {
		facts = append(facts, "incognito")
	}
	m := Message{
		Text:   fmt.Sprintf("New Jam: %s", title),
		Blocks: []Block{{Type: "section", Text: &Text{Type: "mrkdwn", Text: main}}},
	}
	if len(facts) > 0 {
		m.Blocks = append(m.Blocks, Block{Type: "context", Elements: []*Text{{Type: "mrkdwn", Text: escape(strings.Join(facts, " · "))}}})
	}
	return m
}

func kind(t event.JamCaptureType) string {
	switch t {
	case event.CaptureVideo:
		return "video"
	case event.CaptureScreenshot:
		return "screenshot"
	case event.CaptureSessionReplay:
		return "session replay"
	}
	return "Jam"
}

// escape escapes the three characters Slack's mrkdwn treats as markup.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
