package main

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// publish sends rec's summary to every open event stream. A stream too
// slow to keep up misses events; the page reloads the list when it
// reconnects.
func (in *inspector) publish(rec *record) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if rec.dropped {
		return // the page dropped its row on "gone"
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return
	}
	in.sendLocked(append(append([]byte("event: delivery\ndata: "), b...), "\n\n"...))
}

// sendLocked sends an event, whole, to every open event stream.
func (in *inspector) sendLocked(msg []byte) {
	for c := range in.subs {
		select {
		case c <- msg:
		default:
		}
	}
}

func (in *inspector) subscribe() (chan []byte, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil, false
	}
	c := make(chan []byte, 256)
	in.subs[c] = struct{}{}
	return c, true
}

func (in *inspector) unsubscribe(c chan []byte) {
	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.subs, c)
}

// closeStreams ends the event streams, which would otherwise hold a
// graceful shutdown open.
func (in *inspector) closeStreams() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.closed {
		in.closed = true
		close(in.streams)
	}
}

func (in *inspector) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	c, ok := in.subscribe()
	if !ok {
		http.Error(w, "inspector: shutting down", http.StatusServiceUnavailable)
		return
	}
	defer in.unsubscribe(c)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "retry: 1000\n: connected\n\n")
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-in.streams:
			return
		case <-tick.C:
			_, _ = io.WriteString(w, ": keep-alive\n\n")
		case msg := <-c:
			_, _ = w.Write(msg)
		}
		if rc.Flush() != nil {
			return
		}
	}
}
