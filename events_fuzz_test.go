package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParse checks, on any bytes, that Parse and ParseAs never panic,
// never return a nil event without an error, return only the documented
// sentinels, and keep the input as RawJSON; and that a body Parse accepts
// is valid JSON whose detected type ParseAs agrees with.
func FuzzParse(f *testing.F) {
	for _, b := range readFixtures(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"type":"notification_event","topic":"x","data":{"item":{"type":"conversation","statistics":"oops","ticket":{"ticket_state":7}}}}`))
	f.Add([]byte(`{"type":"a.b","data":{"jamId":true}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := Parse(body)
		if err != nil {
			require.Nil(t, ev)
			require.ErrorIs(t, err, ErrInvalidJSON)
			return
		}
		require.NotNil(t, ev)
		require.True(t, json.Valid(body), "Parse accepted invalid JSON")
		require.Equal(t, body, ev.RawJSON())

		// ParseAs agrees with what Parse detected.
		switch ev := ev.(type) {
		case *JamCreated, *RecorderRecorded, *RecorderOptedOut, *RecordingLinkCreated:
			again, err := ParseAs(ev.EventType(), body)
			require.NoError(t, err)
			require.Equal(t, ev.EventType(), again.EventType())
			require.IsType(t, ev, again)
		case *IntercomNotification:
			require.NotEmpty(t, ev.Topic)
			again, err := ParseAs(ev.Topic, body)
			require.NoError(t, err)
			require.IsType(t, ev, again)
			_ = ev.Item()
			_ = ev.ItemType()
			for _, fe := range ev.FieldErrors() {
				var ute *json.UnmarshalTypeError
				require.True(t, errors.As(fe, &ute))
			}
		case *UnknownEvent:
		default:
			t.Fatalf("unexpected event type %T", ev)
		}
		ev2, err := ParseAs("pinned.unknown", body)
		if err == nil {
			require.Equal(t, body, ev2.RawJSON())
		}
		s, err := ParseSeries(body, "")
		if err == nil {
			require.NotNil(t, s.Fields)
			_ = s.Decode(&map[string]any{})
		}
	})
}

// FuzzTimeID checks that Time and ID never panic and that whatever they
// accept survives a round trip through JSON.
func FuzzTimeID(f *testing.F) {
	for _, s := range []string{`null`, `""`, `1773406800`, `"1773406800.5"`, `"2026-03-13T13:00:00.123+01:00"`,
		`"2026-03-13 13:00:00"`, `true`, `{}`, `"x"`, `-62135596800`, `1.5e3`, `"\u00e9"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var tm Time
		if tm.UnmarshalJSON(b) == nil {
			out, err := json.Marshal(tm)
			require.NoError(t, err)
			var back Time
			require.NoError(t, json.Unmarshal(out, &back))
			require.True(t, tm.Equal(back.Time), "%s -> %s", b, out)
		}
		var id ID
		if id.UnmarshalJSON(b) == nil {
			out, err := json.Marshal(id)
			require.NoError(t, err)
			var back ID
			require.NoError(t, json.Unmarshal(out, &back))
			require.Equal(t, id, back)
			if len(b) > 0 && b[0] != '"' && !bytes.Equal(b, []byte("null")) {
				require.Equal(t, string(b), id.String(), "numbers keep their text")
			}
		}
	})
}
