// Command keyaccounts routes new Jams by the author's email domain: Jams
// from key accounts go to that account's priority queue, the rest to the
// general one.
//
//	WEBHOOK_SECRET=whsec_… KEY_ACCOUNTS=northwind.example=Northwind,acme.example=Acme go run ./examples/keyaccounts
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
)

func main() {
	accounts, err := ParseAccounts(os.Getenv("KEY_ACCOUNTS"))
	if err != nil {
		log.Fatal(err)
	}
	r := &Router{Accounts: accounts, Out: os.Stdout}
	h, err := webhook.NewHandler(webhook.WithSecrets(os.Getenv("WEBHOOK_SECRET")))
	if err != nil {
		log.Fatal(err)
	}
	h.OnJamCreated(r.OnJamCreated)
	http.Handle("POST /webhooks/jam", h)
	srv := &http.Server{Addr: "127.0.0.1:8080", ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// GeneralQueue is where Jams from other authors go.
const GeneralQueue = "general"

// A Router sends Jams to queues by their author's email domain.
type Router struct {
	// Accounts maps an email domain, lower case, to a key account's name.
	// Subdomains match too: eu.northwind.example is Northwind's.
	Accounts map[string]string
	// Out receives one line per routed Jam; a real app would enqueue.
	Out io.Writer

	mu sync.Mutex
}

// Queue returns the queue for a Jam by author email: "priority/<account>"
// for a key account, else GeneralQueue.
func (r *Router) Queue(email string) string {
	_, domain, ok := strings.Cut(strings.ToLower(strings.TrimSpace(email)), "@")
	if !ok || strings.Contains(domain, "@") {
		return GeneralQueue
	}
	domain = strings.TrimSuffix(domain, ".")
	// Walk up the labels: eu.northwind.example, then northwind.example.
	for d := domain; strings.Contains(d, "."); {
		if name, ok := r.Accounts[d]; ok {
			return "priority/" + name
		}
		_, d, _ = strings.Cut(d, ".")
	}
	return GeneralQueue
}

// OnJamCreated is the handler callback.
func (r *Router) OnJamCreated(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
	q := r.Queue(e.Author.Email)
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err := fmt.Fprintf(r.Out, "%s\t%s\t%s\n", q, e.JamURL, e.Title)
	return err
}

// ParseAccounts parses "domain=Name,domain=Name".
func ParseAccounts(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		domain, name, ok := strings.Cut(pair, "=")
		domain, name = strings.ToLower(strings.TrimSpace(domain)), strings.TrimSpace(name)
		if !ok || name == "" || !strings.Contains(domain, ".") || strings.ContainsAny(domain, "@ ") {
			return nil, fmt.Errorf("KEY_ACCOUNTS: %q is not domain=Name", pair)
		}
		m[domain] = name
	}
	return m, nil
}
