package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// replayRig is an Intercom handler on a fake clock that counts what the
// callbacks and the error hook see.
type replayRig struct {
	h     *webhook.Handler
	ran   int
	fails []*webhook.HandlerError
}

func newReplayRig(t *testing.T, clock *webhooktest.Clock, opts ...webhook.Option) *replayRig {
	t.Helper()
	r := &replayRig{}
	h, err := webhook.NewHandler(append([]webhook.Option{
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithClock(clock.Now),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	}, opts...)...)
	require.NoError(t, err)
	h.OnIntercom("*", func(context.Context, *webhook.Delivery, *event.IntercomNotification) error { r.ran++; return nil })
	h.OnAny(func(context.Context, *webhook.Delivery, event.Event) error { return nil })
	h.OnError(func(_ context.Context, _ *webhook.Delivery, err *webhook.HandlerError) {
		r.fails = append(r.fails, err)
	})
	r.h = h
	return r
}

func (r *replayRig) serve(req *http.Request) int {
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	return w.Code
}

// TestIntercomReplayAfterStoreForgot: a captured Intercom delivery
// replayed once the dedupe store has forgotten its id, after the
// retention or after a restart, is refused by its signed age and never
// reaches a callback.
func TestIntercomReplayAfterStoreForgot(t *testing.T) {
	clock := webhooktest.NewClock(webhooktest.Time())
	const retention = time.Hour
	r := newReplayRig(t, clock, webhook.WithDedupeTimes(time.Minute, retention))
	captured := func() *http.Request { // the same signed bytes every time
		return webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, intercomBody, webhooktest.WithTime(webhooktest.Time()))
	}
	require.Equal(t, http.StatusOK, r.serve(captured()))
	require.Equal(t, 1, r.ran)

	clock.Advance(time.Minute) // Intercom's one retry: a duplicate
	require.Equal(t, http.StatusOK, r.serve(captured()))
	require.Equal(t, 1, r.ran)

	clock.Advance(retention) // the store has forgotten the id
	require.Equal(t, http.StatusUnauthorized, r.serve(captured()))
	require.Equal(t, 1, r.ran, "not dispatched again")
	require.Len(t, r.fails, 1)
	require.Equal(t, http.StatusUnauthorized, r.fails[0].Status)
	require.ErrorIs(t, r.fails[0], webhook.ErrMessageTooOld)
	var ve *webhook.VerifyError
	require.ErrorAs(t, r.fails[0], &ve)
	require.Equal(t, event.SourceIntercom, ve.Source)

	restarted := newReplayRig(t, clock, webhook.WithDedupeTimes(time.Minute, retention)) // a new in-memory store
	require.Equal(t, http.StatusUnauthorized, restarted.serve(captured()))
	require.Zero(t, restarted.ran)
}

// TestIntercomMaxAge walks the edges of the window: the default follows
// the retention, WithIntercomMaxAge sets it, the future is allowed the
// clock skew of DefaultTolerance, and a notification with no timestamp
// is refused.
func TestIntercomMaxAge(t *testing.T) {
	now := webhooktest.Time()
	body := func(fields string) []byte {
		return []byte(`{"type":"notification_event","id":"notif_7a1d3c9e","topic":"conversation.user.replied"` + fields +
			`,"data":{"item":{"type":"conversation","id":"215471234567890"}}}`)
	}
	at := func(d time.Duration) []byte { return body(fmt.Sprintf(`,"created_at":%d`, now.Add(d).Unix())) }
	tests := []struct {
		name string
		opts []webhook.Option
		body []byte
		want error // nil: dispatched
	}{
		{"just now", nil, at(0), nil},
		{"within the default, the retention", nil, at(-webhook.DefaultRetention + time.Minute), nil},
		{"older than the default", nil, at(-webhook.DefaultRetention - time.Minute), webhook.ErrMessageTooOld},
		{"default follows WithDedupeTimes", []webhook.Option{webhook.WithDedupeTimes(time.Minute, 2*time.Hour)},
			at(-3 * time.Hour), webhook.ErrMessageTooOld},
		{"WithIntercomMaxAge", []webhook.Option{webhook.WithIntercomMaxAge(10 * time.Minute)}, at(-11 * time.Minute), webhook.ErrMessageTooOld},
		{"WithIntercomMaxAge, inside", []webhook.Option{webhook.WithIntercomMaxAge(10 * time.Minute)}, at(-9 * time.Minute), nil},
		{"clock skew", nil, at(4 * time.Minute), nil},
		{"from the future", nil, at(6 * time.Minute), webhook.ErrMessageTooNew},
		{"first_sent_at when created_at is unset", nil,
			body(fmt.Sprintf(`,"created_at":null,"first_sent_at":%d`, now.Add(-webhook.DefaultRetention-time.Hour).Unix())), webhook.ErrMessageTooOld},
		{"created_at first", nil,
			body(fmt.Sprintf(`,"created_at":%d,"first_sent_at":%d`, now.Unix(), now.Add(-200*time.Hour).Unix())), nil},
		{"no timestamp at all", nil, body(""), webhook.ErrMessageTooOld},
		{"old ping (null id)", nil,
			[]byte(fmt.Sprintf(`{"type":"notification_event","id":null,"topic":"ping","created_at":%d,"data":{"item":{"type":"ping","message":"hi"}}}`,
				now.Add(-100*time.Hour).Unix())), webhook.ErrMessageTooOld},
		{"InsecureSkipTimestampCheck switches it off", []webhook.Option{webhook.InsecureSkipTimestampCheck()},
			at(-1000 * time.Hour), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReplayRig(t, webhooktest.NewClock(now), tt.opts...)
			code := r.serve(webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, tt.body))
			if tt.want == nil {
				require.Equal(t, http.StatusOK, code)
				require.Equal(t, 1, r.ran)
				return
			}
			require.Equal(t, http.StatusUnauthorized, code)
			require.Zero(t, r.ran)
			require.Len(t, r.fails, 1)
			require.ErrorIs(t, r.fails[0], tt.want)
		})
	}
	_, err := webhook.NewHandler(webhook.WithIntercomSecrets(webhooktest.IntercomSecret), webhook.WithIntercomMaxAge(0))
	require.Error(t, err)
}

