package event

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTimeUnmarshal(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time // zero means the zero Time
	}{
		{`null`, time.Time{}},
		{`""`, time.Time{}},
		{`0`, time.Time{}}, // Intercom's delivered_at: 0 means not delivered
		{`"0"`, time.Time{}},
		{`0.5`, time.Unix(0, 5e8)},
		{`1773406800`, time.Unix(1773406800, 0)},
		{`-86400`, time.Unix(-86400, 0)},
		{`1773406800.25`, time.Unix(1773406800, 250_000_000)},
		{`"1773406800"`, time.Unix(1773406800, 0)},
		{`"1773406800.000000001"`, time.Unix(1773406800, 1)},
		{`"2026-03-13T13:00:00Z"`, utc("2026-03-13T13:00:00Z")},
		{`"2026-03-13T13:00:00.123Z"`, utc("2026-03-13T13:00:00.123Z")},
		{`"2026-03-13T14:00:00+01:00"`, utc("2026-03-13T13:00:00Z")},
		{`"2026-03-13T14:00:00.5+0100"`, utc("2026-03-13T13:00:00.5Z")},
		{`"2026-03-13T13:00:00"`, utc("2026-03-13T13:00:00Z")},
		{`"2026-03-13T13:00:00.999999999"`, utc("2026-03-13T13:00:00.999999999Z")},
		{`"2026-03-13 13:00:00"`, utc("2026-03-13T13:00:00Z")},
		{`"2026-03-13 13:00:00-05:00"`, utc("2026-03-13T18:00:00Z")},
		{`"2026\u002d03-13T13:00:00Z"`, utc("2026-03-13T13:00:00Z")},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got Time
			require.NoError(t, json.Unmarshal([]byte(tt.in), &got))
			require.True(t, tt.want.Equal(got.Time), "got %v", got.Time)
			require.Equal(t, tt.want.IsZero(), got.IsZero())
			// Round trip.
			b, err := json.Marshal(got)
			require.NoError(t, err)
			var back Time
			require.NoError(t, json.Unmarshal(b, &back))
			require.True(t, got.Equal(back.Time))
		})
	}
}

// TestTimeUnmarshalUTC: every form of one instant decodes to the same
// Time, in UTC, as Unix seconds do: a sender's offset, or the receiving
// machine's zone (which time.Parse gives a string whose offset matches
// it), must not make two decodings of the same instant differ under ==,
// reflect.DeepEqual or String.
func TestTimeUnmarshalUTC(t *testing.T) {
	want := Time{time.Unix(1773406800, 0).UTC()}
	for _, in := range []string{
		`1773406800`, `"1773406800"`, `"2026-03-13T13:00:00Z"`, `"2026-03-13T13:00:00+00:00"`,
		`"2026-03-13T14:00:00+01:00"`, `"2026-03-13T14:00:00+0100"`, `"2026-03-13 08:00:00-05:00"`,
		`"2026-03-13T13:00:00"`,
	} {
		t.Run(in, func(t *testing.T) {
			var got Time
			require.NoError(t, json.Unmarshal([]byte(in), &got))
			require.Equal(t, want, got)
			require.Equal(t, time.UTC, got.Location())
		})
	}
}

func TestTimeUnmarshalRejects(t *testing.T) {
	for _, in := range []string{
		`true`, `false`, `{}`, `[]`, `[1773406800]`, `"yesterday"`, `"2026-03-13"`, `"2026-13-13T13:00:00Z"`,
		`"1773406800x"`, `"+1773406800"`, `1e9`, `1.`, `-`, `"-"`, `1773406800.1234567890`,
		`99999999999999`, `"12:00:00"`, `"2026-03-13T13:00:00Q"`, ``, `"unterminated`,
	} {
		t.Run(in, func(t *testing.T) {
			var got Time
			err := got.UnmarshalJSON([]byte(in))
			require.Error(t, err)
			var ute *json.UnmarshalTypeError
			require.ErrorAs(t, err, &ute)
		})
	}
	// Inside a struct, encoding/json reports the field.
	var v struct {
		At Time `json:"at"`
	}
	err := json.Unmarshal([]byte(`{"at": true}`), &v)
	var ute *json.UnmarshalTypeError
	require.ErrorAs(t, err, &ute)
	require.Equal(t, "at", ute.Field)
}

