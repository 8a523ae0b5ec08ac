package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/testwait"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// Bodies for handler tests. The fixtures under webhooktest/testdata cover
// every shape; these are small and inline so each row reads on its own.
var (
	jamBody = []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","jamUrl":"https://jam.dev/c/4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03",` +
		`"teamId":"team_8Hq2","type":"video","createdAt":"2026-11-24T08:59:12.345Z","title":"Checkout button does nothing",` +
		`"author":{"email":"dana@northwind.example","name":"Dana Okafor"}}`)
	recordedBody = []byte(`{"conversationId":"215471234567890","jamId":"8b1e4d2c-5a6f-4e7d-9c0b-1a2b3c4d5e6f","jamUrl":"https://jam.dev/c/8b1e4d2c-5a6f-4e7d-9c0b-1a2b3c4d5e6f"}`)
	optedOutBody = []byte(`{"conversationId":"215471234567891"}`)
	unknownBody  = []byte(`{"type":"jam.archived","data":{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03"}}`)
	intercomBody = []byte(`{"type":"notification_event","app_id":"x7k2p9m4","id":"notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c",` +
		`"topic":"conversation.user.replied","created_at":1795510790,"first_sent_at":1795510791,"delivery_attempts":1,` +
		`"delivery_status":"pending","delivered_at":0,"self":null,"links":{},"data":{"type":"notification_event_data",` +
		`"item":{"type":"conversation","id":"215471234567890","state":"open","priority":"not_priority"}}}`)
	pingBody   = []byte("{\n\t\"type\": \"notification_event\",\n\t\"app_id\": \"x7k2p9m4\",\n\t\"data\": {\n\t\t\"type\": \"notification_event_data\",\n\t\t\"item\": {\n\t\t\t\"type\": \"ping\",\n\t\t\t\"message\": \"something something interzen\"\n\t\t}\n\t},\n\t\"links\": {},\n\t\"id\": null,\n\t\"topic\": \"ping\",\n\t\"delivery_status\": null,\n\t\"delivery_attempts\": 1,\n\t\"delivered_at\": 0,\n\t\"first_sent_at\": 1795510800,\n\t\"created_at\": 1795510800,\n\t\"self\": null\n}")
	seriesJSON = []byte(`{"name":"Dana Okafor","company":"Northwind","company_id":"nw-118"}`)
	seriesForm = []byte(`name=Dana+Okafor&company=Northwind&company_id=nw-118`)
)

// rig is a handler with every source configured at webhooktest's fixed
// time, a log buffer, and counters of the callbacks that ran.
type rig struct {
	h     *webhook.Handler
	clock *webhooktest.Clock
	logs  *syncBuffer
	calls atomic.Int64 // every callback run, of any kind
	errs  atomic.Int64 // error hook runs
	last  atomic.Value // string: the last callback that ran
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newRig(t testing.TB, opts ...webhook.Option) *rig {
	t.Helper()
	r := &rig{clock: webhooktest.NewClock(webhooktest.Time()), logs: &syncBuffer{}}
	base := []webhook.Option{
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken),
		webhook.WithClock(r.clock.Now),
		webhook.WithLogger(slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	}
	h, err := webhook.NewHandler(append(base, opts...)...)
	require.NoError(t, err)
	r.h = h
	note := func(name string) { r.calls.Add(1); r.last.Store(name) }
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		note("jam.created")
		return nil
	})
	h.OnRecorderRecorded(func(ctx context.Context, d *webhook.Delivery, e *event.RecorderRecorded) error {
		note("recorder.recorded")
		return nil
	})
	h.OnRecorderOptedOut(func(ctx context.Context, d *webhook.Delivery, e *event.RecorderOptedOut) error {
		note("recorder.opted_out")
		return nil
	})
	h.OnIntercom("conversation.*", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		note("intercom conversation.*")
		return nil
	})
	h.OnIntercom("ping", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		note("intercom ping")
		return nil
	})
	h.OnSeries(func(ctx context.Context, d *webhook.Delivery, e *event.SeriesWebhook) error {
		note("series")
		return nil
	})
	h.OnUnknown(func(ctx context.Context, d *webhook.Delivery, e *event.UnknownEvent) error {
		note("unknown")
		return nil
	})
	h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) { r.errs.Add(1) })
	return r
}

func (r *rig) serve(req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	return w
}

func lastCallback(r *rig) string {
	s, _ := r.last.Load().(string)
	return s
}

