package otelwebhook_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/otelwebhook"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

var jamBody = []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","jamUrl":"https://jam.dev/c/4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03",` +
	`"teamId":"team_8Hq2","type":"video","createdAt":"2026-11-24T08:59:12.345Z","title":"Checkout button does nothing",` +
	`"author":{"email":"dana@northwind.example","name":"Dana Okafor"}}`)

// telemetry is an SDK TracerProvider recording every span in memory and
// a MeterProvider read by hand.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newTelemetry(t *testing.T) *telemetry {
	tel := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		_ = tel.tp.Shutdown(context.Background())
		_ = tel.mp.Shutdown(context.Background())
	})
	return tel
}

func (tel *telemetry) observer(t *testing.T, opts ...otelwebhook.Option) *webhook.Observer {
	obs, err := otelwebhook.New(append([]otelwebhook.Option{otelwebhook.WithTracerProvider(tel.tp), otelwebhook.WithMeterProvider(tel.mp)}, opts...)...)
	require.NoError(t, err)
	return obs
}

// span returns the one ended span named name.
func (tel *telemetry) span(t *testing.T, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range tel.spans.Ended() {
		if s.Name() == name {
			found = append(found, s)
		}
	}
	require.Len(t, found, 1, "spans named %q among %v", name, spanNames(tel.spans.Ended()))
	return found[0]
}

// requests returns the HTTP server spans, which otelhttp names after the
// method (and the route, when the mux sets one).
func (tel *telemetry) requests() []sdktrace.ReadOnlySpan {
	var found []sdktrace.ReadOnlySpan
	for _, s := range tel.spans.Ended() {
		if s.SpanKind() == trace.SpanKindServer {
			found = append(found, s)
		}
	}
	return found
}

func (tel *telemetry) request(t *testing.T) sdktrace.ReadOnlySpan {
	t.Helper()
	reqs := tel.requests()
	require.Len(t, reqs, 1, "server spans among %v", spanNames(tel.spans.Ended()))
	return reqs[0]
}

func (tel *telemetry) spansNamed(prefix string) []sdktrace.ReadOnlySpan {
	var found []sdktrace.ReadOnlySpan
	for _, s := range tel.spans.Ended() {
		if strings.HasPrefix(s.Name(), prefix) {
			found = append(found, s)
		}
	}
	return found
}

func spanNames(spans []sdktrace.ReadOnlySpan) []string {
	var names []string
	for _, s := range spans {
		names = append(names, s.Name())
	}
	return names
}

// attrs returns a span's attributes as a map of their values' text.
func attrs(s sdktrace.ReadOnlySpan) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// metrics collects this package's metrics, by name.
func (tel *telemetry) metrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tel.reader.Collect(context.Background(), &rm))
	m := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelwebhook.ScopeName {
			continue
		}
		for _, mt := range sm.Metrics {
			m[mt.Name] = mt
		}
	}
	return m
}

// points gives each point of a counter, up-down counter, gauge or
// histogram (its count) by its attributes, written
// "k=v,k=v" in the attribute set's order.
func points(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	switch data := m.Data.(type) {
	case nil: // nothing recorded: the SDK leaves the metric out
	case metricdata.Sum[int64]:
		for _, p := range data.DataPoints {
			out[p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Value
		}
	case metricdata.Gauge[int64]:
		for _, p := range data.DataPoints {
			out[p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Value
		}
	case metricdata.Gauge[float64]:
		for _, p := range data.DataPoints {
			out[p.Attributes.Encoded(attribute.DefaultEncoder())] = int64(p.Value)
		}
	case metricdata.Histogram[float64]:
		for _, p := range data.DataPoints {
			out[p.Attributes.Encoded(attribute.DefaultEncoder())] = int64(p.Count)
		}
	default:
		t.Fatalf("metric %s has data of type %T", m.Name, m.Data)
	}
	return out
}

// noIDs fails if any point of any metric carries a message id.
func noIDs(t *testing.T, ms map[string]metricdata.Metrics, ids ...string) {
	t.Helper()
	for name, m := range ms {
		for set := range points(t, m) {
			require.NotContains(t, set, "message.id", "metric %s", name)
			for _, id := range ids {
				require.NotContains(t, set, id, "metric %s", name)
			}
		}
	}
}

// server is the handler behind otelhttp, as the package doc tells users
// to mount it, with a jam.created callback that does what fail says.
func server(t *testing.T, tel *telemetry, fail func() error, opts ...webhook.Option) http.Handler {
	base := []webhook.Option{
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithObserver(tel.observer(t)),
	}
	h, err := webhook.NewHandler(append(base, opts...)...)
	require.NoError(t, err)
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		require.True(t, trace.SpanFromContext(ctx).SpanContext().IsValid(), "the callback has no span")
		if fail != nil {
			return fail()
		}
		return nil
	})
	return otelhttp.NewHandler(h, "webhook", otelhttp.WithTracerProvider(tel.tp), otelhttp.WithMeterProvider(tel.mp))
}

