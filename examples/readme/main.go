// Command readme receives Jam and Intercom webhooks on /webhooks. The
// README quotes this file verbatim, and main_test.go runs it.
package main

import (
	"context"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
)

func main() {
	mux, err := newMux(os.Getenv("WEBHOOK_SECRET"), os.Getenv("INTERCOM_CLIENT_SECRET"))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Addr:              ":8080",
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		// Signature headers take well under 1 KiB each; net/http's
		// default of 1 MiB lets each unfinished header block hold a MiB.
		MaxHeaderBytes: 16 << 10,
	}
	log.Fatal(srv.ListenAndServe())
}

// newMux mounts the handler on /webhooks for every method: Intercom checks
// the URL with HEAD ("POST /webhooks" would answer it 405, and Intercom
// would refuse the endpoint); the handler answers HEAD 200 and methods no
// sender uses 405.
func newMux(jamSecret, intercomClientSecret string) (*http.ServeMux, error) {
	h, err := webhook.NewHandler(
		webhook.WithSecrets(jamSecret),                    // Jam: whsec_…
		webhook.WithIntercomSecrets(intercomClientSecret), // Intercom app client secret
	)
	if err != nil {
		return nil, err
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		log.Printf("new Jam %s by %s", e.JamURL, e.Author.Email)
		return nil
	})
	h.OnIntercom("conversation.*", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		log.Printf("intercom %s (notification %s)", n.Topic, d.ID)
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("/webhooks", h)
	return mux, nil
}