func TestHandlerStatusTable(t *testing.T) {
	ts := webhooktest.Time()
	std := func(body []byte, opts ...webhooktest.RequestOption) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			return webhooktest.NewStandardRequest(webhooktest.Secret, body, opts...)
		}
	}
	intercom := func(secret string, body []byte, opts ...webhooktest.RequestOption) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request { return webhooktest.NewIntercomRequest(secret, body, opts...) }
	}
	series := func(token string, body []byte, opts ...webhooktest.RequestOption) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			return webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, token, body, opts...)
		}
	}
	plain := func(method string, body []byte, hdr ...string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			r := httptest.NewRequest(method, "/webhook", bytes.NewReader(body))
			for i := 0; i+1 < len(hdr); i += 2 {
				r.Header.Set(hdr[i], hdr[i+1])
			}
			return r
		}
	}
	otherSecret := "whsec_b3RoZXItc2VjcmV0LXRoYXQtaXMtbm90LWNvbmZpZ3VyZWQ="
	tests := []struct {
		name     string
		req      func(t *testing.T) *http.Request
		opts     []webhook.Option
		status   int
		jamOnly  bool   // a handler configured for Jam only
		callback string // the callback that must run; "" means none
		is       error  // the reason the error hook and log must carry
	}{
		{name: "jam.created", req: std(jamBody), status: 200, callback: "jam.created"},
		{name: "jam.created svix headers", req: std(jamBody, webhooktest.WithSvixHeaders()), status: 200, callback: "jam.created"},
		{name: "recorder recorded", req: std(recordedBody), status: 200, callback: "recorder.recorded"},
		{name: "recorder opted out", req: std(optedOutBody), status: 200, callback: "recorder.opted_out"},
		{name: "unknown event acknowledged", req: std(unknownBody), status: 200, callback: "unknown"},
		{name: "intercom conversation", req: intercom(webhooktest.IntercomSecret, intercomBody), status: 200, callback: "intercom conversation.*"},
		{name: "intercom ping", req: intercom(webhooktest.IntercomSecret, pingBody), status: 200, callback: "intercom ping"},
		{name: "series json", req: series(webhooktest.SeriesToken, seriesJSON), status: 200, callback: "series"},
		{name: "series form put", req: series(webhooktest.SeriesToken, seriesForm, webhooktest.WithMethod(http.MethodPut), webhooktest.WithContentType("application/x-www-form-urlencoded")), status: 200, callback: "series"},
		{name: "HEAD", req: plain(http.MethodHead, nil), status: 200},
		{name: "GET", req: plain(http.MethodGet, nil), status: 405, is: webhook.ErrMethodNotAllowed},
		{name: "DELETE signed", req: std(jamBody, webhooktest.WithMethod(http.MethodDelete)), status: 405, is: webhook.ErrMethodNotAllowed},
		{name: "body over limit, declared", req: std(jamBody), opts: []webhook.Option{webhook.WithMaxBodySize(64)}, status: 413, is: webhook.ErrBodyTooLarge},
		{name: "json with charset", req: std(jamBody, webhooktest.WithContentType("Application/JSON; charset=utf-8")), status: 200, callback: "jam.created"},
		{name: "vendor json type", req: std(jamBody, webhooktest.WithContentType("application/vnd.jam+json")), status: 200, callback: "jam.created"},
		{name: "no content type", req: func(t *testing.T) *http.Request {
			r := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)
			r.Header.Del("Content-Type")
			return r
		}, status: 200, callback: "jam.created"},
		{name: "jam as form", req: std(jamBody, webhooktest.WithContentType("application/x-www-form-urlencoded")), status: 415, is: webhook.ErrUnsupportedMediaType},
		{name: "intercom as text", req: intercom(webhooktest.IntercomSecret, intercomBody, webhooktest.WithContentType("text/plain")), status: 415, is: webhook.ErrUnsupportedMediaType},
		{name: "series as xml", req: series(webhooktest.SeriesToken, seriesJSON, webhooktest.WithContentType("application/xml")), status: 415, is: webhook.ErrUnsupportedMediaType},
		{name: "no signature headers", req: plain(http.MethodPost, jamBody, "Content-Type", "application/json"), status: 401, is: webhook.ErrRequiredHeaders},
		{name: "partial webhook set", req: plain(http.MethodPost, jamBody, "Webhook-Id", "msg_1", "Webhook-Timestamp", "1795510800"), status: 401, is: webhook.ErrRequiredHeaders},
		{name: "malformed signature", req: std(jamBody, webhooktest.WithHeader("Webhook-Signature", "v1,not base64!")), status: 401, is: webhook.ErrInvalidHeaders},
		{name: "wrong key", req: func(t *testing.T) *http.Request { return webhooktest.NewStandardRequest(otherSecret, jamBody) }, status: 401, is: webhook.ErrNoMatchingSignature},
		{name: "body changed after signing", req: func(t *testing.T) *http.Request {
			r := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)
			tampered := bytes.Replace(jamBody, []byte("Dana"), []byte("Mallory"), 1)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(tampered)), int64(len(tampered))
			return r
		}, status: 401, is: webhook.ErrNoMatchingSignature},
		{name: "stale timestamp", req: std(jamBody, webhooktest.WithTime(ts.Add(-6*time.Minute))), status: 401, is: webhook.ErrMessageTooOld},
		{name: "future timestamp", req: std(jamBody, webhooktest.WithTime(ts.Add(6*time.Minute))), status: 401, is: webhook.ErrMessageTooNew},
		{name: "intercom wrong secret", req: intercom("not-the-client-secret", intercomBody), status: 401, is: webhook.ErrNoMatchingSignature},
		{name: "intercom no sha1= prefix", req: func(t *testing.T) *http.Request {
			r := webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, intercomBody)
			r.Header.Set("X-Hub-Signature", strings.TrimPrefix(r.Header.Get("X-Hub-Signature"), "sha1="))
			return r
		}, status: 401, is: webhook.ErrInvalidHeaders},
		{name: "series wrong token", req: series("guess", seriesJSON), status: 401, is: webhook.ErrNoMatchingSignature},
		{name: "source not configured", req: intercom(webhooktest.IntercomSecret, intercomBody), jamOnly: true, status: 401, is: webhook.ErrRequiredHeaders},
		{name: "signed but not JSON", req: std([]byte(`{"jamId": "4f0c`)), status: 400},
		{name: "series empty body", req: series(webhooktest.SeriesToken, nil), status: 200, callback: "series"},
		{name: "series empty form body", req: series(webhooktest.SeriesToken, nil, webhooktest.WithContentType("application/x-www-form-urlencoded")), status: 200, callback: "series"},
		{name: "series form, raw ';' in a value", req: series(webhooktest.SeriesToken, []byte(`name=Smith; Jones&company=Northwind`), webhooktest.WithContentType("application/x-www-form-urlencoded")), status: 200, callback: "series"},
		{name: "series form, malformed escape", req: series(webhooktest.SeriesToken, []byte(`name=Smith%zz`), webhooktest.WithContentType("application/x-www-form-urlencoded")), status: 400, is: event.ErrInvalidForm},
		{name: "series JSON, not an object", req: series(webhooktest.SeriesToken, []byte(`null`)), status: 400, is: event.ErrInvalidJSON},
		{name: "pinned Intercom endpoint, ping", req: intercom(webhooktest.IntercomSecret, pingBody), opts: []webhook.Option{webhook.WithEventType(event.TopicConversationUserReplied)}, status: 200, callback: "intercom ping"},
		{name: "pinned Intercom endpoint, its topic", req: intercom(webhooktest.IntercomSecret, intercomBody), opts: []webhook.Option{webhook.WithEventType(event.TopicConversationUserReplied)}, status: 200, callback: "intercom conversation.*"},
		{name: "pinned Intercom endpoint, other topic older than the max age", req: intercom(webhooktest.IntercomSecret, webhooktest.StampIntercom(intercomBody, ts.Add(-30*24*time.Hour))),
			opts: []webhook.Option{webhook.WithEventType(event.TopicTicketCreated)}, status: 401, is: webhook.ErrMessageTooOld},
		{name: "pinned endpoint, other event", req: std(optedOutBody), opts: []webhook.Option{webhook.WithEventType(event.TypeJamCreated)}, status: 400},
		{name: "pinned endpoint, its event", req: std(jamBody), opts: []webhook.Option{webhook.WithEventType(event.TypeJamCreated)}, status: 200, callback: "jam.created"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *rig
			if tt.jamOnly {
				r = newJamOnlyRig(t)
			} else {
				r = newRig(t, tt.opts...)
			}
			var hookErr *webhook.HandlerError
			r.h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) { hookErr = err })
			w := r.serve(tt.req(t))
			require.Equal(t, tt.status, w.Code)
			if tt.callback == "" {
				require.Zero(t, r.calls.Load(), "a rejected request reached a callback")
			} else {
				require.Equal(t, int64(1), r.calls.Load())
				require.Equal(t, tt.callback, lastCallback(r))
			}
			switch tt.status {
			case 200:
				require.Nil(t, hookErr)
				if tt.name == "HEAD" {
					require.Zero(t, w.Body.Len())
				}
			case 405:
				require.Equal(t, "POST, PUT, HEAD", w.Header().Get("Allow"))
				fallthrough
			default:
				require.NotNil(t, hookErr)
				require.Equal(t, tt.status, hookErr.Status)
				if tt.is != nil {
					require.ErrorIs(t, hookErr, tt.is)
				}
				// The client learns the status, not the reason.
				require.Equal(t, http.StatusText(tt.status)+"\n", w.Body.String())
				require.Contains(t, r.logs.String(), `"status":`+fmt.Sprint(tt.status))
			}
		})
	}
}