func serve(h http.Handler, r *http.Request) int {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

func TestDelivered(t *testing.T) {
	tel := newTelemetry(t)
	srv := server(t, tel, nil)
	id := webhooktest.MessageID(jamBody)
	require.Equal(t, http.StatusOK, serve(srv, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)))

	req := tel.request(t)
	require.Equal(t, "POST", req.Name())
	require.Subset(t, attrs(req), map[string]string{
		"webhook.source": "standard", "webhook.event.type": "jam.created", "webhook.message.id": id,
		"http.response.status_code": "200",
	})

	run := tel.span(t, "process standard:jam.created")
	require.Equal(t, trace.SpanKindConsumer, run.SpanKind())
	require.Equal(t, req.SpanContext().SpanID(), run.Parent().SpanID(), "the run is not the request's child")
	require.Equal(t, req.SpanContext().TraceID(), run.SpanContext().TraceID())
	require.Equal(t, map[string]string{
		"messaging.system":           "webhook",
		"messaging.operation.type":   "process",
		"messaging.operation.name":   "process",
		"messaging.destination.name": "standard:jam.created",
		"messaging.message.id":       id,
		"webhook.source":             "standard",
		"webhook.event.type":         "jam.created",
		"webhook.attempt":            "1",
		"webhook.outcome":            "success",
	}, attrs(run))
	require.Equal(t, codes.Unset, run.Status().Code)
	require.Empty(t, run.Links())

	ms := tel.metrics(t)
	require.Equal(t, map[string]int64{"webhook.outcome=success,webhook.source=standard": 1}, points(t, ms["webhook.deliveries"]))
	require.Equal(t, map[string]int64{
		"messaging.destination.name=standard:jam.created,messaging.operation.name=process,messaging.operation.type=process," +
			"messaging.system=webhook,webhook.source=standard": 1,
	}, points(t, ms["messaging.process.duration"]))
	require.Empty(t, points(t, ms["webhook.rejections"]))
	noIDs(t, ms, id)
}

func TestRejected(t *testing.T) {
	forged := "whsec_" + strings.Repeat("QUJD", 8)
	tests := []struct {
		name      string
		req       func(t *testing.T) *http.Request
		status    int
		reason    string
		source    string
		verifying bool
	}{
		{"forged", func(t *testing.T) *http.Request {
			return webhooktest.NewStandardRequest(forged, jamBody)
		}, http.StatusUnauthorized, "signature", "standard", true},
		{"stale", func(t *testing.T) *http.Request {
			return webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithTime(webhooktest.Time().Add(-time.Hour)))
		}, http.StatusUnauthorized, "too_old", "standard", true},
		{"unsigned", func(t *testing.T) *http.Request {
			r := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)
			r.Header = http.Header{"Content-Type": {"application/json"}}
			return r
		}, http.StatusUnauthorized, "missing_headers", "", true},
		{"not JSON", func(t *testing.T) *http.Request {
			return webhooktest.NewStandardRequest(webhooktest.Secret, []byte(`[1]`))
		}, http.StatusBadRequest, "decode", "standard", false},
		{"GET", func(t *testing.T) *http.Request {
			return webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithMethod(http.MethodGet))
		}, http.StatusMethodNotAllowed, "method", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel := newTelemetry(t)
			srv := server(t, tel, nil)
			require.Equal(t, tt.status, serve(srv, tt.req(t)))

			req := tel.request(t)
			want := map[string]string{"webhook.outcome": "rejected", "webhook.reason": tt.reason}
			if tt.source != "" {
				want["webhook.source"] = tt.source
			}
			require.Subset(t, attrs(req), want)
			// A 4xx is the client's error, not the server's: the HTTP
			// conventions leave the server span's status unset and give
			// it no error.type.
			require.NotContains(t, attrs(req), "error.type")
			require.Equal(t, codes.Unset, req.Status().Code)
			require.Empty(t, tel.spansNamed("process"), "a rejected request reached the callbacks")

			ms := tel.metrics(t)
			require.Equal(t, map[string]int64{
				"http.response.status_code=" + strconv.Itoa(tt.status) + ",webhook.reason=" + tt.reason + ",webhook.source=" + tt.source: 1,
			}, points(t, ms["webhook.rejections"]))
			if tt.verifying {
				require.Equal(t, map[string]int64{"webhook.reason=" + tt.reason + ",webhook.source=" + tt.source: 1},
					points(t, ms["webhook.verification.failures"]))
			} else {
				require.Empty(t, points(t, ms["webhook.verification.failures"]))
			}
			require.Empty(t, points(t, ms["webhook.deliveries"]))
			noIDs(t, ms, webhooktest.MessageID(jamBody))
		})
	}
}