func TestVerifyIntercomAge(t *testing.T) {
	now := webhooktest.Time()
	n := &event.IntercomNotification{CreatedAt: event.Time{Time: now.Add(-time.Hour)}}
	require.NoError(t, webhook.VerifyIntercomAge(n, now, time.Hour))
	err := webhook.VerifyIntercomAge(n, now, time.Hour-time.Second)
	require.ErrorIs(t, err, webhook.ErrMessageTooOld)
	require.ErrorIs(t, webhook.VerifyIntercomAge(&event.IntercomNotification{}, now, time.Hour), webhook.ErrMessageTooOld)
}

// TestIntercomIDBound: a notification id becomes a dedupe key, so one
// longer than a webhook-id may be is refused before it reaches the store,
// and diagnosed by its length.
func TestIntercomIDBound(t *testing.T) {
	store := &countingStore{Deduper: webhook.NewMemoryStore(10, webhooktest.Time)}
	for _, tt := range []struct {
		n    int
		want int
	}{{256, http.StatusOK}, {257, http.StatusBadRequest}, {512 << 10, http.StatusBadRequest}} {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			store.claims = 0
			var logs strings.Builder
			r := newReplayRig(t, webhooktest.NewClock(webhooktest.Time()), webhook.WithDeduper(store),
				webhook.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			id := strings.Repeat("n", tt.n)
			body := []byte(fmt.Sprintf(`{"type":"notification_event","id":%q,"topic":"conversation.user.replied","created_at":%d,"data":{}}`,
				id, webhooktest.Unix))
			require.Equal(t, tt.want, r.serve(webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, body)))
			if tt.want == http.StatusOK {
				require.Equal(t, 1, r.ran)
				require.Equal(t, 1, store.claims)
				return
			}
			require.Zero(t, r.ran)
			require.Zero(t, store.claims, "the store never sees the id")
			require.Len(t, r.fails, 1)
			require.True(t, errors.Is(r.fails[0], webhook.ErrIDTooLong))
			require.Less(t, len(r.fails[0].Error()), 200, "the error does not carry the id")
			require.NotContains(t, logs.String(), id[:257], "nor does the log")
			dg := r.fails[0].Diagnosis
			require.NotNil(t, dg, "a refused id is diagnosed")
			require.Equal(t, webhook.HintCraftedBody, dg.Hint)
			require.Equal(t, fmt.Sprintf("id %d bytes long, past the 256 allowed", tt.n), dg.Evidence)
			require.Equal(t, len(body), dg.BodyLen)
			require.NotContains(t, fmt.Sprintf("%+v", dg), id[:64], "nor does the diagnosis")
			require.Contains(t, logs.String(), "hint=crafted_body")
		})
	}
}

type countingStore struct {
	webhook.Deduper
	claims int
}

func (s *countingStore) Claim(ctx context.Context, key string, lease time.Duration) (string, webhook.ClaimStatus, error) {
	s.claims++
	return s.Deduper.Claim(ctx, key, lease)
}