func newJamOnlyRig(t *testing.T) *rig {
	r := &rig{clock: webhooktest.NewClock(webhooktest.Time()), logs: &syncBuffer{}}
	h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithClock(r.clock.Now),
		webhook.WithLogger(slog.New(slog.NewJSONHandler(r.logs, nil))))
	require.NoError(t, err)
	h.OnAny(func(ctx context.Context, d *webhook.Delivery, e event.Event) error { r.calls.Add(1); return nil })
	r.h = h
	return r
}

func TestHandlerDuplicates(t *testing.T) {
	r := newRig(t)
	for i, want := range []int64{1, 1, 1} {
		// Each retry carries a new timestamp and so a new signature, as
		// Svix sends them; the message id stays.
		r.clock.Advance(time.Duration(i) * time.Minute)
		req := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithTime(r.clock.Now()))
		require.Equal(t, http.StatusOK, r.serve(req).Code)
		require.Equal(t, want, r.calls.Load(), "attempt %d", i+1)
	}
	// Intercom dedupes on the notification id.
	for range 2 {
		require.Equal(t, http.StatusOK, r.serve(webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, intercomBody)).Code)
	}
	require.Equal(t, int64(2), r.calls.Load())
	// Pings carry no id, so each one runs.
	for range 2 {
		require.Equal(t, http.StatusOK, r.serve(webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, pingBody)).Code)
	}
	require.Equal(t, int64(4), r.calls.Load())
}