func TestDuplicate(t *testing.T) {
	tel := newTelemetry(t)
	srv := server(t, tel, nil)
	for range 2 {
		require.Equal(t, http.StatusOK, serve(srv, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)))
	}
	reqs := tel.requests()
	require.Len(t, reqs, 2)
	require.Equal(t, "processed", attrs(reqs[0])["webhook.outcome"])
	require.Equal(t, "duplicate", attrs(reqs[1])["webhook.outcome"])
	require.Len(t, tel.spansNamed("process"), 1, "the duplicate ran the callbacks")

	ms := tel.metrics(t)
	require.Equal(t, map[string]int64{"webhook.source=standard": 1}, points(t, ms["webhook.duplicates"]))
	require.Equal(t, map[string]int64{
		"webhook.outcome=success,webhook.source=standard":   1,
		"webhook.outcome=duplicate,webhook.source=standard": 1,
	}, points(t, ms["webhook.deliveries"]))
	noIDs(t, ms, webhooktest.MessageID(jamBody))
}

func TestCallbackFails(t *testing.T) {
	tests := []struct {
		name    string
		fail    func() error
		status  int
		errType string
	}{
		{"error", func() error { return errors.New("downstream is down") }, http.StatusInternalServerError, "callback"},
		{"panic", func() error { panic("nil map") }, http.StatusInternalServerError, "panic"},
		{"status", func() error { return &webhook.StatusError{Code: http.StatusServiceUnavailable} }, http.StatusServiceUnavailable, "503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel := newTelemetry(t)
			srv := server(t, tel, tt.fail)
			require.Equal(t, tt.status, serve(srv, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)))

			run := tel.span(t, "process standard:jam.created")
			require.Equal(t, codes.Error, run.Status().Code)
			require.Subset(t, attrs(run), map[string]string{"error.type": tt.errType, "webhook.outcome": "failure", "webhook.attempt": "1"})
			require.Subset(t, attrs(tel.request(t)), map[string]string{"webhook.outcome": "failed", "webhook.reason": "callback", "error.type": "callback"})

			ms := tel.metrics(t)
			require.Equal(t, map[string]int64{"webhook.outcome=failure,webhook.source=standard": 1}, points(t, ms["webhook.deliveries"]))
			require.Equal(t, map[string]int64{
				"error.type=" + tt.errType + ",messaging.destination.name=standard:jam.created,messaging.operation.name=process," +
					"messaging.operation.type=process,messaging.system=webhook,webhook.source=standard": 1,
			}, points(t, ms["messaging.process.duration"]))
			require.Equal(t, map[string]int64{
				"http.response.status_code=" + strconv.Itoa(tt.status) + ",webhook.reason=callback,webhook.source=standard": 1,
			}, points(t, ms["webhook.rejections"]))
		})
	}
}

// TestStoredTraceContext holds the hooks to their contract with a worker:
// what Storing writes on the request, Dispatch reads on a worker, so that
// every run of a stored delivery is in the request's trace and links to it.
func TestStoredTraceContext(t *testing.T) {
	tel := newTelemetry(t)
	obs := tel.observer(t)
	d := &webhook.Delivery{Source: event.SourceStandard, ID: "msg_stored", Event: &event.JamCreated{}}
	tracer := tel.tp.Tracer("test")

	reqCtx, reqSpan := tracer.Start(context.Background(), "request", trace.WithSpanKind(trace.SpanKindServer))
	meta := map[string]string{}
	obs.Storing(reqCtx, d, meta)
	reqSpan.End()
	require.Contains(t, meta, "traceparent")
	require.Contains(t, meta["traceparent"], reqSpan.SpanContext().TraceID().String())

	// A worker whose context carries no span: each run is the request's child.
	for attempt, outcome := range []webhook.Outcome{webhook.OutcomeRetry, webhook.OutcomeSuccess} {
		_, done := obs.Dispatch(context.Background(), d, meta)
		done(webhook.Dispatched{Duration: time.Millisecond, Attempt: attempt + 1, Outcome: outcome})
	}
	// A worker with a span of its own: that is the parent, the link remains.
	workerCtx, workerSpan := tracer.Start(context.Background(), "worker poll")
	_, done := obs.Dispatch(workerCtx, d, meta)
	done(webhook.Dispatched{Attempt: 3, Outcome: webhook.OutcomeSuccess})
	workerSpan.End()

	runs := tel.spansNamed("process")
	require.Len(t, runs, 3)
	for i, run := range runs {
		require.Len(t, run.Links(), 1, "run %d", i)
		require.Equal(t, reqSpan.SpanContext().SpanID(), run.Links()[0].SpanContext.SpanID(), "run %d", i)
		require.Equal(t, reqSpan.SpanContext().TraceID(), run.Links()[0].SpanContext.TraceID(), "run %d", i)
		require.Equal(t, strconv.Itoa(i+1), attrs(run)["webhook.attempt"])
	}
	for _, run := range runs[:2] {
		require.Equal(t, reqSpan.SpanContext().TraceID(), run.SpanContext().TraceID())
		require.Equal(t, reqSpan.SpanContext().SpanID(), run.Parent().SpanID())
		require.True(t, run.Parent().IsRemote())
	}
	require.Equal(t, workerSpan.SpanContext().SpanID(), runs[2].Parent().SpanID())
	require.Equal(t, "retry", attrs(runs[0])["webhook.outcome"])
	require.Equal(t, map[string]int64{
		"webhook.outcome=retry,webhook.source=standard":   1,
		"webhook.outcome=success,webhook.source=standard": 2,
	}, points(t, tel.metrics(t)["webhook.deliveries"]))
}