func TestTimeMarshal(t *testing.T) {
	b, err := json.Marshal(Time{})
	require.NoError(t, err)
	require.Equal(t, `null`, string(b))
	b, err = json.Marshal(Time{utc("2026-03-13T13:00:00.5Z")})
	require.NoError(t, err)
	require.Equal(t, `"2026-03-13T13:00:00.5Z"`, string(b))
	_, err = json.Marshal(Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.Error(t, err)
}

func TestID(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"215468124301118"`, "215468124301118"},
		{`215468124301118`, "215468124301118"},
		{`7340561`, "7340561"},
		{`-1`, "-1"},
		{`1.5e3`, "1.5e3"},
		{`"notif_3f1c9a2e"`, "notif_3f1c9a2e"},
		{`"caf\u00e9"`, "café"},
		{`""`, ""},
		{`null`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var id ID
			require.NoError(t, json.Unmarshal([]byte(tt.in), &id))
			require.Equal(t, tt.want, id.String())
		})
	}
	for _, in := range []string{`true`, `{}`, `[]`, `["1"]`, ``, `01`, `1.`, `-`, `+1`, `"x`, `1e`} {
		t.Run("reject "+in, func(t *testing.T) {
			var id ID
			require.Error(t, id.UnmarshalJSON([]byte(in)))
		})
	}
}

func TestIntercomTicketState(t *testing.T) {
	var s IntercomTicketState
	require.NoError(t, json.Unmarshal([]byte(`"waiting_on_customer"`), &s))
	require.Equal(t, IntercomTicketState{Category: "waiting_on_customer"}, s)
	require.NoError(t, json.Unmarshal([]byte(`{"id":4129,"category":"in_progress","internal_label":"Triage","external_label":"In progress"}`), &s))
	require.Equal(t, IntercomTicketState{ID: "4129", Category: "in_progress", InternalLabel: "Triage", ExternalLabel: "In progress"}, s)
	require.Error(t, json.Unmarshal([]byte(`4`), &s))
}