func TestHandlerInFlight(t *testing.T) {
	r := newRig(t)
	entered, release := make(chan struct{}), make(chan struct{})
	r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		close(entered)
		<-release
		return nil
	})
	first := make(chan int)
	go func() { first <- r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)).Code }()
	testwait.Closed(t, entered, "the first delivery's callback to start")
	var hookErr *webhook.HandlerError
	r.h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) { hookErr = err })
	require.Equal(t, http.StatusConflict, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)).Code)
	require.ErrorIs(t, hookErr, webhook.ErrInFlight)
	close(release)
	require.Equal(t, http.StatusOK, testwait.Recv(t, first, "the first delivery's status once released"))
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)).Code)
	require.Equal(t, int64(1), r.calls.Load(), "the duplicate after completion ran the callbacks")
}

func TestHandlerConcurrentSameMessage(t *testing.T) {
	r := newRig(t)
	var runs atomic.Int64
	r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		runs.Add(1)
		time.Sleep(5 * time.Millisecond) // hold the claim while others arrive
		return nil
	})
	const n = 50
	codes := make(chan int, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)
			<-start
			codes <- r.serve(req).Code
		}()
	}
	close(start)
	testwait.For(t, "the concurrent deliveries to be answered", wg.Wait)
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	require.Equal(t, int64(1), runs.Load(), "callback ran more than once: %v", count)
	require.Equal(t, n, count[200]+count[409], "unexpected statuses: %v", count)
	require.GreaterOrEqual(t, count[200], 1)
}

// brokenStore is a Deduper whose backend is down.
type brokenStore struct{}

var errStoreDown = errors.New("dial tcp 127.0.0.1:6379: connection refused")

func (brokenStore) Claim(context.Context, string, time.Duration) (string, webhook.ClaimStatus, error) {
	return "", 0, errStoreDown
}
func (brokenStore) Commit(context.Context, string, string, time.Duration) error { return errStoreDown }
func (brokenStore) Release(context.Context, string, string) error               { return errStoreDown }

