package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
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

// Keys for rotation tests: a tenant's old and new Jam endpoint secrets
// and Intercom client secrets, and one nobody configured.
const (
	rotOld      = "whsec_b2xkLWVuZHBvaW50LXNlY3JldC0wMDAwMDAwMA=="
	rotNew      = "whsec_bmV3LWVuZHBvaW50LXNlY3JldC0xMTExMTExMQ=="
	rotStranger = "whsec_c3RyYW5nZXItZW5kcG9pbnQtc2VjcmV0LTIy"
	rotAppOld   = "3c9e1b7a-4d2f-4e8a-9b6c-0a1d2e3f4a5b"
	rotAppNew   = "8f2a6c1e-7b3d-4f9a-a0c5-1e2d3f4a5b6c"
)

// rotationRig is one tenant, acme, behind a key function that serves the
// Keys in place now, with a clock the steps advance.
type rotationRig struct {
	h     *webhook.Handler
	clock *webhooktest.Clock
	mu    sync.RWMutex
	keys  *webhook.Keys
	fail  atomic.Bool // the callbacks fail, so the sender retries
	runs  atomic.Int64
}

func newRotationRig(t *testing.T, std, intercom []string) *rotationRig {
	t.Helper()
	rr := &rotationRig{clock: webhooktest.NewClock(webhooktest.Time())}
	rr.keys = rr.newKeys(t, std, intercom)
	h, err := webhook.NewHandler(webhook.WithClock(rr.clock.Now), webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithKeyFunc(func(ctx context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
			rr.mu.RLock()
			defer rr.mu.RUnlock()
			return rr.keys, nil
		}))
	require.NoError(t, err)
	h.OnAny(func(ctx context.Context, d *webhook.Delivery, e event.Event) error {
		if d.Tenant != "acme" {
			return fmt.Errorf("tenant %q", d.Tenant)
		}
		rr.runs.Add(1)
		if rr.fail.Load() {
			return errors.New("CRM down")
		}
		return nil
	})
	rr.h = h
	return rr
}

// newKeys builds acme's Keys for the secrets given, on the rig's clock.
func (rr *rotationRig) newKeys(t *testing.T, std, intercom []string) *webhook.Keys {
	t.Helper()
	k := &webhook.Keys{Tenant: "acme"}
	var err error
	if std != nil {
		k.Standard, err = webhook.NewVerifier(std, webhook.WithClock(rr.clock.Now))
		require.NoError(t, err)
	}
	if intercom != nil {
		k.Intercom, err = webhook.NewIntercomVerifier(intercom...)
		require.NoError(t, err)
	}
	return k
}

// A rotationStep is what happens at one point of a rotation: the
// receiver's change of keys, if any, then one attempt of the sender's.
type rotationStep struct {
	after    time.Duration // since the previous step
	setStd   []string      // SetSecrets on the tenant's Verifier
	setApp   []string      // SetSecrets on the tenant's IntercomVerifier
	swap     []string      // new Keys for the tenant (Standard secrets), same Tenant
	signWith []string      // the secrets the sender signs this attempt with
	attempt  int           // Intercom's delivery_attempts (0: a Jam delivery)
	fail     bool          // the callbacks fail
	want     int
	runs     int64 // the callbacks' runs so far
}

func (rr *rotationRig) step(t *testing.T, i int, s rotationStep) {
	t.Helper()
	rr.clock.Advance(s.after)
	if s.setStd != nil {
		require.NoError(t, rr.keys.Standard.SetSecrets(s.setStd...))
	}
	if s.setApp != nil {
		require.NoError(t, rr.keys.Intercom.SetSecrets(s.setApp...))
	}
	if s.swap != nil {
		k := rr.newKeys(t, s.swap, nil)
		rr.mu.Lock()
		rr.keys = k
		rr.mu.Unlock()
	}
	rr.fail.Store(s.fail)
	var req *http.Request
	if s.attempt == 0 {
		// Svix signs every attempt anew, at its own time, with the
		// endpoint's secrets of that moment; the message id stays.
		req = webhooktest.NewStandardRequest(s.signWith[0], jamBody, webhooktest.WithID("msg_rotation"),
			webhooktest.WithTime(rr.clock.Now()), webhooktest.WithExtraSecrets(s.signWith[1:]...))
	} else {
		// Intercom's retry keeps the notification's id and created_at
		// and counts the attempt; it is signed with the app's secret of
		// that moment.
		body := bytes.Replace(webhooktest.StampIntercom(intercomBody, webhooktest.Time()),
			[]byte(`"delivery_attempts":1`), []byte(`"delivery_attempts":`+strconv.Itoa(s.attempt)), 1)
		req = webhooktest.NewIntercomRequest(s.signWith[0], body)
	}
	w := httptest.NewRecorder()
	rr.h.ServeHTTP(w, req)
	require.Equal(t, s.want, w.Code, "step %d", i)
	require.Equal(t, s.runs, rr.runs.Load(), "step %d: callback runs", i)
}

