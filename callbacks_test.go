package webhook_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// TestEveryFixtureHasCallback holds the last part of what adding an event
// takes: a Handler method that registers a callback for its struct, which
// the handler then runs for it. Package event's TestEventTable holds every
// row of the event table to a fixture that decodes to the row's struct;
// here every fixture, sent signed, must reach a callback taking the
// struct it decodes to, so a row without a callback fails one or the other.
func TestEveryFixtureHasCallback(t *testing.T) {
	newHandler := func(t *testing.T) *webhook.Handler {
		h, err := webhook.NewHandler(
			webhook.WithSecrets(webhooktest.Secret),
			webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
			webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken),
			webhook.WithClock(webhooktest.NewClock(webhooktest.Time()).Now),
			webhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		)
		require.NoError(t, err)
		return h
	}
	serve := func(t *testing.T, h *webhook.Handler, name string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, webhooktest.NewFixtureRequest(name))
		require.Equal(t, http.StatusOK, w.Code, name)
	}
	types := map[reflect.Type]bool{}
	for _, name := range webhooktest.FixtureNames() {
		t.Run(name, func(t *testing.T) {
			h := newHandler(t)
			var decoded event.Event
			h.OnAny(func(_ context.Context, _ *webhook.Delivery, e event.Event) error {
				decoded = e
				return nil
			})
			serve(t, h, name)
			require.NotNil(t, decoded)
			typ := reflect.TypeOf(decoded)
			types[typ] = true

			m, ok := callbackMethod(typ)
			require.True(t, ok, "no Handler method registers a callback for %v", typ)
			h = newHandler(t)
			ran := false
			fn := reflect.MakeFunc(m.Type.In(m.Type.NumIn()-1), func(args []reflect.Value) []reflect.Value {
				ran = reflect.TypeOf(args[2].Interface()) == typ
				return []reflect.Value{reflect.Zero(reflect.TypeFor[error]())}
			})
			args := []reflect.Value{reflect.ValueOf(h)}
			if m.Type.NumIn() == 3 { // OnIntercom takes the topic first
				args = append(args, reflect.ValueOf(decoded.EventType()))
			}
			m.Func.Call(append(args, fn))
			serve(t, h, name)
			require.True(t, ran, "%s's callback did not run for %s", m.Name, name)
		})
	}
	require.GreaterOrEqual(t, len(types), 6, "the fixtures decode to every event struct")
}

// callbackMethod finds the Handler method whose last parameter is a
// callback taking typ.
func callbackMethod(typ reflect.Type) (reflect.Method, bool) {
	ht := reflect.TypeFor[*webhook.Handler]()
	for i := range ht.NumMethod() {
		m := ht.Method(i)
		last := m.Type.In(m.Type.NumIn() - 1)
		if last.Kind() == reflect.Func && last.NumIn() == 3 && last.In(2) == typ &&
			last.In(0) == reflect.TypeFor[context.Context]() && last.In(1) == reflect.TypeFor[*webhook.Delivery]() {
			return m, true
		}
	}
	return reflect.Method{}, false
}