// TestParseTolerantItem: a field of unexpected type inside an item must
// not fail the notification; the envelope and every other field decode.
func TestParseTolerantItem(t *testing.T) {
	body := []byte(`{
		"type": "notification_event", "id": "notif_tolerant", "topic": "conversation.admin.assigned",
		"app_id": "q7k3zm2x", "created_at": 1773406800, "delivery_attempts": 1, "delivery_status": "pending",
		"links": {},
		"data": {"type": "notification_event_data", "item": {
			"type": "conversation", "id": 215468124301118,
			"admin_assignee_id": "not-a-number",
			"team_assignee_id": {"nested": true},
			"statistics": "oops",
			"snoozed_until": true,
			"read": "yes",
			"priority": "urgent",
			"source": {"type": "conversation", "author": {"type": "user", "id": "65f1", "name": 42, "email": "a@b.example"}, "subject": "Hi"},
			"conversation_parts": {"conversation_parts": [
				{"id": "1", "part_type": "comment", "created_at": "not a time", "body": "<p>first</p>"},
				{"id": "2", "part_type": "note", "created_at": 1773406900}
			], "total_count": "two"},
			"tags": {"tags": [{"id": 1, "name": "vip"}]},
			"custom_attributes": ["not", "a", "map"]
		}}
	}`)
	ev, err := Parse(body)
	require.NoError(t, err)
	n := ev.(*IntercomNotification)
	require.Equal(t, ID("notif_tolerant"), n.ID)
	require.Equal(t, "conversation.admin.assigned", n.EventType())
	require.Equal(t, int64(1773406800), n.CreatedAt.Unix())
	require.Equal(t, "pending", n.DeliveryStatus)
	require.Equal(t, body, n.RawJSON())

	c := n.Conversation()
	require.NotNil(t, c)
	require.Equal(t, ID("215468124301118"), c.ID)
	require.Equal(t, ID("not-a-number"), c.AdminAssigneeID, "ID takes any string")
	require.Empty(t, c.TeamAssigneeID)
	require.Zero(t, c.Statistics)
	require.True(t, c.SnoozedUntil.IsZero())
	require.False(t, c.Read)
	require.Equal(t, PriorityUrgent, c.Priority)
	require.Equal(t, "Hi", c.Source.Subject, "nested struct still fills")
	require.Equal(t, "a@b.example", c.Source.Author.Email)
	require.Empty(t, c.Source.Author.Name)
	require.Len(t, c.Parts, 2)
	require.Equal(t, "<p>first</p>", c.Parts[0].Body, "array element keeps its good fields")
	require.True(t, c.Parts[0].CreatedAt.IsZero())
	require.Equal(t, int64(1773406900), c.Parts[1].CreatedAt.Unix())
	require.Zero(t, c.PartsTotal)
	require.Equal(t, []IntercomTag{{ID: "1", Name: "vip"}}, c.Tags)
	require.Nil(t, c.CustomAttributes)

	var fields []string
	for _, err := range n.FieldErrors() {
		var ute *json.UnmarshalTypeError
		require.ErrorAs(t, err, &ute)
		fields = append(fields, ute.Field)
	}
	require.ElementsMatch(t, []string{
		"data.item.team_assignee_id", "data.item.statistics", "data.item.snoozed_until", "data.item.read",
		"data.item.source.author.name", "data.item.conversation_parts.conversation_parts[0].created_at",
		"data.item.conversation_parts.total_count", "data.item.custom_attributes",
	}, fields)

	// The raw item is still reachable.
	require.Contains(t, string(n.Item()), `"statistics": "oops"`)
}

func TestParseTolerantJam(t *testing.T) {
	ev, err := Parse([]byte(`{"jamId":"7c9e6679-7425-40de-944b-e07fc1f90ae7","teamId":"t1","type":"video","isIncognito":"no","systemInfo":{"screen":{"width":"wide","height":900}},"createdAt":"soon"}`))
	require.NoError(t, err)
	j := ev.(*JamCreated)
	require.Equal(t, CaptureVideo, j.Type)
	require.Equal(t, 900, j.SystemInfo.Screen.Height)
	require.Len(t, j.FieldErrors(), 3)
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{``, `   `, `[]`, `"x"`, `42`, `null`, `{`, `{"a":1}x`, `{"a":}`, "\xff", `{"type":"notification_event",}`} {
		t.Run(in, func(t *testing.T) {
			ev, err := Parse([]byte(in))
			require.ErrorIs(t, err, ErrInvalidJSON)
			require.Nil(t, ev)
			_, err = ParseAs(TypeJamCreated, []byte(in))
			require.ErrorIs(t, err, ErrInvalidJSON)
		})
	}
}

func TestParseDetection(t *testing.T) {
	tests := []struct {
		body string
		want string
		typ  Event
	}{
		{`{}`, "", (*UnknownEvent)(nil)},
		{`{"hello":"world"}`, "", (*UnknownEvent)(nil)},
		{`{"type":"video","jamId":"j"}`, "", (*UnknownEvent)(nil)}, // no teamId
		{`{"type":"billing.invoice.paid","data":{"amount":1}}`, "billing.invoice.paid", (*UnknownEvent)(nil)},
		{`{"type":"jam.created","data":"not an object","jamId":"j","teamId":"t"}`, TypeJamCreated, (*JamCreated)(nil)},
		{`{"type":"notification_event","data":{}}`, "", (*UnknownEvent)(nil)},
		{`{"type":"notification_event","topic":"ticket.deleted"}`, "ticket.deleted", (*IntercomNotification)(nil)},
		{`{"event":"jam.exported","payload":{}}`, "jam.exported", (*UnknownEvent)(nil)},
		{`{"event":"intercom.recorder.opted_out","payload":{"conversationId":"1"}}`, TypeRecorderOptedOut, (*RecorderOptedOut)(nil)},
		{`{"conversationId":"1","jamUrl":"https://jam.dev/c/x"}`, TypeRecorderRecorded, (*RecorderRecorded)(nil)},
		{`{"conversationId":null}`, "", (*UnknownEvent)(nil)},
		{`{"recordingLinkId":"rl_1"}`, TypeRecordingLinkCreated, (*RecordingLinkCreated)(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			ev, err := Parse([]byte(tt.body))
			require.NoError(t, err)
			require.IsType(t, tt.typ, ev)
			require.Equal(t, tt.want, ev.EventType())
			require.Equal(t, tt.body, string(ev.RawJSON()))
		})
	}
}

