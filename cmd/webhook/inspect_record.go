package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/inhook/webhook"
)

// An inspector records every request the receiver gets, learns each
// one's outcome from the handler's Observer, and serves the page that
// shows them.
type inspector struct {
	token string // the actions' token, in the page
	mark  string // forwardHeader's value
	// access is the token every request needs with --inspect-public,
	// "" without; accessFromEnv, that envInspectToken set it.
	access        string
	accessFromEnv bool
	public        bool
	keep          int
	keepBytes     int64
	keys          *keyFlags
	lim           receiverLimits // the handler's, for the verdict
	inbox         webhook.Inbox  // nil without --inbox or --redis
	fixtures      string
	fwd           forwardConfig
	client        *http.Client
	logger        *slog.Logger
	now           func() time.Time
	recvAddr      string

	recv http.Handler // the receiver, wrapped: replays go through it
	// claim reads the message id and event type a request claims, from
	// its source, headers and unverified body (claimed; a test's hook).
	claim func(src string, h http.Header, body []byte) (id, typ string)

	mu      sync.Mutex
	seq     int64
	ring    []*record          // oldest first, at most keep, and keepBytes but for the newest
	size    int64              // the ring's bytes, as record.size counts them
	byKey   map[string]*record // the latest record per dedupe key, for the inbox workers' outcomes
	subs    map[chan []byte]struct{}
	closed  bool
	streams chan struct{} // closed on shutdown: ends the event streams
	bg      sync.WaitGroup
	fwds    chan struct{} // a slot per forward in flight, maxForwards of them
	// inFlight is what the bodies being read hold, as bodyCharge counts
	// them, up to inFlightMax.
	inFlight    atomic.Int64
	inFlightMax int64
	// bgCtx is the context of the forwards made in the background;
	// bgCancel ends them when the stop's time is up.
	bgCtx    context.Context
	bgCancel context.CancelFunc
}

type forwardConfig struct {
	url, secret, intercom string
}

func newInspector(f *inspectFlags, keys *keyFlags, lim receiverLimits, ib webhook.Inbox, logger *slog.Logger) *inspector {
	bgCtx, bgCancel := context.WithCancel(context.Background())
	var access string
	if f.public {
		access = f.token
		if access == "" {
			access = newToken()
		}
	}
	return &inspector{
		access:        access,
		accessFromEnv: f.public && f.token != "",
		bgCtx:         bgCtx,
		bgCancel:      bgCancel,
		token:         newToken(),
		mark:          newToken(),
		public:        f.public,
		keep:          f.keep,
		keepBytes:     f.keepBytes,
		keys:          keys,
		lim:           lim,
		inbox:         ib,
		fixtures:      f.fixtures,
		fwd:           forwardConfig{url: f.forwardTo, secret: f.forwardSecret, intercom: f.forwardIntercom},
		client:        inspectorClient(),
		logger:        logger,
		now:           time.Now,
		byKey:         map[string]*record{},
		subs:          map[chan []byte]struct{}{},
		streams:       make(chan struct{}),
		fwds:          make(chan struct{}, maxForwards),
		claim:         claimed,

		inFlightMax: bodyMemory(lim.maxBody),
	}
}

// A record is one request to the receiver. The fields after mu's comment
// are written under inspector.mu.
type record struct {
	Seq       int64       `json:"seq"`
	Time      time.Time   `json:"time"`
	Method    string      `json:"method"`
	Path      string      `json:"-"`    // the request target as received, which a replay goes to
	ShownPath string      `json:"path"` // Path as the page shows it (see shownTarget)
	Host      string      `json:"-"`
	Header    http.Header `json:"-"`
	Body      []byte      `json:"-"`
	Cut       bool        `json:"truncated,omitempty"`     // the body went past what is kept
	Unkept    bool        `json:"body_not_kept,omitempty"` // past the budget for bodies in flight: Body is empty
	ReplayOf  int64       `json:"replay_of,omitempty"`
	Replay    string      `json:"replay_note,omitempty"`

	// Written under inspector.mu.
	Source     string          `json:"source"`
	Type       string          `json:"type"`
	ID         string          `json:"id"`
	IDVerified bool            `json:"id_verified"`
	Status     int             `json:"status"`
	Reason     string          `json:"reason,omitempty"`
	Hint       string          `json:"hint,omitempty"`
	Error      string          `json:"error,omitempty"`
	LatencyMS  float64         `json:"latency_ms"`
	Duplicate  bool            `json:"duplicate,omitempty"`
	Key        string          `json:"key,omitempty"`
	Outcome    string          `json:"outcome,omitempty"` // the callbacks' last run: success, failure, retry, dead
	Attempts   int             `json:"attempts,omitempty"`
	LastError  string          `json:"last_error,omitempty"`
	Forward    string          `json:"forward,omitempty"` // the last forward's result
	Event      json.RawMessage `json:"-"`

	rj    *webhook.Rejection // the handler's rejection, for the hint
	diag  *webhook.Diagnosis // its evidence, when the handler gave some
	bytes int64              // its size when added to the ring
	// resigned: a replay signed by the inspector, whose signature the
	// page does not show.
	resigned bool
	// unverifiedReplay: a re-signed replay of a delivery whose signature
	// did not verify here, which is not forwarded (see unverifiedNote).
	unverifiedReplay bool
	// dropped: the ring let it go, and the page was told; a forward
	// ending later must not send it to the page again.
	dropped bool
}

