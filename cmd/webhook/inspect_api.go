package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"
)

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// redactedURL is raw without the password, query values and fragment it
// may carry (an app's ?token=): the page is for showing, and screenshots
// of it end up in tickets and chat.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(not a URL)"
	}
	c := *u
	c.Fragment, c.RawFragment = "", ""
	if c.RawQuery != "" {
		c.RawQuery = hiddenQuery(c.RawQuery)
	}
	return redacted(&c)
}

func (in *inspector) serveConfig(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"receiver":  in.recvAddr,
		"sources":   sources(in.keys),
		"inbox":     in.inbox != nil,
		"forwardTo": redactedURL(in.fwd.url),
		"fixtures":  in.fixtures,
		"keep":      in.keep,
	})
}

func (in *inspector) serveList(w http.ResponseWriter, _ *http.Request) {
	in.mu.Lock()
	list := make([]record, 0, len(in.ring))
	for _, r := range in.ring {
		list = append(list, *r)
	}
	in.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

// detail is a record with what the detail view shows besides the list's
// columns.
type detail struct {
	record
	Headers    [][2]string     `json:"headers"`
	BodyText   string          `json:"body"`
	BodyBase64 bool            `json:"body_base64,omitempty"`
	BodyLen    int             `json:"body_len"`
	Pretty     string          `json:"pretty,omitempty"`
	Event      json.RawMessage `json:"event,omitempty"`
	Verdict    []verdictStep   `json:"verdict"`
	Evidence   [][2]string     `json:"evidence,omitempty"`
	Replay     replayPlan      `json:"replay"`
	Inbox      *inboxView      `json:"inbox,omitempty"`
}

func (in *inspector) serveDetail(w http.ResponseWriter, r *http.Request) {
	rec := in.lookup(w, r)
	if rec == nil {
		return
	}
	in.mu.Lock()
	d := detail{record: *rec, Event: rec.Event, Evidence: evidence(rec.diag)}
	in.mu.Unlock()
	d.Headers = in.shownHeaders(rec)
	d.BodyLen = len(rec.Body)
	if utf8.Valid(rec.Body) {
		d.BodyText = string(rec.Body)
	} else {
		d.BodyText, d.BodyBase64 = encodeBase64(rec.Body), true
	}
	if json.Valid(rec.Body) {
		var b bytes.Buffer
		if json.Indent(&b, rec.Body, "", "  ") == nil {
			d.Pretty = b.String()
		}
	}
	d.Verdict = in.verdict(&d.record, d.Status, d.Reason, d.Duplicate)
	d.Replay = in.replayPlan(&d.record)
	if in.inbox != nil && d.Key != "" {
		if e, err := in.inbox.Get(r.Context(), d.Key); err == nil {
			v := newInboxView(e)
			d.Inbox = &v
		}
	}
	writeJSON(w, http.StatusOK, d)
}

// lookup finds the record the request's {seq} names, or answers 404.
func (in *inspector) lookup(w http.ResponseWriter, r *http.Request) *record {
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	var rec *record
	if err == nil {
		rec = in.find(seq)
	}
	if rec == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such delivery (the in-memory list keeps the most recent ones)"})
	}
	return rec
}