func TestHandlerDedupeStoreDown(t *testing.T) {
	// Default: process anyway, and say so in the log.
	r := newRig(t, webhook.WithDeduper(brokenStore{}))
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)).Code)
	require.Equal(t, int64(1), r.calls.Load())
	require.Contains(t, r.logs.String(), "connection refused")

	// Fail closed: 500 before any callback, so the sender retries.
	r = newRig(t, webhook.WithDeduper(brokenStore{}), webhook.WithDedupeFailClosed())
	var hookErr *webhook.HandlerError
	r.h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) { hookErr = err })
	require.Equal(t, http.StatusInternalServerError, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)).Code)
	require.Zero(t, r.calls.Load())
	require.ErrorIs(t, hookErr, errStoreDown)
}

func TestHandlerRotation(t *testing.T) {
	const (
		keyA = "whsec_a2V5LWEtZm9yLXJvdGF0aW9uLXRlc3RzLTAwMQ=="
		keyB = "whsec_a2V5LWItZm9yLXJvdGF0aW9uLXRlc3RzLTAwMg=="
		keyC = "whsec_a2V5LWMtZm9yLXJvdGF0aW9uLXRlc3RzLTAwMw=="
	)
	clock := webhooktest.NewClock(webhooktest.Time())
	h, err := webhook.NewHandler(webhook.WithSecrets(keyA, keyB), webhook.WithClock(clock.Now), webhook.WithoutDedupe(),
		webhook.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	var runs atomic.Int64
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error { runs.Add(1); return nil })
	for _, k := range []string{keyA, keyB} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, webhooktest.NewStandardRequest(k, jamBody))
		require.Equal(t, http.StatusOK, w.Code, "key %s", k[:10])
	}

	// Rotate between {A,B} and {B,C} while deliveries signed with B,
	// valid in both, keep arriving: none may be rejected.
	stop := make(chan struct{})
	var rotations sync.WaitGroup
	rotations.Add(1)
	go func() {
		defer rotations.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			next := []string{keyA, keyB}
			if i%2 == 1 {
				next = []string{keyB, keyC}
			}
			if err := h.SetSecrets(next...); err != nil {
				panic(err)
			}
		}
	}()
	var wg sync.WaitGroup
	var rejected atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, webhooktest.NewStandardRequest(keyB, jamBody))
				if w.Code != http.StatusOK {
					rejected.Add(1)
				}
			}
		}()
	}
	testwait.For(t, "the delivering goroutines to finish", wg.Wait)
	close(stop)
	testwait.For(t, "the rotating goroutine to stop", rotations.Wait)
	require.Zero(t, rejected.Load())
	require.Equal(t, int64(2+8*200), runs.Load())
}

// TestHandlerLogsNoSecrets sends every kind of rejection and checks that
// neither the log nor the response holds a secret, a signature (received
// or computed) or the body.
func TestHandlerLogsNoSecrets(t *testing.T) {
	r := newRig(t)
	r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		return fmt.Errorf("tracker rejected jam")
	})
	wrong := "whsec_d3Jvbmcta2V5LXNob3VsZC1uZXZlci1iZS1sb2dnZWQ="
	sigFor := func(secret string, body []byte) string {
		s, err := webhooktest.SignStandard(secret, webhooktest.MessageID(body), webhooktest.Time(), body)
		require.NoError(t, err)
		return s
	}
	reqs := []*http.Request{
		webhooktest.NewStandardRequest(wrong, jamBody),
		webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithTime(webhooktest.Time().Add(-time.Hour))),
		webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithHeader("Webhook-Signature", "v1,AAAA")),
		webhooktest.NewStandardRequest(webhooktest.Secret, jamBody), // callback fails
		webhooktest.NewIntercomRequest("wrong-client-secret", intercomBody),
		webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, "wrong-series-token", seriesJSON),
		webhooktest.NewStandardRequest(webhooktest.Secret, []byte(`{"jamId":"unterminated-secret-value`)),
		webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithMethod(http.MethodPatch)),
		webhooktest.NewStandardRequest(webhooktest.Secret, []byte(`{"jamId":"j",Zq}`)),
		webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, []byte(`{"type":"notification_event","topic":"ping",Yq}`)),
		webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, []byte(`{"name":Wq}`)),
		webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, []byte(`name=Dana&key=%zq`), webhooktest.WithContentType("application/x-www-form-urlencoded")),
	}
	var responses strings.Builder
	for _, req := range reqs {
		w := r.serve(req)
		require.NotEqual(t, http.StatusOK, w.Code)
		responses.WriteString(w.Body.String())
	}
	logs := r.logs.String()
	require.Equal(t, int64(len(reqs)), int64(strings.Count(logs, `"msg":"webhook rejected"`)))
	forbidden := []string{
		webhooktest.Secret, strings.TrimPrefix(webhooktest.Secret, "whsec_"),
		wrong, strings.TrimPrefix(wrong, "whsec_"),
		webhooktest.IntercomSecret, "wrong-client-secret",
		webhooktest.SeriesToken, "wrong-series-token",
		sigFor(webhooktest.Secret, jamBody)[3:], sigFor(wrong, jamBody)[3:], // computed and received MACs
		webhooktest.SignIntercom(webhooktest.IntercomSecret, intercomBody)[5:],
		webhooktest.SignIntercom("wrong-client-secret", intercomBody)[5:],
		"Checkout button does nothing", "unterminated-secret-value", "Dana", // body content
		"'Z'", "'Y'", "'W'", "%zq", // a byte of a body that does not decode
	}
	for _, s := range forbidden {
		require.NotContains(t, logs, s)
		require.NotContains(t, responses.String(), s)
	}
}