// TestInbox follows two deliveries through inbox mode and its workers: one
// whose callback fails once and then succeeds, one that fails until it is
// dead. Every run's span is in the trace of the request that stored it and
// links to that request's span; the metrics count each outcome and the
// inbox metrics follow the states.
func TestInbox(t *testing.T) {
	tel := newTelemetry(t)
	clock := webhooktest.NewClock(webhooktest.Time())
	ib := webhook.NewMemoryInbox(0, clock.Now)
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(clock.Now),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithObserver(tel.observer(t, otelwebhook.WithClock(clock.Now))),
		webhook.WithInbox(ib),
		webhook.WithWorkers(webhook.WorkerConfig{MinBackoff: time.Second, MaxBackoff: time.Second, MaxAttempts: 2, Poll: time.Millisecond}),
	)
	require.NoError(t, err)
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		if !trace.SpanFromContext(ctx).SpanContext().IsValid() {
			return webhook.Permanent(errors.New("the callback has no span"))
		}
		if d.ID == "msg_flaky" && d.InboxAttempt == 1 || d.ID == "msg_bad" {
			return errors.New("downstream is down")
		}
		return nil
	})
	srv := otelhttp.NewHandler(h, "webhook", otelhttp.WithTracerProvider(tel.tp), otelhttp.WithMeterProvider(tel.mp))

	reqSpan := map[string]sdktrace.ReadOnlySpan{}
	for _, id := range []string{"msg_flaky", "msg_bad"} {
		require.Equal(t, http.StatusOK, serve(srv, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID(id))))
		reqs := tel.requests()
		reqSpan[id] = reqs[len(reqs)-1]
		require.Equal(t, map[string]string{"webhook.outcome": "stored", "webhook.message.id": id},
			map[string]string{"webhook.outcome": attrs(reqSpan[id])["webhook.outcome"], "webhook.message.id": attrs(reqSpan[id])["webhook.message.id"]})
	}
	require.Empty(t, tel.spansNamed("process"), "inbox mode ran a callback on the request")
	clock.Advance(90 * time.Second)
	ms := tel.metrics(t)
	require.Equal(t, map[string]int64{"": 90}, points(t, ms["webhook.inbox.oldest_pending"]))
	require.Equal(t, map[string]int64{
		"webhook.inbox.state=pending": 2, "webhook.inbox.state=retrying": 0, "webhook.inbox.state=in_flight": 0,
		"webhook.inbox.state=done": 0, "webhook.inbox.state=dead": 0,
	}, points(t, ms["webhook.inbox.deliveries"]))

	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- h.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-ran) }()
	waitRuns := func(n int) {
		require.Eventually(t, func() bool { return len(tel.spansNamed("process")) == n }, 10*time.Second, time.Millisecond)
	}
	waitRuns(2)
	ms = tel.metrics(t)
	require.Equal(t, int64(2), points(t, ms["webhook.inbox.deliveries"])["webhook.inbox.state=retrying"])
	clock.Advance(2 * time.Second)
	waitRuns(4)
	for id, state := range map[string]webhook.InboxState{"msg_flaky": webhook.InboxDone, "msg_bad": webhook.InboxDead} {
		e, err := ib.Get(context.Background(), "standard:"+id)
		require.NoError(t, err)
		require.Equal(t, state, e.State, id)
	}

	want := map[string][]map[string]string{
		"msg_flaky": {
			{"webhook.attempt": "1", "webhook.outcome": "retry", "error.type": "callback"},
			{"webhook.attempt": "2", "webhook.outcome": "success"},
		},
		"msg_bad": {
			{"webhook.attempt": "1", "webhook.outcome": "retry", "error.type": "callback"},
			{"webhook.attempt": "2", "webhook.outcome": "dead", "error.type": "callback"},
		},
	}
	runs := map[string][]sdktrace.ReadOnlySpan{}
	for _, run := range tel.spansNamed("process") {
		id := attrs(run)["messaging.message.id"]
		runs[id] = append(runs[id], run)
	}
	for id, wantRuns := range want {
		req := reqSpan[id].SpanContext()
		require.Len(t, runs[id], len(wantRuns), id)
		for i, run := range runs[id] {
			a := attrs(run)
			require.Subset(t, a, wantRuns[i], "%s run %d", id, i+1)
			if wantRuns[i]["error.type"] == "" {
				require.NotContains(t, a, "error.type")
			}
			require.Subset(t, a, map[string]string{
				"messaging.operation.type": "process", "messaging.destination.name": "standard:jam.created", "messaging.system": "webhook",
			})
			require.Equal(t, trace.SpanKindConsumer, run.SpanKind())
			require.Equal(t, req.TraceID(), run.SpanContext().TraceID(), "%s run %d is not in the request's trace", id, i+1)
			require.Equal(t, req.SpanID(), run.Parent().SpanID(), "%s run %d", id, i+1)
			require.Len(t, run.Links(), 1)
			require.Equal(t, req.SpanID(), run.Links()[0].SpanContext.SpanID(), "%s run %d does not link to the request", id, i+1)
		}
	}

	ms = tel.metrics(t)
	require.Equal(t, map[string]int64{
		"webhook.outcome=stored,webhook.source=standard":  2,
		"webhook.outcome=retry,webhook.source=standard":   2,
		"webhook.outcome=success,webhook.source=standard": 1,
		"webhook.outcome=dead,webhook.source=standard":    1,
	}, points(t, ms["webhook.deliveries"]))
	dest := "messaging.destination.name=standard:jam.created,messaging.operation.name=process,messaging.operation.type=process," +
		"messaging.system=webhook,webhook.source=standard"
	require.Equal(t, map[string]int64{dest: 1, "error.type=callback," + dest: 3}, points(t, ms["messaging.process.duration"]))
	require.Equal(t, map[string]int64{
		"webhook.inbox.state=pending": 0, "webhook.inbox.state=retrying": 0, "webhook.inbox.state=in_flight": 0,
		"webhook.inbox.state=done": 1, "webhook.inbox.state=dead": 1,
	}, points(t, ms["webhook.inbox.deliveries"]))
	require.Equal(t, map[string]int64{"": 0}, points(t, ms["webhook.inbox.oldest_pending"]))
	noIDs(t, ms, "msg_flaky", "msg_bad")
}