// TestInboxModeRefusesOldIntercom: in inbox mode the same checks run
// before the delivery is stored, so an old capture or an over-long id
// never reaches the inbox.
func TestInboxModeRefusesOldIntercom(t *testing.T) {
	r := newInboxRig(t, 0, webhook.WorkerConfig{})
	ctx := context.Background()
	old := webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, intercomBody,
		webhooktest.WithTime(webhooktest.Time().Add(-webhook.DefaultRetention-time.Minute)))
	require.Equal(t, http.StatusUnauthorized, r.serve(old).Code)
	long := []byte(fmt.Sprintf(`{"type":"notification_event","id":%q,"topic":"conversation.user.replied","created_at":%d}`,
		strings.Repeat("n", 300), webhooktest.Unix))
	require.Equal(t, http.StatusBadRequest, r.serve(webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, long)).Code)
	st, err := r.ib.Stats(ctx)
	require.NoError(t, err)
	require.Zero(t, st.Pending)
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, intercomBody)).Code)
	r.get(t, "intercom:notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c")
}

// TestIntercomMaxAgeFloor: Intercom retries a failed notification once, a
// minute after the attempt, so a max age under 5 minutes (by default the
// dedupe retention) would refuse that retry as too old and lose the
// notification for good. NewHandler refuses such a max age wherever
// Intercom notifications are checked, rather than raise it silently over
// a retention that no longer covers it.
func TestIntercomMaxAgeFloor(t *testing.T) {
	intercom := webhook.WithIntercomSecrets(webhooktest.IntercomSecret)
	keyFunc := webhook.WithKeyFunc(func(context.Context, webhook.KeyHint) (*webhook.Keys, error) { return nil, nil })
	tests := []struct {
		name    string
		opts    []webhook.Option
		refused bool
	}{
		{"retention under the floor", []webhook.Option{intercom, webhook.WithDedupeTimes(time.Minute, 30*time.Second)}, true},
		{"retention just under the floor", []webhook.Option{intercom, webhook.WithDedupeTimes(time.Minute, 5*time.Minute-time.Second)}, true},
		{"retention at the floor", []webhook.Option{intercom, webhook.WithDedupeTimes(time.Minute, 5*time.Minute)}, false},
		{"max age under the floor", []webhook.Option{intercom, webhook.WithIntercomMaxAge(time.Minute)}, true},
		{"max age at the floor, short retention", []webhook.Option{intercom, webhook.WithDedupeTimes(time.Minute, 30*time.Second),
			webhook.WithIntercomMaxAge(5 * time.Minute)}, false},
		{"key function, retention under the floor", []webhook.Option{keyFunc, webhook.WithDedupeTimes(time.Minute, 30*time.Second)}, true},
		{"age check off", []webhook.Option{intercom, webhook.WithDedupeTimes(time.Minute, 30*time.Second), webhook.InsecureSkipTimestampCheck()}, false},
		{"no Intercom source", []webhook.Option{webhook.WithSecrets(webhooktest.Secret), webhook.WithDedupeTimes(time.Minute, 30*time.Second)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := webhook.NewHandler(tt.opts...)
			if !tt.refused {
				require.NoError(t, err)
				require.NotNil(t, h)
				return
			}
			require.Error(t, err)
			require.Nil(t, h)
			require.Contains(t, err.Error(), "Intercom max age")
			require.Contains(t, err.Error(), "5m0s")
		})
	}
}

// TestIntercomRetryAtTheFloor: at the shortest retention NewHandler takes
// with Intercom, a notification whose first attempt failed runs on
// Intercom's retry a minute later, and a duplicate of it after that is
// still caught by its id.
func TestIntercomRetryAtTheFloor(t *testing.T) {
	clock := webhooktest.NewClock(webhooktest.Time())
	h, err := webhook.NewHandler(webhook.WithIntercomSecrets(webhooktest.IntercomSecret), webhook.WithClock(clock.Now),
		webhook.WithLogger(slog.New(slog.DiscardHandler)), webhook.WithDedupeTimes(time.Minute, 5*time.Minute))
	require.NoError(t, err)
	runs, ok := 0, 0
	h.OnIntercom("*", func(context.Context, *webhook.Delivery, *event.IntercomNotification) error {
		runs++
		if runs == 1 {
			return errors.New("the CRM is down")
		}
		ok++
		return nil
	})
	send := func() int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, intercomBody, webhooktest.WithTime(webhooktest.Time())))
		return w.Code
	}
	require.GreaterOrEqual(t, send(), 500)
	clock.Advance(5*time.Second + time.Minute) // Intercom's timeout, then its one retry
	require.Equal(t, http.StatusOK, send())
	require.Equal(t, 1, ok)
	clock.Advance(2 * time.Minute) // a slow answer's resend
	require.Equal(t, http.StatusOK, send())
	require.Equal(t, 1, ok, "a duplicate within the max age is caught by its id")
}