func TestNewHandlerNeedsASource(t *testing.T) {
	tests := []struct {
		name string
		opts []webhook.Option
	}{
		{"nothing", nil},
		{"only a logger", []webhook.Option{webhook.WithLogger(slog.Default())}},
		{"empty secret list", []webhook.Option{webhook.WithSecrets()}},
		{"empty secret", []webhook.Option{webhook.WithSecrets("")}},
		{"short secret", []webhook.Option{webhook.WithSecrets("whsec_c2hvcnQ=")}},
		{"intercom empty", []webhook.Option{webhook.WithIntercomSecrets("")}},
		{"series without token", []webhook.Option{webhook.WithSeries("X-Token")}},
		{"series on a signature header", []webhook.Option{webhook.WithSeries("X-Hub-Signature", "tok-tok-tok-tok-tok")}},
		{"bad body limit", []webhook.Option{webhook.WithSecrets(webhooktest.Secret), webhook.WithMaxBodySize(0)}},
		{"nil store", []webhook.Option{webhook.WithSecrets(webhooktest.Secret), webhook.WithDeduper(nil)}},
		// A source named but given nothing is an error, not a source left
		// off beside the others, which would refuse its every delivery.
		{"series header empty beside jam", []webhook.Option{webhook.WithSecrets(webhooktest.Secret), webhook.WithSeries("", webhooktest.SeriesToken)}},
		{"no jam secrets beside intercom", []webhook.Option{webhook.WithIntercomSecrets(webhooktest.IntercomSecret), webhook.WithSecrets()}},
		{"no intercom secrets beside jam", []webhook.Option{webhook.WithSecrets(webhooktest.Secret), webhook.WithIntercomSecrets()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := webhook.NewHandler(tt.opts...)
			require.Error(t, err)
			require.Nil(t, h)
		})
	}
}

// TestWithClockClocksTheDefaultStore: WithClock is the handler's one
// clock, so the default MemoryStore forgets a processed id when that clock
// passes the retention; a store the caller builds keeps its own clock.
func TestWithClockClocksTheDefaultStore(t *testing.T) {
	const retention = time.Hour
	tests := []struct {
		name      string
		store     func(clock func() time.Time) []webhook.Option
		runsAgain bool // after the handler's clock passes the retention
	}{
		{"default store", func(func() time.Time) []webhook.Option { return nil }, true},
		{"store on the same clock", func(clock func() time.Time) []webhook.Option {
			return []webhook.Option{webhook.WithDeduper(webhook.NewMemoryStore(0, clock))}
		}, true},
		{"store on the real clock", func(func() time.Time) []webhook.Option {
			return []webhook.Option{webhook.WithDeduper(webhook.NewMemoryStore(0, nil))}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := webhooktest.NewClock(webhooktest.Time())
			opts := append([]webhook.Option{webhook.WithDedupeTimes(time.Minute, retention)}, tt.store(clock.Now)...)
			r := newRig(t, append(opts, webhook.WithClock(clock.Now))...)
			send := func() int {
				return r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("msg_clock"), webhooktest.WithTime(clock.Now()))).Code
			}
			require.Equal(t, http.StatusOK, send())
			require.Equal(t, http.StatusOK, send())
			require.EqualValues(t, 1, r.calls.Load(), "a duplicate within the retention")
			clock.Advance(retention + time.Second)
			require.Equal(t, http.StatusOK, send())
			want := int64(1)
			if tt.runsAgain {
				want = 2
			}
			require.Equal(t, want, r.calls.Load())
		})
	}
}