// TestSenderTopics checks that Intercom topics this package does not know,
// which the sender chooses, share one destination in the metrics,
// "intercom:unknown", so that they cannot grow the metrics' attribute
// sets, and reach span attributes bounded by event.SafeName.
func TestSenderTopics(t *testing.T) {
	tel := newTelemetry(t)
	h, err := webhook.NewHandler(
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithObserver(tel.observer(t)),
	)
	require.NoError(t, err)
	h.OnIntercom("*", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error { return nil })
	long := "invented." + strings.Repeat("x", 10_000)
	topics := []string{event.TopicConversationUserReplied, long, "a\nb"}
	for i := range 20 {
		topics = append(topics, "invented.topic"+strconv.Itoa(i))
	}
	for i, topic := range topics {
		body := []byte(`{"type":"notification_event","app_id":"x7k2p9m4","id":"notif_` + strconv.Itoa(i) + `","topic":` + strconv.Quote(topic) +
			`,"created_at":1795510790,"data":{"type":"notification_event_data","item":{"type":"conversation","id":"1"}}}`)
		require.Equal(t, http.StatusOK, serve(h, webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, webhooktest.StampIntercom(body, webhooktest.Time()))))
	}
	dests := map[string]bool{}
	for set := range points(t, tel.metrics(t)["messaging.process.duration"]) {
		for _, kv := range strings.Split(set, ",") {
			if v, ok := strings.CutPrefix(kv, "messaging.destination.name="); ok {
				dests[v] = true
			}
		}
	}
	require.Equal(t, map[string]bool{"intercom:conversation.user.replied": true, "intercom:unknown": true}, dests)
	runs := tel.spansNamed("process ")
	require.Len(t, runs, len(topics))
	var named []string
	for _, s := range runs {
		typ := attrs(s)["webhook.event.type"]
		require.LessOrEqual(t, len(typ), 100)
		named = append(named, typ)
	}
	require.Contains(t, named, event.SafeName(long))
	require.Contains(t, named, `"a\nb"`)
	require.Contains(t, named, "invented.topic7")
}

