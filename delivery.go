package webhook

import (
	"net/http"
	"time"

	"github.com/inhook/webhook/event"
)

// A Delivery is what a callback learns about the request besides the
// event: which sender, which message, which attempt, and the exact bytes.
// Callbacks must not modify it; it is shared by every callback of a
// request.
type Delivery struct {
	// Source is the scheme the request was verified with.
	Source event.Source
	// Tenant is the tenant whose keys the delivery was checked against
	// (Keys.Tenant from the WithKeyFunc function): for a delivery that
	// reaches the callbacks, the keys that verified it. Empty without a
	// key function.
	Tenant string
	// ID is the message id (webhook-id) or the Intercom notification id,
	// stable across retries; empty when the sender gives none (Intercom
	// ping, Series).
	ID string
	// Timestamp is the attempt's signed timestamp (Standard Webhooks
	// only; zero otherwise).
	Timestamp time.Time
	// Attempt is the delivery attempt number when the sender states it
	// (Intercom's delivery_attempts), else 0.
	Attempt int
	// Key names the message uniquely and stably: the dedupe key, which is
	// the source and the message id ("standard:msg_…", "intercom:…"), with
	// the tenant between them under WithKeyFunc ("standard@acme:msg_…"),
	// so that no message id spells another delivery's key.
	// In inbox mode a delivery without a message id (an Intercom ping,
	// Series) gets a generated one, of the same form ("intercom@acme:gen-…"
	// under WithKeyFunc), so Key is never empty there; outside
	// inbox mode it is empty for those, and when deduplication is off.
	Key string
	// InboxAttempt counts the runs of this delivery's callbacks in inbox
	// mode: 1 on the first run, 2 on the first retry, and so on; 0
	// outside inbox mode. A run may repeat after a crash, so callbacks
	// keyed by Key should be idempotent.
	InboxAttempt int
	// Header is the request's header. On a worker in inbox mode it is
	// what the inbox kept of it: Content-Type, User-Agent and the
	// webhook-id and webhook-timestamp (or svix-*) headers, without the
	// signatures or the Series token; an empty Header for a delivery
	// stored without any.
	Header http.Header
	// Body is the verified body, exactly as read. Nil for a request
	// rejected before it was verified.
	Body []byte
	// Event is the decoded event; nil for a request rejected before it
	// was decoded.
	Event event.Event
}
