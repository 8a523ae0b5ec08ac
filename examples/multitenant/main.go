// Command multitenant receives webhooks for many customers on one
// endpoint: each customer (tenant) has its own Jam endpoint secret and
// posts to /hooks/{tenant}, and each Intercom app that installed ours has
// its own client secret and is told apart by the app_id in the body.
// webhook.WithKeyFunc picks the keys per request; nothing the request says
// is trusted until its signature verifies with the keys it picked. Message
// ids are deduplicated per tenant, so two customers' equal ids both run.
//
//	JAM_TENANTS='acme=whsec_…,globex=whsec_…' \
//	INTERCOM_APPS='q7k3zm2x=<client secret>,x7k2p9m4=<client secret>' \
//	go run ./examples/multitenant
//
// Routes (no method in the pattern, so Intercom's HEAD check gets 200):
//
//	/hooks/{tenant}     Jam deliveries of that tenant
//	/hooks/intercom     Intercom deliveries of every app, by app_id
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
	srv, err := newServer(pairs(os.Getenv("JAM_TENANTS")), pairs(os.Getenv("INTERCOM_APPS")), os.Stdout, time.Now)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/hooks/{tenant}", srv.handler)
	hs := &http.Server{Addr: "127.0.0.1:8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
	log.Printf("listening on http://%s/hooks/{tenant}", hs.Addr)
	log.Fatal(hs.ListenAndServe())
}

// pairs parses "name=secret,name=secret".
func pairs(s string) map[string]string {
	m := map[string]string{}
	for _, p := range strings.Split(s, ",") {
		if name, secret, ok := strings.Cut(p, "="); ok {
			m[name] = secret
		}
	}
	return m
}

// server holds every tenant's keys, built once at start: the key function
// is a map lookup, not a parse of secrets per request. A real product
// would load them from its database into such a map (or a cache in front
// of it) and refresh it when a customer changes a secret.
type server struct {
	handler  *webhook.Handler
	mu       sync.RWMutex
	jam      map[string]*webhook.Keys // by tenant, from the URL path
	intercom map[string]*webhook.Keys // by Intercom app_id
}

// newServer builds the handler for the Jam tenants (name to endpoint
// secret) and the Intercom apps (app_id to client secret). Events are
// reported as lines on out; now is the clock, for tests that send
// requests signed at a fixed time.
func newServer(jamTenants, intercomApps map[string]string, out io.Writer, now func() time.Time) (*server, error) {
	s := &server{jam: map[string]*webhook.Keys{}, intercom: map[string]*webhook.Keys{}}
	for tenant, secret := range jamTenants {
		v, err := webhook.NewVerifier([]string{secret}, webhook.WithClock(now))
		if err != nil {
			return nil, fmt.Errorf("tenant %s: %w", tenant, err)
		}
		s.jam[tenant] = &webhook.Keys{Tenant: tenant, Standard: v}
	}
	for appID, secret := range intercomApps {
		v, err := webhook.NewIntercomVerifier(secret)
		if err != nil {
			return nil, fmt.Errorf("intercom app %s: %w", appID, err)
		}
		s.intercom[appID] = &webhook.Keys{Tenant: "intercom-" + appID, Intercom: v}
	}
	h, err := webhook.NewHandler(webhook.WithKeyFunc(s.keys), webhook.WithClock(now))
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		report("%s: jam created %s (message %s)", d.Tenant, e.JamID, d.ID)
		return nil
	})
	h.OnIntercom("*", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		// n.AppID is verified now: the app's own secret signed it.
		report("%s: intercom %s (notification %s)", d.Tenant, n.Topic, d.ID)
		return nil
	})
	s.handler = h
	return s, nil
}

// keys is the handler's key function. Jam deliveries are told apart by
// the {tenant} path segment, Intercom ones by the body's app_id; either
// may be forged, which only picks keys the forger has no signature for.
func (s *server) keys(ctx context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch hint.Source {
	case event.SourceStandard:
		return s.jam[hint.Request.PathValue("tenant")], nil
	case event.SourceIntercom:
		return s.intercom[hint.AppID], nil
	}
	return nil, nil
}

// rotate replaces a Jam tenant's secrets. During a rotation give both the
// old and the new secret, and drop the old one once the sender signs with
// the new.
func (s *server) rotate(tenant string, secrets ...string) error {
	s.mu.RLock()
	k := s.jam[tenant]
	s.mu.RUnlock()
	if k == nil {
		return fmt.Errorf("no tenant %s", tenant)
	}
	return k.Standard.SetSecrets(secrets...)
}