// TestWorkerWithoutStoredContext: a delivery stored with no trace context
// (the request had no span, so Storing wrote nothing) is still run on a
// worker, not on the request. The run is a child of the span the
// workers' context carries, links to nothing, and leaves that span's
// attributes alone: webhook.outcome belongs to request spans.
func TestWorkerWithoutStoredContext(t *testing.T) {
	tests := []struct {
		name string
		fail bool
	}{
		{"success", false},
		{"failure", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel := newTelemetry(t)
			h, ib := oneRunInbox(t, tel)
			h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
				if tt.fail {
					return errors.New("downstream is down")
				}
				return nil
			})
			// Served without otelhttp: the request has no span to store.
			require.Equal(t, http.StatusOK, serve(h, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)))
			e, err := ib.Get(context.Background(), "standard:"+webhooktest.MessageID(jamBody))
			require.NoError(t, err)
			require.Empty(t, e.Meta)

			ctx, workers := tel.tp.Tracer("test").Start(context.Background(), "workers")
			ctx, cancel := context.WithCancel(ctx)
			ran := make(chan error, 1)
			go func() { ran <- h.Run(ctx) }()
			require.Eventually(t, func() bool { return len(tel.spansNamed("process")) == 1 }, 10*time.Second, time.Millisecond)
			cancel()
			require.NoError(t, <-ran)
			workers.End()

			run := tel.span(t, "process standard:jam.created")
			require.Equal(t, workers.SpanContext().SpanID(), run.Parent().SpanID())
			require.Empty(t, run.Links())
			require.NotContains(t, attrs(tel.span(t, "workers")), "webhook.outcome", "a worker's run marked its context's span as a request")
		})
	}
}

// TestSenderTraceContext: a sender's traceparent and tracestate headers
// are neither signed nor the receiver's, so a worker's run follows the
// request's own span, whatever otelhttp made of the headers, and never
// the raw headers: not as a parent, not as a link, not their tracestate
// beside the request's traceparent.
func TestSenderTraceContext(t *testing.T) {
	const (
		senderParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		senderState  = "ot=th:0,vendor=sender"
		senderTrace  = "0af7651916cd43dd8448eb211c80319c"
	)
	everyRequest := otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true })
	tests := []struct {
		name string
		wrap func(h http.Handler, tel *telemetry) http.Handler
	}{
		{"no request span", func(h http.Handler, tel *telemetry) http.Handler { return h }},
		{"otelhttp, no propagator", func(h http.Handler, tel *telemetry) http.Handler {
			return otelhttp.NewHandler(h, "webhook", otelhttp.WithTracerProvider(tel.tp), otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator()))
		}},
		{"otelhttp, public endpoint", func(h http.Handler, tel *telemetry) http.Handler {
			return otelhttp.NewHandler(h, "webhook", otelhttp.WithTracerProvider(tel.tp), otelhttp.WithPropagators(propagation.TraceContext{}), everyRequest)
		}},
		// otelhttp's choice, which the docs advise against: the request is
		// the sender's child, and so are the runs, through the request.
		{"otelhttp, sender's child", func(h http.Handler, tel *telemetry) http.Handler {
			return otelhttp.NewHandler(h, "webhook", otelhttp.WithTracerProvider(tel.tp), otelhttp.WithPropagators(propagation.TraceContext{}))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel := newTelemetry(t)
			h, ib := oneRunInbox(t, tel)
			h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error { return nil })
			require.Equal(t, http.StatusOK, serve(tt.wrap(h, tel), webhooktest.NewStandardRequest(webhooktest.Secret, jamBody,
				webhooktest.WithHeader("Traceparent", senderParent), webhooktest.WithHeader("Tracestate", senderState))))

			var req trace.SpanContext // the request's span, if any
			if reqs := tel.requests(); len(reqs) > 0 {
				req = reqs[0].SpanContext()
			}
			want := propagation.MapCarrier{}
			propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), req), want)
			e, err := ib.Get(context.Background(), "standard:"+webhooktest.MessageID(jamBody))
			require.NoError(t, err)
			require.Equal(t, map[string]string(want), nonNil(e.Meta), "the stored trace context is not the request span's")

			ctx, cancel := context.WithCancel(context.Background())
			ran := make(chan error, 1)
			go func() { ran <- h.Run(ctx) }()
			require.Eventually(t, func() bool { return len(tel.spansNamed("process")) == 1 }, 10*time.Second, time.Millisecond)
			cancel()
			require.NoError(t, <-ran)
			run := tel.span(t, "process standard:jam.created")
			if !req.IsValid() {
				require.False(t, run.Parent().IsValid(), "the run is the child of the sender's span")
				require.NotEqual(t, senderTrace, run.SpanContext().TraceID().String())
				require.Empty(t, run.Links())
				return
			}
			require.True(t, run.Parent().Equal(req.WithRemote(true)), "the run's parent %v is not the request's span %v", run.Parent(), req)
			require.Len(t, run.Links(), 1)
			require.True(t, run.Links()[0].SpanContext.Equal(req.WithRemote(true)), "the run links to %v, not the request's span %v", run.Links()[0].SpanContext, req)
		})
	}
}