func TestParseAs(t *testing.T) {
	fx := readFixtures(t)
	tests := []struct {
		eventType string
		fixture   string
		typ       Event
		wrong     bool
	}{
		{TypeJamCreated, "jam/jam.created.maximal.json", (*JamCreated)(nil), false},
		{TypeJamCreated, "jam/jam.created.envelope.json", (*JamCreated)(nil), false},
		{TypeRecorderRecorded, "jam/intercom.recorder.recorded.flat.json", (*RecorderRecorded)(nil), false},
		{TypeRecorderRecorded, "jam/intercom.recorder.recorded.envelope.json", (*RecorderRecorded)(nil), false},
		{TypeRecorderRecorded, "jam/intercom.recorder.recorded.fin.json", (*RecorderRecorded)(nil), false},
		// A pinned opted-out endpoint: a flat body with a jamId is still opted out.
		{TypeRecorderOptedOut, "jam/intercom.recorder.opted_out.flat.json", (*RecorderOptedOut)(nil), false},
		{TypeRecorderOptedOut, "jam/intercom.recorder.opted_out.fin.json", (*RecorderOptedOut)(nil), false},
		{TypeRecordingLinkCreated, "jam/recording_link.created.json", (*RecordingLinkCreated)(nil), false},
		{TopicConversationUserReplied, "intercom/conversation.user.replied.json", (*IntercomNotification)(nil), false},
		{TopicPing, "intercom/ping.json", (*IntercomNotification)(nil), false},
		{"jam.deleted", "jam/jam.created.minimal.json", (*UnknownEvent)(nil), false},
		{TypeSeriesWebhook, "series/contact.json", (*SeriesWebhook)(nil), false},
		{TypeSeriesWebhook, "series/contact.form", (*SeriesWebhook)(nil), false},

		{TypeJamCreated, "jam/intercom.recorder.recorded.flat.json", nil, true},
		{TypeJamCreated, "jam/intercom.recorder.recorded.envelope.json", nil, true},
		{TypeRecorderRecorded, "jam/jam.created.minimal.json", nil, true},
		{TypeRecorderOptedOut, "jam/intercom.recorder.recorded.fin.json", nil, true},
		{TypeRecordingLinkCreated, "jam/jam.created.maximal.json", nil, true},
		{TypeJamCreated, "intercom/conversation.user.replied.json", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.eventType+"/"+tt.fixture, func(t *testing.T) {
			b, ok := fx[tt.fixture]
			require.True(t, ok)
			ev, err := ParseAs(tt.eventType, b)
			if tt.wrong {
				require.ErrorIs(t, err, ErrWrongShape)
				require.Nil(t, ev)
				return
			}
			require.NoError(t, err)
			require.IsType(t, tt.typ, ev)
			if _, ok := ev.(*SeriesWebhook); !ok {
				require.Equal(t, tt.eventType, ev.EventType())
			}
			require.Equal(t, b, ev.RawJSON())
		})
	}
}

func TestParseCopiesBody(t *testing.T) {
	body := []byte(`{"conversationId":"215468124200515"}`)
	ev, err := Parse(body)
	require.NoError(t, err)
	body[3] = 'X'
	require.Equal(t, `{"conversationId":"215468124200515"}`, string(ev.RawJSON()))
}