// TestKeysOrVerifier: each source takes keys or a verifier the caller
// built, not both, by one rule; either alone serves that source.
func TestKeysOrVerifier(t *testing.T) {
	std, err := webhook.NewVerifier([]string{webhooktest.Secret}, webhook.WithClock(webhooktest.Time))
	require.NoError(t, err)
	ic, err := webhook.NewIntercomVerifier(webhooktest.IntercomSecret)
	require.NoError(t, err)
	sv, err := webhook.NewSeriesVerifier(webhooktest.SeriesHeader, webhooktest.SeriesToken)
	require.NoError(t, err)
	tests := []struct {
		name, fixture  string
		keys, verifier webhook.Option
		both           string // NewHandler's error with both
	}{
		{"standard", "jam/jam.created.minimal.json", webhook.WithSecrets(webhooktest.Secret), webhook.WithVerifier(std),
			"webhook: use WithSecrets or WithVerifier, not both"},
		{"intercom", "intercom/ping.json", webhook.WithIntercomSecrets(webhooktest.IntercomSecret), webhook.WithIntercomVerifier(ic),
			"webhook: use WithIntercomSecrets or WithIntercomVerifier, not both"},
		{"series", "series/contact.json", webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken), webhook.WithSeriesVerifier(sv),
			"webhook: use WithSeries or WithSeriesVerifier, not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := webhook.NewHandler(tt.keys, tt.verifier)
			require.EqualError(t, err, tt.both)
			require.Nil(t, h)
			for _, o := range []webhook.Option{tt.keys, tt.verifier} {
				h, err := webhook.NewHandler(o, webhook.WithClock(webhooktest.Time), webhook.WithLogger(slog.New(slog.DiscardHandler)))
				require.NoError(t, err)
				var got event.Source
				h.OnAny(func(_ context.Context, d *webhook.Delivery, _ event.Event) error { got = d.Source; return nil })
				w := httptest.NewRecorder()
				h.ServeHTTP(w, webhooktest.NewFixtureRequest(tt.fixture))
				require.Equal(t, http.StatusOK, w.Code)
				require.Equal(t, event.Source(tt.name), got)
			}
		})
	}
}

// TestHandlerCallbackContextEndsWithLease: a callback that holds a claim
// gets a context that ends a margin before the lease, so it can stop
// before a retry may run it again; one without a claim (Series has no
// message id) keeps the request's context.
func TestHandlerCallbackContextEndsWithLease(t *testing.T) {
	const lease = 400 * time.Millisecond
	r := newRig(t, webhook.WithDedupeTimes(lease, time.Hour))
	type seen struct {
		deadline time.Time
		hasDL    bool
		err      error
	}
	got := make(chan seen, 1)
	wait := func(ctx context.Context) {
		s := seen{}
		s.deadline, s.hasDL = ctx.Deadline()
		if !s.hasDL {
			got <- s
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
		s.err = ctx.Err()
		got <- s
	}
	r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		wait(ctx)
		return ctx.Err()
	})
	r.h.OnSeries(func(ctx context.Context, d *webhook.Delivery, e *event.SeriesWebhook) error {
		wait(ctx)
		return nil
	})

	before := time.Now()
	w := r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody))
	after := time.Now()
	s := testwait.Recv(t, got, "the claimed callback's context")
	require.True(t, s.hasDL, "no deadline on a claimed delivery's context")
	margin := lease / 10
	require.False(t, s.deadline.Before(before.Add(lease-margin)), "deadline %s before the claim's lease minus the margin", s.deadline.Sub(before))
	require.False(t, s.deadline.After(after.Add(lease-margin)), "deadline %s after the lease minus the margin", s.deadline.Sub(before))
	require.ErrorIs(t, s.err, context.DeadlineExceeded)
	// When the callback woke is the scheduler's business, not the
	// handler's: under load it may be late by a second. The deadline
	// checks above are what bind the context to the lease.
	require.Equal(t, http.StatusInternalServerError, w.Code, "a callback stopped by its context fails")

	w = r.serve(webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, seriesJSON))
	require.Equal(t, http.StatusOK, w.Code)
	require.False(t, (testwait.Recv(t, got, "the unclaimed callback's context")).hasDL, "a delivery without a claim has no lease")
}

// TestHandlerGoexitReleasesClaim: a callback that ends its goroutine with
// runtime.Goexit, as t.FailNow does, leaves no claim behind: the retry runs
// the callbacks again at once instead of getting 409 until the lease ends.
func TestHandlerGoexitReleasesClaim(t *testing.T) {
	r := newRig(t)
	var exit atomic.Bool
	exit.Store(true)
	runs := 0
	r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		runs++
		if exit.Load() {
			runtime.Goexit()
		}
		return nil
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody))
	}()
	testwait.Closed(t, done, "the request whose callback called Goexit to end")
	exit.Store(false)
	w := r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody))
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, 2, runs)
}