// nonNil is m, or an empty map for nil.
func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// TestInboxNames: two handlers with inboxes on one meter provider (the
// global one, by default) each report their inbox's counts, apart, once
// named; unnamed, one inbox's counts were added to the other's.
func TestInboxNames(t *testing.T) {
	tel := newTelemetry(t)
	clock := webhooktest.NewClock(webhooktest.Time())
	var handlers []*webhook.Handler
	for _, ib := range []struct {
		name    string
		pending int
		age     time.Duration
	}{{"jam", 3, 40 * time.Second}, {"billing", 5, 0}} {
		h, err := webhook.NewHandler(
			webhook.WithSecrets(webhooktest.Secret),
			webhook.WithClock(clock.Now),
			webhook.WithLogger(slog.New(slog.DiscardHandler)),
			webhook.WithObserver(tel.observer(t, otelwebhook.WithInboxName(ib.name), otelwebhook.WithClock(clock.Now))),
			webhook.WithInbox(webhook.NewMemoryInbox(0, clock.Now)),
		)
		require.NoError(t, err)
		for i := range ib.pending {
			req := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID(ib.name+strconv.Itoa(i)))
			require.Equal(t, http.StatusOK, serve(h, req))
		}
		clock.Advance(ib.age)
		handlers = append(handlers, h)
	}
	ms := tel.metrics(t)
	for name, pending := range map[string]int64{"jam": 3, "billing": 5} {
		require.Equal(t, pending, points(t, ms["webhook.inbox.deliveries"])["webhook.inbox.name="+name+",webhook.inbox.state=pending"], name)
	}
	require.Equal(t, map[string]int64{"webhook.inbox.name=jam": 40, "webhook.inbox.name=billing": 0}, points(t, ms["webhook.inbox.oldest_pending"]))
	runtime.KeepAlive(handlers)
}

// statsCounter counts the reads of an inbox's counts.
type statsCounter struct {
	*webhook.MemoryInbox
	reads *atomic.Int64
}

func (s statsCounter) Stats(ctx context.Context) (webhook.InboxStats, error) {
	s.reads.Add(1)
	return s.MemoryInbox.Stats(ctx)
}

// TestDroppedHandlerStopsInboxMetrics: once the handler an observer was
// given to is gone, the inbox metrics stop reading its inbox. An app that builds
// a new handler and observer on each reload, on a meter provider that
// outlives them, would otherwise keep every old inbox alive and read its
// counts at each collection, closed stores included.
func TestDroppedHandlerStopsInboxMetrics(t *testing.T) {
	tel := newTelemetry(t)
	var reads atomic.Int64
	func() {
		h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithLogger(slog.New(slog.DiscardHandler)),
			webhook.WithObserver(tel.observer(t)), webhook.WithInbox(statsCounter{webhook.NewMemoryInbox(0, nil), &reads}))
		require.NoError(t, err)
		tel.metrics(t)
		require.Equal(t, int64(1), reads.Load(), "the inbox metrics read the live handler's inbox")
		runtime.KeepAlive(h)
	}()
	require.Eventually(t, func() bool {
		runtime.GC()
		before := reads.Load()
		tel.metrics(t)
		return reads.Load() == before
	}, 10*time.Second, 10*time.Millisecond, "the inbox metrics still read a dropped handler's inbox")
}

// TestNilOption: an Option left unset is an error from New, not a nil
// dereference inside it.
func TestNilOption(t *testing.T) {
	var unset otelwebhook.Option
	_, err := otelwebhook.New(otelwebhook.WithClock(time.Now), unset)
	require.ErrorContains(t, err, "option 1 is nil")
}