func TestJamUUID(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"https://jam.dev/c/7c9e6679-7425-40de-944b-e07fc1f90ae7", "7c9e6679-7425-40de-944b-e07fc1f90ae7", true},
		{"https://jam.dev/c/7C9E6679-7425-40DE-944B-E07FC1F90AE7/", "7C9E6679-7425-40DE-944B-E07FC1F90AE7", true},
		{"https://jam.dev/c/7c9e6679-7425-40de-944b-e07fc1f90ae7?utm_source=slack#t=12", "7c9e6679-7425-40de-944b-e07fc1f90ae7", true},
		{"jam.dev/c/7c9e6679-7425-40de-944b-e07fc1f90ae7", "7c9e6679-7425-40de-944b-e07fc1f90ae7", true},
		{"https://jam.dev/c/", "", false},
		{"https://jam.dev/c/not-a-uuid", "", false},
		{"https://jam.dev/c/7c9e6679x7425-40de-944b-e07fc1f90ae7", "", false},
		{"https://jam.dev/c/7c9e6679-7425-40de-944b-e07fc1f90aeg", "", false},
		{"", "", false},
		{"%zz", "", false},
	}
	for _, tt := range tests {
		got, ok := JamUUID(tt.in)
		require.Equal(t, tt.ok, ok, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
}

func TestParseSeries(t *testing.T) {
	tests := []struct {
		body, contentType, wantCT string
		fields                    map[string]string
	}{
		{`{"a":"1"}`, "application/json; charset=utf-8", contentTypeJSON, map[string]string{"a": "1"}},
		{`{"a":"1"}`, "application/vnd.api+json", contentTypeJSON, map[string]string{"a": "1"}},
		{` {"a":2}`, "", contentTypeJSON, map[string]string{"a": "2"}},
		{`a=1&b=x+y`, "", contentTypeForm, map[string]string{"a": "1", "b": "x y"}},
		{`a=1&b=x+y`, "text/plain", contentTypeForm, map[string]string{"a": "1", "b": "x y"}},
		{`{"a":"1"}`, "application/x-www-form-urlencoded", contentTypeForm, map[string]string{`{"a":"1"}`: ""}},
		{``, "", contentTypeForm, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.body+"|"+tt.contentType, func(t *testing.T) {
			s, err := ParseSeries([]byte(tt.body), tt.contentType)
			require.NoError(t, err)
			require.Equal(t, tt.wantCT, s.ContentType)
			require.Equal(t, tt.fields, s.Fields)
			require.Equal(t, TypeSeriesWebhook, s.EventType())
			require.Equal(t, tt.body, string(s.RawJSON()))
		})
	}
	for _, tt := range []struct{ body, ct string }{{`[1]`, "application/json"}, {`null`, "application/json"}, {`{`, ""}, {`a=%zz`, ""}} {
		_, err := ParseSeries([]byte(tt.body), tt.ct)
		require.Error(t, err, tt.body)
	}
	_, err := ParseSeries([]byte(`[1]`), "application/json")
	require.ErrorIs(t, err, ErrInvalidJSON)

	s, err := ParseSeries([]byte(`seats=many`), "")
	require.NoError(t, err)
	var v struct {
		Seats int `json:"seats,string"`
	}
	require.Error(t, s.Decode(&v))
	require.Error(t, s.Decode(nil))
}

func TestErrorsAreDistinct(t *testing.T) {
	require.False(t, errors.Is(ErrInvalidJSON, ErrWrongShape))
	_, err := ParseAs(TypeJamCreated, []byte(`{"conversationId":"1"}`))
	require.ErrorIs(t, err, ErrWrongShape)
	require.NotErrorIs(t, err, ErrInvalidJSON)
}

func TestParseAsSeriesError(t *testing.T) {
	ev, err := ParseAs(TypeSeriesWebhook, []byte(`{"a":`))
	require.ErrorIs(t, err, ErrInvalidJSON)
	require.Nil(t, ev) // an untyped nil, not a nil *SeriesWebhook
}

// TestDecodeErrorsHoldNoBody checks that an error for a body that does
// not decode says what is wrong and where, with the sentinel for
// errors.Is and a *DecodeError for errors.As, and repeats none of the
// body's bytes.
func TestDecodeErrorsHoldNoBody(t *testing.T) {
	tests := []struct {
		name, body, contentType string
		parse                   func(body []byte, contentType string) error
		is                      error
		offset                  int64
		secret                  string // bytes of the body the error must not hold
	}{
		{"Parse, bad character", `{"jamId":"j",Xsecret}`, "", parseErr, ErrInvalidJSON, 14, "Xsecret"},
		{"Parse, bad literal", `{"conversationId":tZUE}`, "", parseErr, ErrInvalidJSON, 20, "Z"},
		{"Parse, bad escape", `{"topic":"\Q"}`, "", parseErr, ErrInvalidJSON, 12, `\Q`},
		{"Parse, non-ASCII byte", "{\"a\":1,\xfe}", "", parseErr, ErrInvalidJSON, 8, "\xfe"},
		{"Parse, unterminated", `{"jamId":"unterminated-secret-value`, "", parseErr, ErrInvalidJSON, 35, "unterminated-secret-value"},
		{"ParseAs, bad character", `{"jamId":"j",Xsecret}`, "", parseAsErr, ErrInvalidJSON, 14, "Xsecret"},
		{"ParseFrom Intercom", `{"type":"notification_event",Xsecret}`, "", parseFromIntercomErr, ErrInvalidJSON, 30, "Xsecret"},
		{"Series JSON", `{"name":Xsecret}`, "application/json", seriesErr, ErrInvalidJSON, 9, "Xsecret"},
		{"Series form, bad escape", `name=Dana&secret=%zz`, "application/x-www-form-urlencoded", seriesErr, ErrInvalidForm, 17, "%zz"},
		{"Series form, cut escape", `name=Dana%4`, "application/x-www-form-urlencoded", seriesErr, ErrInvalidForm, 9, "%4"},
		{"Series form, bad escape in a key", `a=1&se%crét=x`, "", seriesErr, ErrInvalidForm, 6, "%cr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.parse([]byte(tt.body), tt.contentType)
			require.ErrorIs(t, err, tt.is)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			require.Equal(t, tt.offset, de.Offset, "%v", err)
			require.NotContains(t, err.Error(), tt.secret)
			require.Contains(t, err.Error(), "at byte")
		})
	}
}