// explainLocked sets the record's reason and hint from the rejection and
// its diagnosis.
func (r *record) explainLocked() {
	if r.rj != nil {
		r.Reason, r.Hint = diagnose(*r.rj, r.diag, r.Header, r.Time)
	}
}

type recordKey struct{}
type replayKey struct{}

// replayOf marks a replayed request's context with the record it replays.
type replayOf struct {
	seq      int64
	note     string
	resigned bool // its signature is the inspector's
	// unverified: resigned, and the original's signature did not verify
	// here.
	unverified bool
	made       int64 // the replay's own record, set by the receiver's wrapper
}

// wrap returns the receiver with every request recorded: the exact bytes
// are kept as the handler reads them, and the handler's Observer fills in
// the outcome through the record in the request's context.
func (in *inspector) wrap(h http.Handler) http.Handler {
	in.recv = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &record{Time: in.now(), Method: r.Method, Path: r.URL.RequestURI(), ShownPath: shownTarget(r.URL.RequestURI()), Host: r.Host, Header: r.Header.Clone()}
		ro, _ := r.Context().Value(replayKey{}).(*replayOf)
		if ro != nil {
			rec.ReplayOf, rec.Replay, rec.resigned, rec.unverifiedReplay = ro.seq, ro.note, ro.resigned, ro.unverified
		}
		rec.Source = string(detectSource(r.Header, in.keys.header()))
		// The body is read before the handler, which then cannot hold it
		// to its budget: this holds the reads to one of the same size.
		charge := in.bodyCharge(r.ContentLength)
		if in.inFlight.Add(charge) > in.inFlightMax {
			in.inFlight.Add(-charge)
			rec.Unkept = true // the handler gets the body as it comes
		} else {
			defer in.inFlight.Add(-charge)
			// Read what the handler may read, no more, and hand it the
			// same stream: a body past the limit still reaches it, to be
			// refused.
			kept, err := in.readBody(r.Body, r.ContentLength)
			rec.Body = kept
			if int64(len(kept)) > in.lim.maxBody {
				rec.Body, rec.Cut = bytes.Clone(kept[:in.lim.maxBody]), true
			}
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(kept), errReader{err}, r.Body), r.Body}
		}
		sw := &statusWriter{ResponseWriter: w}
		if r.Header.Get(forwardHeader) == in.mark {
			// Not to the handler either: a Series delivery has no id to
			// be a duplicate by, and would run the callbacks again.
			rec.Reason, rec.Hint = "forward loop", loopHint
			http.Error(sw, "webhook serve: "+loopHint, http.StatusLoopDetected)
		} else {
			h.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), recordKey{}, rec)))
		}
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		latency := float64(time.Since(start).Microseconds()) / 1000
		// What a rejected request claims is read from its unverified
		// body, a parse of up to --max-body, so without the lock, which
		// every delivery's record takes on its way through the handler:
		// forgeries sent back to back held it parse after parse. The
		// headers and body stay as they are; the source, id and type
		// the observer sets (an inbox worker's too) are read under it.
		in.mu.Lock()
		src, claim := rec.Source, rec.ID == "" || rec.Type == ""
		in.mu.Unlock()
		var id, typ string
		if claim {
			id, typ = in.claim(src, rec.Header, rec.Body)
		}
		in.mu.Lock()
		rec.Status, rec.LatencyMS = code, latency
		if rec.ID == "" {
			rec.ID = id
		}
		if rec.Type == "" {
			rec.Type = typ
		}
		rec.ID, rec.Type = shownName(rec.ID), shownName(rec.Type)
		gone := in.addLocked(rec)
		if ro != nil {
			ro.made = rec.Seq
		}
		forward := in.fwd.url != "" && code/100 == 2 && rec.Event != nil && !rec.Duplicate
		switch {
		case forward && rec.Unkept:
			forward, rec.Forward = false, "not forwarded: "+unkeptNote
		case forward && rec.unverifiedReplay:
			forward, rec.Forward = false, "not forwarded: "+unverifiedNote
		}
		for _, seq := range gone { // the page drops their rows
			in.sendLocked([]byte("event: gone\ndata: " + strconv.FormatInt(seq, 10) + "\n\n"))
		}
		in.mu.Unlock()
		in.publish(rec)
		if !forward {
			return
		}
		select {
		case in.fwds <- struct{}{}:
			in.bg.Add(1)
			go func() {
				defer in.bg.Done()
				defer func() { <-in.fwds }()
				in.forward(in.bgCtx, rec)
			}()
		default:
			in.mu.Lock()
			rec.Forward = fmt.Sprintf("not forwarded: %d forwards are in flight to --forward-to, which is slow or hung; forward it from its row once it answers", maxForwards)
			in.mu.Unlock()
			in.publish(rec)
		}
	})
	return in.recv
}