// oneRunInbox returns a handler in inbox mode on a new MemoryInbox,
// observed by tel, whose workers give each delivery one run.
func oneRunInbox(t *testing.T, tel *telemetry) (*webhook.Handler, *webhook.MemoryInbox) {
	t.Helper()
	ib := webhook.NewMemoryInbox(0, nil)
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithObserver(tel.observer(t)),
		webhook.WithInbox(ib),
		webhook.WithWorkers(webhook.WorkerConfig{MaxAttempts: 1, Poll: time.Millisecond}),
	)
	require.NoError(t, err)
	return h, ib
}

// TestCallbackErrorType: a run's error.type is the failure status the
// callbacks chose, as the handler answers it (the first 3xx to 5xx a
// StatusError chose), or "callback" when they chose none: a 2xx
// StatusError beside another callback's error chooses success for that
// callback only, and a code the handler answers 500 (a 1xx) chooses
// nothing. Such runs had error.type "200" or "101", a class of error no
// response had.
func TestCallbackErrorType(t *testing.T) {
	status := func(code int) error { return &webhook.StatusError{Code: code} }
	failed := errors.New("downstream is down")
	tests := []struct {
		name    string
		returns []error // one callback each, in order
		status  int
		errType string
	}{
		{"2xx and an error", []error{status(http.StatusAccepted), failed}, http.StatusInternalServerError, "callback"},
		{"2xx and a 410", []error{status(http.StatusOK), status(http.StatusGone)}, http.StatusGone, "410"},
		{"an error and a 503", []error{failed, status(http.StatusServiceUnavailable)}, http.StatusServiceUnavailable, "503"},
		{"1xx", []error{status(http.StatusContinue)}, http.StatusInternalServerError, "callback"},
		{"404", []error{status(http.StatusNotFound)}, http.StatusNotFound, "404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel := newTelemetry(t)
			h, err := webhook.NewHandler(
				webhook.WithSecrets(webhooktest.Secret),
				webhook.WithClock(webhooktest.Time),
				webhook.WithLogger(slog.New(slog.DiscardHandler)),
				webhook.WithObserver(tel.observer(t)),
			)
			require.NoError(t, err)
			for _, ret := range tt.returns {
				h.OnJamCreated(func(context.Context, *webhook.Delivery, *event.JamCreated) error { return ret })
			}
			require.Equal(t, tt.status, serve(h, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)))
			run := tel.span(t, "process standard:jam.created")
			require.Equal(t, codes.Error, run.Status().Code)
			require.Equal(t, tt.errType, attrs(run)["error.type"])
			require.Equal(t, map[string]int64{
				"error.type=" + tt.errType + ",messaging.destination.name=standard:jam.created,messaging.operation.name=process," +
					"messaging.operation.type=process,messaging.system=webhook,webhook.source=standard": 1,
			}, points(t, tel.metrics(t)["messaging.process.duration"]))
		})
	}
}

// TestInboxCountsAdditive: webhook.inbox.deliveries counts deliveries, a
// value that adds up across its attributes, so it is an asynchronous
// UpDownCounter (a non-monotonic sum), as the OpenTelemetry instrument
// guidelines have it for the size of a queue, and as the semantic
// conventions' own counts by state are (db.client.connection.count).
// Then a View, or a backend, that drops webhook.inbox.state or
// webhook.inbox.name adds the counts up; of a gauge it kept one of them.
func TestInboxCountsAdditive(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	byInbox := sdkmetric.NewView(sdkmetric.Instrument{Name: "webhook.inbox.deliveries"},
		sdkmetric.Stream{AttributeFilter: attribute.NewAllowKeysFilter(otelwebhook.InboxNameKey)})
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithView(byInbox))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	obs, err := otelwebhook.New(otelwebhook.WithMeterProvider(mp), otelwebhook.WithInboxName("jam"))
	require.NoError(t, err)
	clock := webhooktest.NewClock(webhooktest.Time())
	ib := webhook.NewMemoryInbox(0, clock.Now)
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(clock.Now),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithObserver(obs),
		webhook.WithInbox(ib),
	)
	require.NoError(t, err)
	for _, id := range []string{"msg_1", "msg_2", "msg_3"} {
		require.Equal(t, http.StatusOK, serve(h, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID(id))))
	}
	ls, err := ib.Lease(context.Background(), 1, time.Minute) // one in flight, two pending
	require.NoError(t, err)
	require.Len(t, ls, 1)

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	var counts metricdata.Metrics
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "webhook.inbox.deliveries" {
				counts = m
			}
		}
	}
	sum, ok := counts.Data.(metricdata.Sum[int64])
	require.True(t, ok, "webhook.inbox.deliveries has data of type %T", counts.Data)
	require.False(t, sum.IsMonotonic)
	require.Equal(t, map[string]int64{"webhook.inbox.name=jam": 3}, points(t, counts))
	runtime.KeepAlive(h)
}