func parseErr(body []byte, _ string) error   { _, err := Parse(body); return err }
func parseAsErr(body []byte, _ string) error { _, err := ParseAs(TypeJamCreated, body); return err }
func parseFromIntercomErr(body []byte, _ string) error {
	_, err := ParseFrom(SourceIntercom, body)
	return err
}
func seriesErr(body []byte, ct string) error { _, err := ParseSeries(body, ct); return err }

// TestFieldErrorsHoldNoValue checks that a field left zero is reported by
// its name and the kind of its value, never the value itself.
func TestFieldErrorsHoldNoValue(t *testing.T) {
	ev, err := Parse([]byte(`{"jamId":"j","teamId":"t","systemInfo":{"screen":{"width":98765432109876543210,"height":4.25}},"createdAt":31415926535897932}`))
	require.NoError(t, err)
	errs := ev.(*JamCreated).FieldErrors()
	require.Len(t, errs, 3)
	for _, fe := range errs {
		for _, digits := range []string{"98765432109876543210", "4.25", "31415926535897932"} {
			require.NotContains(t, fe.Error(), digits)
		}
	}
}

// TestSenderNamesBounded checks that a type or topic a body names reaches
// an error quoted and cut, however long or odd it is.
func TestSenderNamesBounded(t *testing.T) {
	long := "billing." + strings.Repeat("x", 10_000)
	for _, body := range []string{
		`{"type":"` + long + `","data":{}}`,
		`{"event":"jam.` + strings.Repeat("y", 10_000) + `","payload":{}}`,
		`{"type":"jam.archived\n level=ERROR msg=\"forged\"","data":{}}`,
	} {
		_, err := ParseAs(TypeJamCreated, []byte(body))
		require.ErrorIs(t, err, ErrWrongShape)
		require.Less(t, len(err.Error()), 200, "%.300s", err)
		require.NotContains(t, err.Error(), "\n")
		require.NotContains(t, err.Error(), `msg="forged"`)
	}
	tests := []struct{ in, want string }{
		{"jam.created", "jam.created"},
		{"conversation_part.tag.created", "conversation_part.tag.created"},
		{"", ""},
		{"a\nb", `"a\nb"`},
		{"a b", `"a b"`},
		{`a"b`, `"a\"b"`},
		{"é", `"é"`},
		{strings.Repeat("a", 64), strings.Repeat("a", 64)},
		{strings.Repeat("a", 65), `"` + strings.Repeat("a", 64) + `"…(cut, 65 bytes)`},
		{strings.Repeat("a", 63) + "é", `"` + strings.Repeat("a", 63) + `"…(cut, 65 bytes)`}, // not inside a rune
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, SafeName(tt.in))
	}
}

