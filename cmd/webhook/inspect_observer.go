package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
)

// observer returns the hooks that fill in each record's outcome. On the
// request they find the record in the context; an inbox worker's runs
// find it by the delivery's key.
func (in *inspector) observer() *webhook.Observer {
	rec := func(ctx context.Context, d *webhook.Delivery) *record {
		if r, ok := ctx.Value(recordKey{}).(*record); ok {
			return r
		}
		if d == nil || d.Key == "" {
			return nil
		}
		in.mu.Lock()
		defer in.mu.Unlock()
		return in.byKey[d.Key]
	}
	update := func(r *record, f func(r *record)) {
		in.mu.Lock()
		f(r)
		published := r.Seq != 0
		in.mu.Unlock()
		if published { // else the request's end publishes it
			in.publish(r)
		}
	}
	return &webhook.Observer{
		Rejected: func(ctx context.Context, rj webhook.Rejection) {
			r := rec(ctx, rj.Delivery)
			if r == nil {
				return
			}
			// The hint needs the delivery's source, not its body, headers
			// and event, which the record holds already, counted once.
			kept := rj
			if d := rj.Delivery; d != nil {
				kept.Delivery = &webhook.Delivery{Source: d.Source, Tenant: d.Tenant, ID: d.ID, Timestamp: d.Timestamp, Attempt: d.Attempt, Key: d.Key, InboxAttempt: d.InboxAttempt}
			}
			update(r, func(r *record) {
				r.rj = &kept
				if rj.Diagnosis != nil {
					dg := *rj.Diagnosis
					r.diag = &dg
				}
				r.explainLocked()
				r.Error = rj.Err.Error()
				if d := rj.Delivery; d != nil {
					if d.Source != "" {
						r.Source = string(d.Source)
					}
					if d.ID != "" && d.Event != nil {
						r.ID, r.IDVerified = shownName(d.ID), true
					}
				}
				if rj.Status == 0 { // a worker's run failed
					r.LastError = rj.Err.Error()
				}
			})
		},
		Decoded: func(ctx context.Context, d *webhook.Delivery) {
			r := rec(ctx, d)
			if r == nil {
				return
			}
			ev, err := marshalEvent(d.Event)
			if err != nil {
				ev = nil
			}
			update(r, func(r *record) {
				r.Source, r.ID, r.IDVerified, r.Type, r.Event = string(d.Source), shownName(d.ID), true, shownName(d.Event.EventType()), ev
				if r.Key == "" {
					r.Key = d.Key
				}
			})
		},
		Duplicate: func(ctx context.Context, d *webhook.Delivery) {
			if r := rec(ctx, d); r != nil {
				update(r, func(r *record) { r.Duplicate = true })
			}
		},
		Stored: func(ctx context.Context, d *webhook.Delivery) {
			if r := rec(ctx, d); r != nil {
				update(r, func(r *record) {
					r.Key, r.Outcome = d.Key, "stored"
					in.byKey[d.Key] = r
				})
			}
		},
		Dispatch: func(ctx context.Context, d *webhook.Delivery, _ map[string]string) (context.Context, func(webhook.Dispatched)) {
			r := rec(ctx, d)
			if r == nil {
				return ctx, nil
			}
			return ctx, func(o webhook.Dispatched) {
				update(r, func(r *record) {
					r.Outcome, r.Attempts = string(o.Outcome), o.Attempt
					r.LastError = ""
					if o.Err != nil {
						r.LastError = o.Err.Error()
					}
				})
			}
		},
		Dead: func(ctx context.Context, dl webhook.DeadLetter) {
			if r := rec(ctx, dl.Delivery); r != nil {
				update(r, func(r *record) {
					// A death without a run had no Dispatch to count it.
					r.Outcome, r.Attempts = "dead", dl.Delivery.InboxAttempt
					if dl.Err != nil {
						r.LastError = dl.Err.Error()
					}
				})
			}
		},
	}
}

// claimed is the message id and the event type a request claims, from
// its source, headers and body.
func claimed(src string, h http.Header, body []byte) (id, typ string) {
	r := &record{Source: src, Header: h, Body: body}
	return claimedID(r), claimedType(r)
}

// claimedID is the message id a rejected request's headers or body
// claim: unverified, for finding the delivery in the sender's portal.
func claimedID(r *record) string {
	for _, k := range []string{"Webhook-Id", "Svix-Id"} {
		if v := r.Header.Get(k); v != "" {
			return v
		}
	}
	if r.Source == string(event.SourceIntercom) {
		var b struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal(r.Body, &b) == nil && len(b.ID) > 0 && len(b.ID) < 260 {
			if s, err := strconv.Unquote(string(b.ID)); err == nil {
				return s
			}
			return string(b.ID)
		}
	}
	return ""
}

// claimedType is the event type or topic an unverified body decodes
// to, as the sender's portal would list it.
func claimedType(r *record) string {
	if r.Source == "" {
		return ""
	}
	ev, err := decode(event.Source(r.Source), r.Body, r.Header)
	if err != nil {
		return ""
	}
	return ev.EventType()
}
