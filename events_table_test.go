package webhook

import (
	"context"
	"reflect"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEventTable holds every row of the event table to what adding an
// event takes: a struct that is an Event of the row's name, a fixture that
// decodes to it, ParseAs and ParseFrom support, and a Handler method that
// registers a callback for it, which dispatch then runs.
func TestEventTable(t *testing.T) {
	fixtures := readFixtures(t)
	names := make([]string, 0, len(fixtures))
	for name := range fixtures {
		names = append(names, name)
	}
	sort.Strings(names)
	h, err := NewHandler(WithSecrets("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
	require.NoError(t, err)
	for _, k := range events {
		t.Run(k.typ.String(), func(t *testing.T) {
			// The struct.
			require.Equal(t, reflect.Pointer, k.typ.Kind())
			require.Equal(t, reflect.Struct, k.typ.Elem().Kind())
			zero, ok := reflect.New(k.typ.Elem()).Interface().(Event)
			require.True(t, ok, "%v is not an Event", k.typ)
			if k.name != "" {
				require.Equal(t, k.name, zero.EventType())
			}
			require.Contains(t, []Source{SourceStandard, SourceIntercom, SourceSeries}, k.source)
			require.Equal(t, k.decode != nil, k.source == SourceStandard, "Jam's rows, and only they, decode Jam's forms")
			require.Equal(t, k.flat != nil, k.missing != nil, "a flat shape test comes with its identifying fields")

			// A fixture.
			var body []byte
			var ev Event
			for _, name := range names {
				e, err := decodeFixture(name, fixtures[name])
				require.NoError(t, err, name)
				if reflect.TypeOf(e) == k.typ {
					body, ev = fixtures[name], e
					break
				}
			}
			require.NotNil(t, ev, "no fixture decodes to %v", k.typ)

			// ParseAs and ParseFrom.
			pinned, err := ParseAs(ev.EventType(), body)
			require.NoError(t, err)
			require.IsType(t, ev, pinned, "ParseAs(%q)", ev.EventType())
			from, err := ParseFrom(k.source, body)
			require.NoError(t, err)
			require.IsType(t, ev, from, "ParseFrom(%s)", k.source)

			// A callback.
			m, ok := callbackMethod(k.typ)
			require.True(t, ok, "no Handler method registers a callback for %v", k.typ)
			ran := false
			fn := reflect.MakeFunc(m.Type.In(m.Type.NumIn()-1), func(args []reflect.Value) []reflect.Value {
				ran = args[2].Interface() == ev
				return []reflect.Value{reflect.Zero(reflect.TypeFor[error]())}
			})
			args := []reflect.Value{reflect.ValueOf(h)}
			if m.Type.NumIn() == 3 { // OnIntercom takes the topic first
				args = append(args, reflect.ValueOf(ev.EventType()))
			}
			m.Func.Call(append(args, fn))
			code, err := h.reg.Load().dispatch(context.Background(), &Delivery{Event: ev})
			require.NoError(t, err)
			require.Equal(t, 200, code)
			require.True(t, ran, "%s's callback did not run for its event", m.Name)
		})
	}
}

// callbackMethod finds the Handler method whose last parameter is a
// callback taking typ.
func callbackMethod(typ reflect.Type) (reflect.Method, bool) {
	ht := reflect.TypeFor[*Handler]()
	for i := range ht.NumMethod() {
		m := ht.Method(i)
		last := m.Type.In(m.Type.NumIn() - 1)
		if last.Kind() == reflect.Func && last.NumIn() == 3 && last.In(2) == typ &&
			last.In(0) == reflect.TypeFor[context.Context]() && last.In(1) == reflect.TypeFor[*Delivery]() {
			return m, true
		}
	}
	return reflect.Method{}, false
}

// TestItemTable holds every row of the Intercom item table to a typed
// accessor on IntercomNotification that returns what the row builds, and
// to a fixture the accessor reads (TestFixtureCompleteness checks the
// fixture by kind).
func TestItemTable(t *testing.T) {
	fixtures := readFixtures(t)
	nt := reflect.TypeFor[*IntercomNotification]()
	for _, k := range itemKinds {
		t.Run(k.kind, func(t *testing.T) {
			built := k.typ
			var accessor reflect.Method
			for i := range nt.NumMethod() {
				if m := nt.Method(i); m.Type.NumIn() == 1 && m.Type.NumOut() == 1 && m.Type.Out(0) == built {
					accessor = m
				}
			}
			require.True(t, accessor.Func.IsValid(), "no accessor on IntercomNotification returns %v", built)
			found := false
			for name, b := range fixtures {
				ev, err := decodeFixture(name, b)
				require.NoError(t, err)
				if n, ok := ev.(*IntercomNotification); ok && n.ItemType() == k.kind {
					got := accessor.Func.Call([]reflect.Value{reflect.ValueOf(n)})[0]
					require.False(t, got.IsNil(), "%s of %s", accessor.Name, name)
					found = true
				}
			}
			require.True(t, found, "no fixture holds an item of kind %s", k.kind)
		})
	}
}