// TestSeriesFormSemicolons checks that a ';' in a form body is a
// character of its value, as a Series body sends "Smith; Jones" unencoded,
// and only '&' separates pairs.
func TestSeriesFormSemicolons(t *testing.T) {
	tests := []struct {
		body   string
		fields map[string]string
	}{
		{`name=Smith; Jones&company=Northwind`, map[string]string{"name": "Smith; Jones", "company": "Northwind"}},
		{`name=Smith;+Jones`, map[string]string{"name": "Smith; Jones"}},
		{`a=1;b=2`, map[string]string{"a": "1;b=2"}},
		{`;=x&&b=%3B`, map[string]string{";": "x", "b": ";"}},
		{`tags=a;b;c&tags=d`, map[string]string{"tags": "a;b;c"}},
		{`=v&k`, map[string]string{"": "v", "k": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			s, err := ParseSeries([]byte(tt.body), "application/x-www-form-urlencoded")
			require.NoError(t, err)
			require.Equal(t, tt.fields, s.Fields)
			require.Equal(t, contentTypeForm, s.ContentType)
		})
	}
}

// TestSeriesEmptyBody checks that an empty body, a block with no
// key/value pairs, is a Series webhook with no fields whatever its
// Content-Type, as a form body always was.
func TestSeriesEmptyBody(t *testing.T) {
	for _, tt := range []struct{ body, ct, wantCT string }{
		{"", "application/json", contentTypeJSON},
		{" \r\n", "application/json; charset=utf-8", contentTypeJSON},
		{"", "application/x-www-form-urlencoded", contentTypeForm},
		{"", "", contentTypeForm},
	} {
		s, err := ParseSeries([]byte(tt.body), tt.ct)
		require.NoError(t, err, "%q %s", tt.body, tt.ct)
		require.Empty(t, s.Fields)
		require.NotNil(t, s.Fields)
		require.Equal(t, tt.wantCT, s.ContentType)
		var v struct{ Name string }
		require.NoError(t, s.Decode(&v))
	}
}

// TestParseAsPing checks that a ping, which Intercom sends to every
// endpoint whatever its subscriptions, stays the ping notification at an
// endpoint pinned to another topic.
func TestParseAsPing(t *testing.T) {
	fx := readFixtures(t)
	for _, pinned := range []string{TopicTicketCreated, TopicConversationUserReplied, "article.created"} {
		for _, decode := range []func() (Event, error){
			func() (Event, error) { return ParseAs(pinned, fx["intercom/ping.json"]) },
			func() (Event, error) {
				return Decode(SourceIntercom, pinned, "application/json", fx["intercom/ping.json"])
			},
		} {
			ev, err := decode()
			require.NoError(t, err)
			n, ok := ev.(*IntercomNotification)
			require.True(t, ok, "%s: %T", pinned, ev)
			require.Equal(t, TopicPing, n.Topic)
			require.Equal(t, TopicPing, n.EventType())
		}
	}
	// Signed by Jam's key, a ping-shaped body is still not Intercom's.
	ev, err := Decode(SourceStandard, "article.created", "application/json", fx["intercom/ping.json"])
	require.NoError(t, err)
	require.IsType(t, (*UnknownEvent)(nil), ev)
}