// unverifiedNote says why a re-signed replay of a delivery whose
// signature did not verify is not forwarded: accepted because the
// inspector signed it, it would reach the app re-signed as good, which a
// forgery forwarded itself never does.
const unverifiedNote = "a replay of a delivery whose signature did not verify here, re-signed by this inspector: forwarded, it would reach your app as good"

// unkeptNote says why a record has no body.
const unkeptNote = "the body was not kept: the requests in flight held the inspector's budget for bodies (the handler's body memory)"

// bodyCharge is what reading a body of the declared length n (-1:
// unknown) may hold at most: a body of the declared length read into a
// buffer of its size; else ReadAll's buffer, grown by doubling, and the
// record's copy of its own size.
// A lone body always fits: bodyMemory is three times --max-body at the
// least, and the charge at most the budget.
func (in *inspector) bodyCharge(n int64) int64 {
	if 0 <= n && n <= in.lim.maxBody {
		return min(n+1, in.inFlightMax)
	}
	if in.lim.maxBody >= in.inFlightMax/3 {
		return in.inFlightMax
	}
	return 3 * (in.lim.maxBody + 1)
}

// readBody reads what the handler may read of a body of the declared
// length n, and the byte past --max-body that shows it goes on.
func (in *inspector) readBody(body io.Reader, n int64) ([]byte, error) {
	if 0 <= n && n <= in.lim.maxBody {
		b := make([]byte, n+1) // the spare byte shows a body longer than declared
		// As ReadAll does: EOF is no error, any other is the body's own,
		// for the handler to meet (io.ReadFull would make them one).
		got := 0
		var err error
		for got < len(b) && err == nil {
			var m int
			m, err = body.Read(b[got:])
			got += m
		}
		if err == io.EOF {
			err = nil
		}
		if int64(got) < n {
			// Shorter than declared: the ring counts the bytes sent, so
			// it must not keep the declared length's buffer.
			return bytes.Clone(b[:got]), err
		}
		return b[:got], err
	}
	kept, err := io.ReadAll(io.LimitReader(body, in.lim.maxBody+1))
	// A copy of its own length: ReadAll's buffer has grown past it.
	return bytes.Clone(kept), err
}

// loopHint says why a forward that came back is refused.
const loopHint = "this is a forward of this inspector's come back: --forward-to leads to this receiver; point it at your app"

// shownName is an event type or message id, a sender's string, as the
// page shows it: what would reorder or hide text around it escaped, as
// "webhook inbox" prints it (a right-to-left override made a forged
// "msg_…\u202egpj.exe" read as another id, in the list and the detail's
// title), and cut to maxShown bytes.
func shownName(s string) string { return clip(printable(s)) }

// clip cuts s to maxShown bytes, at a rune's start, marking the cut.
func clip(s string) string {
	if len(s) <= maxShown {
		return s
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// errReader returns err, or EOF when err is nil, after the kept bytes.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	return 0, io.EOF
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// size is what a record holds in memory, near enough: its body, its
// decoded event, its headers and request target.
func (r *record) size() int64 {
	n := len(r.Body) + len(r.Event) + len(r.Path) + len(r.ShownPath) + len(r.Host)
	for k, vs := range r.Header {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	return int64(n)
}

// addLocked appends rec to the ring, dropping the oldest past keep and
// past keepBytes (but never rec itself), and returns the dropped ones'
// numbers.
func (in *inspector) addLocked(rec *record) (gone []int64) {
	in.seq++
	rec.Seq = in.seq
	in.ring = append(in.ring, rec)
	rec.bytes = rec.size()
	in.size += rec.bytes
	for len(in.ring) > 1 && (len(in.ring) > in.keep || in.size > in.keepBytes) {
		old := in.ring[0]
		in.ring[0] = nil
		in.ring = in.ring[1:]
		in.size -= old.bytes
		old.dropped = true
		gone = append(gone, old.Seq)
		if old.Key != "" && in.byKey[old.Key] == old {
			delete(in.byKey, old.Key)
		}
	}
	return gone
}

// snapshot copies rec's fields under the lock.
func (in *inspector) snapshot(rec *record) *record {
	in.mu.Lock()
	defer in.mu.Unlock()
	cp := *rec
	return &cp
}

func (in *inspector) find(seq int64) *record {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, r := range in.ring {
		if r.Seq == seq {
			return r
		}
	}
	return nil
}

// wait waits for forwards in flight.
func (in *inspector) wait() { in.bg.Wait() }

// waitUntil waits for forwards in flight until ctx is done, then cancels
// them and waits for them to return: a --forward-to that never answers
// holds a stop no longer than its timeout.
func (in *inspector) waitUntil(ctx context.Context) {
	done := make(chan struct{})
	go func() { in.wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		in.bgCancel()
		<-done
	}
}