// TestTenantRotation follows a tenant's key rotation while the sender
// retries a delivery across it. Svix, on a rotation, signs every attempt
// with the old and the new secret for 24 hours, then with the new one
// only, and retries a failed message for about 28 hours; Intercom retries
// once, a minute later. A receiver that holds the old and the new key
// during the rotation (the README's rule) verifies every attempt, runs
// the callbacks until one succeeds and then never again, whether it
// rotates with SetSecrets or swaps in new Keys of the same Tenant.
func TestTenantRotation(t *testing.T) {
	tests := []struct {
		name          string
		std, intercom []string
		steps         []rotationStep
	}{
		{name: "Jam, SetSecrets", std: []string{rotOld}, steps: []rotationStep{
			{signWith: []string{rotOld}, fail: true, want: 500, runs: 1},
			// The receiver adds the new key; the sender rotates.
			{after: 5 * time.Second, setStd: []string{rotOld, rotNew}, signWith: []string{rotOld}, fail: true, want: 500, runs: 2},
			{after: 5 * time.Minute, signWith: []string{rotOld, rotNew}, fail: true, want: 500, runs: 3},
			// The receiver drops the old key during Svix's 24 hours.
			{after: 30 * time.Minute, setStd: []string{rotNew}, signWith: []string{rotOld, rotNew}, want: 200, runs: 4},
			// The sender lost the 200 and retries after its 24 hours.
			{after: 26 * time.Hour, signWith: []string{rotNew}, want: 200, runs: 4},
			// A stranger's signature never verifies.
			{after: time.Second, signWith: []string{rotStranger}, want: 401, runs: 4},
		}},
		{name: "Jam, new Keys for the tenant", std: []string{rotOld}, steps: []rotationStep{
			{signWith: []string{rotOld}, fail: true, want: 500, runs: 1},
			{after: 5 * time.Minute, swap: []string{rotOld, rotNew}, signWith: []string{rotOld, rotNew}, want: 200, runs: 2},
			{after: 2 * time.Hour, swap: []string{rotNew}, signWith: []string{rotOld, rotNew}, want: 200, runs: 2},
			{after: 26 * time.Hour, signWith: []string{rotNew}, want: 200, runs: 2},
			{after: time.Second, signWith: []string{rotOld}, want: 401, runs: 2},
		}},
		{name: "Intercom, SetSecrets", intercom: []string{rotAppOld}, steps: []rotationStep{
			{signWith: []string{rotAppOld}, attempt: 1, fail: true, want: 500, runs: 1},
			{after: time.Minute, setApp: []string{rotAppOld, rotAppNew}, signWith: []string{rotAppNew}, attempt: 2, want: 200, runs: 2},
			{after: time.Minute, setApp: []string{rotAppNew}, signWith: []string{rotAppNew}, attempt: 2, want: 200, runs: 2},
			{after: time.Second, signWith: []string{rotAppOld}, attempt: 2, want: 401, runs: 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := newRotationRig(t, tt.std, tt.intercom)
			for i, s := range tt.steps {
				rr.step(t, i, s)
			}
		})
	}
}

// TestConcurrentRotation rotates a tenant's keys without pause, by
// SetSecrets on its verifiers and by swapping in new Keys, while
// deliveries arrive (run it with -race). The key sets alternate between
// {old, shared} and {shared, new}: a delivery signed with the shared key
// verifies under each of them, so if one ever failed, it would have met
// a key set half replaced; one signed with a key of neither never
// verifies.
func TestConcurrentRotation(t *testing.T) {
	const shared, app = rotNew, rotAppNew
	rr := newRotationRig(t, []string{rotOld, shared}, []string{rotAppOld, app})
	stop := make(chan struct{})
	var rot sync.WaitGroup
	rot.Add(2)
	go func() { // SetSecrets on the verifiers in place
		defer rot.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			rr.mu.RLock()
			k := rr.keys
			rr.mu.RUnlock()
			sets := [][]string{{rotOld, shared}, {shared, rotStranger[:len(rotStranger)-2] + "MD"}}
			apps := [][]string{{rotAppOld, app}, {app, "0f1e2d3c-4b5a-4968-8776-655443322110"}}
			if err := errors.Join(k.Standard.SetSecrets(sets[i%2]...), k.Intercom.SetSecrets(apps[i%2]...)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	keySets := []*webhook.Keys{rr.newKeys(t, []string{shared}, []string{app}), rr.newKeys(t, []string{rotOld, shared}, []string{app, rotAppOld})}
	go func() { // new Keys for the tenant
		defer rot.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			k := keySets[i%2]
			rr.mu.Lock()
			rr.keys = k
			rr.mu.Unlock()
		}
	}()
	const workers, each = 4, 150
	var wg sync.WaitGroup
	var bad atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				id := fmt.Sprintf("%d-%d", w, i)
				reqs := []struct {
					r    *http.Request
					want int
				}{
					{webhooktest.NewStandardRequest(shared, jamBody, webhooktest.WithID("msg_"+id)), 200},
					{webhooktest.NewStandardRequest(rotStranger, jamBody, webhooktest.WithID("msg_x"+id)), 401},
					{webhooktest.NewIntercomRequest(app, bytes.Replace(webhooktest.StampIntercom(intercomBody, webhooktest.Time()),
						[]byte(`"id":"notif_`), []byte(`"id":"notif_`+id+`_`), 1)), 200},
				}
				for _, q := range reqs {
					w := httptest.NewRecorder()
					rr.h.ServeHTTP(w, q.r)
					if w.Code != q.want {
						bad.Add(1)
					}
				}
			}
		}()
	}
	testwait.For(t, "the delivering goroutines to finish", wg.Wait)
	close(stop)
	testwait.For(t, "the rotating goroutine to stop", rot.Wait)
	require.Zero(t, bad.Load(), "deliveries answered otherwise than their keys say")
	require.Equal(t, int64(2*workers*each), rr.runs.Load())
}