// TestAttributesKeepLargeIntegers: an attribute map (custom attributes,
// ticket attributes, a data event's metadata) holds whatever numbers a
// workspace stores, such as an account number past 2^53, which a float64
// cannot hold: each keeps its digits as a json.Number, at any depth.
func TestAttributesKeepLargeIntegers(t *testing.T) {
	const attrs = `{"account_no": 9007199254740993, "ledger": {"entry": 18446744073709551617}, "ratio": 0.25, "refs": [12345678901234567891]}`
	notification := func(topic, item string) string {
		return `{"type": "notification_event", "id": "notif_bigint", "topic": "` + topic + `", "app_id": "w7t2kq9r",
			"created_at": 1773412760, "data": {"type": "notification_event_data", "item": ` + item + `}}`
	}
	tests := []struct {
		name  string
		body  string
		attrs func(n *IntercomNotification) map[string]any
	}{
		{"conversation", notification(TopicConversationUserCreated, `{"type": "conversation", "id": "5521", "custom_attributes": `+attrs+`}`),
			func(n *IntercomNotification) map[string]any { return n.Conversation().CustomAttributes }},
		{"contact", notification(TopicContactUserCreated, `{"type": "contact", "id": "6a0c", "custom_attributes": `+attrs+`}`),
			func(n *IntercomNotification) map[string]any { return n.Contact().CustomAttributes }},
		{"older user", notification(TopicUserCreated, `{"type": "user", "id": "6a0d", "user_id": "u-88", "custom_attributes": `+attrs+`}`),
			func(n *IntercomNotification) map[string]any { return n.Contact().CustomAttributes }},
		{"company", notification(TopicCompanyCreated, `{"type": "company", "id": "7b31", "custom_attributes": `+attrs+`}`),
			func(n *IntercomNotification) map[string]any { return n.Company().CustomAttributes }},
		{"visitor", notification(TopicVisitorSignedUp, `{"type": "visitor", "id": "8c42", "custom_attributes": `+attrs+`}`),
			func(n *IntercomNotification) map[string]any { return n.Visitor().CustomAttributes }},
		{"ticket", notification(TopicTicketCreated, `{"type": "ticket", "id": "1044", "ticket_attributes": `+attrs+`}`),
			func(n *IntercomNotification) map[string]any { return n.Ticket().TicketAttributes }},
		{"nested ticket", notification(TopicTicketClosed, `{"ticket": {"type": "ticket", "id": "1045", "ticket_attributes": `+attrs+`}}`),
			func(n *IntercomNotification) map[string]any { return n.Ticket().TicketAttributes }},
		{"data event", notification(TopicEventCreated, `{"type": "event", "event_name": "invoice-paid", "created_at": 1773412700, "metadata": `+attrs+`}`),
			func(n *IntercomNotification) map[string]any { return n.DataEvent().Metadata }},
	}
	want := map[string]any{
		"account_no": json.Number("9007199254740993"),
		"ledger":     map[string]any{"entry": json.Number("18446744073709551617")},
		"ratio":      json.Number("0.25"),
		"refs":       []any{json.Number("12345678901234567891")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Parse([]byte(tt.body))
			require.NoError(t, err)
			n := ev.(*IntercomNotification)
			require.Empty(t, n.FieldErrors())
			require.Equal(t, want, tt.attrs(n))
			// So does a notification decoded with encoding/json, whose
			// accessors decode the item.
			var plain IntercomNotification
			require.NoError(t, json.Unmarshal([]byte(tt.body), &plain))
			require.Equal(t, want, tt.attrs(&plain))
		})
	}
}