// TestHandlerGoexitObserved: a callback that ends its goroutine with
// runtime.Goexit on the request still has its run reported to the
// observer, once, as a failure (with a claim or without one), as on a
// worker: the run's span would otherwise never end.
func TestHandlerGoexitObserved(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []webhook.Option
	}{
		{name: "claimed"},
		{name: "without dedupe", opts: []webhook.Option{webhook.WithoutDedupe()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var reports []webhook.Dispatched
			var mu sync.Mutex
			obs := &webhook.Observer{Dispatch: func(ctx context.Context, d *webhook.Delivery, meta map[string]string) (context.Context, func(webhook.Dispatched)) {
				return ctx, func(r webhook.Dispatched) { mu.Lock(); reports = append(reports, r); mu.Unlock() }
			}}
			r := newRig(t, append([]webhook.Option{webhook.WithObserver(obs)}, tt.opts...)...)
			r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
				runtime.Goexit()
				return nil
			})
			done := make(chan struct{})
			go func() {
				defer close(done)
				r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody))
			}()
			testwait.Closed(t, done, "the request whose callback called Goexit to end")
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, reports, 1)
			require.Equal(t, webhook.OutcomeFailure, reports[0].Outcome)
			require.ErrorContains(t, reports[0].Err, "Goexit")
		})
	}
}

// FuzzHandlerSignedDelivered holds the handler to "nothing a sender
// delivered is denied": a Standard Webhooks delivery signed and in its
// window is answered 200 and runs a callback whenever its body is a JSON
// object (an unknown shape is an UnknownEvent, acknowledged), and 400
// otherwise; an Intercom notification signed and fresh is answered 200 and
// runs a callback whatever its topic and whatever JSON its item holds (an
// ill-typed field never fails the notification).
func FuzzHandlerSignedDelivered(f *testing.F) {
	for _, name := range webhooktest.FixtureNames() {
		src, _, _ := webhooktest.FixtureSource(name)
		body := webhooktest.Fixture(name)
		switch src {
		case event.SourceStandard:
			f.Add(false, "", body)
		case event.SourceIntercom:
			var n struct {
				Topic string `json:"topic"`
				Data  struct {
					Item json.RawMessage `json:"item"`
				} `json:"data"`
			}
			require.NoError(f, json.Unmarshal(body, &n), name)
			f.Add(true, n.Topic, []byte(n.Data.Item))
		}
	}
	f.Add(false, "", []byte(`[{"jamId":"4f0c2b9e"}]`))
	f.Add(false, "", []byte(`{"jamId": "4f0c`))
	f.Add(true, "conversation.user.created", []byte(`{"type":"conversation","id":{"nested":true},"created_at":"soon"}`))
	f.Fuzz(func(t *testing.T, intercom bool, topic string, body []byte) {
		clock := webhooktest.NewClock(webhooktest.Time())
		h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
			webhook.WithClock(clock.Now), webhook.WithLogger(slog.New(slog.DiscardHandler)))
		require.NoError(t, err)
		ran := 0
		h.OnAny(func(ctx context.Context, d *webhook.Delivery, e event.Event) error { ran++; return nil })
		w := httptest.NewRecorder()
		if intercom {
			if !json.Valid(body) {
				return
			}
			tb, err := json.Marshal(topic)
			require.NoError(t, err)
			n := []byte(`{"type":"notification_event","app_id":"x7k2p9m4","id":"notif_5b2e","topic":` + string(tb) +
				`,"created_at":` + strconv.FormatInt(webhooktest.Unix, 10) + `,"delivery_attempts":1,"data":{"type":"notification_event_data","item":` + string(body) + `}}`)
			h.ServeHTTP(w, webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, n))
			require.Equal(t, http.StatusOK, w.Code, "%s", n)
			require.Equal(t, 1, ran)
			return
		}
		h.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, body))
		trimmed := bytes.TrimLeft(body, " \t\r\n")
		if json.Valid(body) && len(trimmed) > 0 && trimmed[0] == '{' {
			require.Equal(t, http.StatusOK, w.Code, "%q", body)
			require.Equal(t, 1, ran)
		} else {
			require.Equal(t, http.StatusBadRequest, w.Code, "%q", body)
			require.Zero(t, ran)
		}
	})
}