// TestRotationDiagnosis: the diagnosis of a refused delivery counts the
// keys it was verified against, also while SetSecrets swaps them. Keys
// alternate between {HMAC key A} and {a whpk_ key}; deliveries are
// signed with A. One refused was verified against the whpk_ key alone,
// so its diagnosis counts no HMAC key: had it counted A, it would hold
// the key that signed it, refused. The handler used to load the keys once
// to verify and again to diagnose, and under -race this caught a
// diagnosis of "1 v1 against 1 HMAC key(s)", check_secret, for a
// delivery signed with that very key, in most runs.
func TestRotationDiagnosis(t *testing.T) {
	clock := webhooktest.NewClock(webhooktest.Time())
	v, err := webhook.NewVerifier([]string{rotOld}, webhook.WithClock(clock.Now))
	require.NoError(t, err)
	h, err := webhook.NewHandler(webhook.WithClock(clock.Now), webhook.WithLogger(slog.New(slog.DiscardHandler)), webhook.WithoutDedupe(),
		webhook.WithKeyFunc(func(ctx context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
			return &webhook.Keys{Tenant: "acme", Standard: v}, nil
		}))
	require.NoError(t, err)
	var mu sync.Mutex
	var wrong []string
	refused := 0
	h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) {
		mu.Lock()
		defer mu.Unlock()
		refused++
		if dg := err.Diagnosis; dg == nil || dg.Keys != 0 || dg.PublicKeys != 1 {
			wrong = append(wrong, fmt.Sprintf("%+v", dg))
		}
	})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			keys := []string{rotOld}
			if i%2 == 1 {
				keys = []string{webhooktest.PublicKey}
			}
			if err := v.SetSecrets(keys...); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3000; i++ {
				h.ServeHTTP(httptest.NewRecorder(), webhooktest.NewStandardRequest(rotOld, jamBody))
			}
		}()
	}
	testwait.For(t, "the delivering goroutines to finish", wg.Wait)
	close(stop)
	testwait.Closed(t, done, "the rotating goroutine to stop")
	require.NotZero(t, refused, "the rotation never refused one: the test saw no swap")
	require.Empty(t, wrong, "of %d refused, diagnoses counting keys the delivery was not verified against", refused)
}
