package event

import (
	"reflect"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEventTable holds every row of the event table to what adding an
// event takes here: a struct that is an Event of the row's name, a fixture
// that decodes to it, and ParseAs and ParseFrom support. The fourth part,
// a Handler method that registers a callback for it, is held in package
// webhook by TestEveryFixtureHasCallback, over the same fixtures.
func TestEventTable(t *testing.T) {
	fixtures := readFixtures(t)
	names := make([]string, 0, len(fixtures))
	for name := range fixtures {
		names = append(names, name)
	}
	sort.Strings(names)
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
		})
	}
}

// TestConstantsHaveRows holds every event type constant (Type…) to a
// row of the event table, and every item kind constant (Item…) to a row
// of the item table, so that TestEventTable and TestItemTable, which walk
// the rows, reach each: a constant added without its row, struct,
// accessor or callback fails here.
func TestConstantsHaveRows(t *testing.T) {
	types := packageConsts(t, "Type")
	require.NotEmpty(t, types)
	for _, name := range types {
		require.NotNil(t, kindOf(name), "event type %s has no row in the event table", name)
	}
	kinds := packageConsts(t, "Item")
	require.NotEmpty(t, kinds)
	for _, kind := range kinds {
		found := false
		for _, k := range itemKinds {
			found = found || k.kind == kind
		}
		require.True(t, found, "item kind %s has no row in the item table", kind)
	}
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
