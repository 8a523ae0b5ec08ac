package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unsafe"

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
			// What and where, in words of its own: nothing of the body.
			require.Regexp(t, decodeErrorText, err.Error())
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

// decodeErrorText is every error Parse may return for a body that is not
// a JSON object: the sentinel alone, or with a fault and an offset.
var decodeErrorText = regexp.MustCompile(`^webhook: body is not a JSON object(: (invalid character[a-z :-]*( \(expecting '[a-z]'\))?|unexpected end of input|syntax error) at byte [0-9]+)?$`)

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

// agreementSeeds are bodies on which a decoder that rebuilds objects
// through a map (sorted keys, the last duplicate kept whatever its type)
// disagrees with encoding/json: case-variant, escaped and duplicate keys,
// and ill-typed values among them.
var agreementSeeds = []string{
	`{"jamId":"j","teamId":"t","teamId":5}`,
	`{"type":"notification_event","topic":"ping","id":"n1","ID":"n2","delivery_attempts":"x"}`,
	`{"type":"notification_event","topic":"ping","ID":"n2","id":"n1","delivery_attempts":"x"}`,
	`{"jamId":"j","TeamID":"t","teamId":"u","title":7}`,
	`{"j\u0061mId":"j","teamId":"t","isIncognito":"yes"}`,
	`{"jamId":"j","teamId":"t","createdAt":"2026-11-24T09:00:00Z","createdAt":"soon"}`,
	`{"jamId":"j","teamId":"t","author":{"email":"a@b.example"},"author":{"email":5,"name":"n"}}`,
	`{"jamId":"j","teamId":"t","systemInfo":{"screen":{"width":"wide","height":900}}}`,
	`{"type":"jam.created","data":{"jamId":"j","teamId":"t","title":[]},"DATA":"x"}`,
	`{"type":"jam.created","data":{"jamId":"j","teamId":"t"},"data":"x"}`,
	`{"event":"intercom.recorder.opted_out","payload":{"conversationId":true},"payload":{"conversationId":"12"}}`,
	`{"type":"notification_event","topic":"conversation.user.created","id":"n","data":{"item":{"type":"conversation","contacts":{"contacts":[{"id":"1"},"x",{"id":3}]},"statistics":"oops","priority":1}}}`,
	`{"type":"notification_event","topic":"ticket.created","id":"n","data":{"item":{"type":"ticket","ticket_state":{"category":5},"ticket_state":"submitted","team_ids":[1,true,"2"]}}}`,
	`{"type":"notification_event","topic":"x","id":"n","Topic":"y","created_at":"x","CREATED_AT":1795510800}`,
	`{"type":"notification_event","topic":"x","id":"n","links":{"a":[1,2]},"self":{},"app_id":9}`,
	"{\"jamId\":\"j\",\"teamId\":\"t\",\"lin\u212as\":{},\"\u212aind\":1}",
	`{"conversationId":"1","JAMURL":"https://jam.dev/c/x","recording_url":5}`,
	`{"recordingLinkId":"r","createdBy":{"email":[]},"createdby":{"name":"n"}}`,
}

// FuzzParseAgreesWithJSON holds the general decoding path to
// encoding/json: the event is what json.Unmarshal decodes into the event's
// struct (through the same wire form and the same detection), with the
// ill-typed fields left zero, and field errors are reported exactly when
// json.Unmarshal reports a type error; where scanShape reads the shape,
// it reads what json.Unmarshal reads. json.Unmarshal stops at the first
// value a type with its own decoding (Time, ID) refuses, so for those
// bodies only the weaker properties are checked.
func FuzzParseAgreesWithJSON(f *testing.F) {
	for _, s := range agreementSeeds {
		f.Add([]byte(s))
	}
	for _, s := range flatJamSeeds {
		f.Add([]byte(s))
	}
	for _, b := range readFixtures(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkAgainstJSON(t, raw) })
}

// checkAgainstJSON checks one body as FuzzParseAgreesWithJSON describes,
// and reports whether encoding/json decoded it to the end.
func checkAgainstJSON(t *testing.T, raw []byte) bool {
	t.Helper()
	// encoding/json alone, and the shape read by decoding too.
	var jerrs []error
	shapeStopped := false
	plain := &decoder{unmarshal: func(data []byte, v any) ([]error, error) {
		err := json.Unmarshal(data, v)
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("%w: %w", ErrInvalidJSON, err)
		}
		if err != nil {
			if _, ok := v.(*shape); ok {
				// Detection's errors are not the event's; one that
				// stopped encoding/json leaves no whole shape. Where
				// encoding/json allocated an ill-typed pointer field
				// (data, payload), detection reads it as absent, as
				// pruning leaves it: the same shape otherwise.
				shapeStopped = shapeStopped || stopped(err)
				got := zeroPointers(v)
				if _, err := unmarshalLenient(data, v); err != nil {
					return nil, err
				}
				if !stopped(err) {
					require.Equal(t, got, zeroPointers(v), "shape of %q", data)
				}
				return nil, nil
			}
			jerrs = append(jerrs, err)
			return []error{err}, nil
		}
		return nil, nil
	}}
	// Parse's decoder, checking that what it pruned decodes cleanly.
	checked := &decoder{scan: true, unmarshal: func(data []byte, v any) ([]error, error) {
		errs, err := unmarshalLenient(data, v)
		if err == nil && len(errs) > 0 {
			typ := reflect.TypeOf(v).Elem()
			clean, _ := pruneJSON(typ, data)
			require.NoError(t, json.Unmarshal(clean, reflect.New(typ).Interface()), "pruned %q to %q", data, clean)
		}
		for _, fe := range errs {
			var ute *json.UnmarshalTypeError
			require.True(t, errors.As(fe, &ute), "field error %v of %q", fe, raw)
		}
		return errs, err
	}}
	want, werr := parseWith(plain, raw)
	got, err := parseWith(checked, raw)
	if werr != nil {
		require.Error(t, err, "encoding/json rejects %q (%v)", raw, werr)
		return false
	}
	require.NoError(t, err, "body %q", raw)
	if shapeStopped {
		return false // detection by encoding/json alone saw part of the body
	}

	// The scan reads the shape json.Unmarshal reads.
	if s, ok := scanShape(raw); ok {
		var ref shape
		if jerr := json.Unmarshal(raw, &ref); !stopped(jerr) {
			if s.Data != nil {
				s.Data.item = nil
			}
			require.Equal(t, zeroPointers(&ref), zeroPointers(s), "shape of %q", raw)
		}
	}

	errs := fieldErrors(got)
	for _, jerr := range jerrs {
		if stopped(jerr) {
			require.NotEmpty(t, errs, "json.Unmarshal failed on %q (%v), Parse reported nothing", raw, jerr)
			return false // encoding/json stopped there: it gives no whole result
		}
	}
	require.Equal(t, len(jerrs) > 0, len(errs) > 0, "json.Unmarshal errors %v, field errors %v, body %q", jerrs, errs, raw)
	require.IsType(t, want, got, "body %q", raw)
	require.Equal(t, want.EventType(), got.EventType(), "body %q", raw)
	// With an ill-typed pointer field unset, as pruning leaves it, where
	// encoding/json would allocate it.
	if n, ok := got.(*IntercomNotification); ok {
		m := want.(*IntercomNotification)
		require.Equal(t, m.ItemType(), n.ItemType(), "body %q", raw)
		if m.item != nil || n.item != nil {
			require.Equal(t, zeroPointers(m.item), zeroPointers(n.item), "item of %q", raw)
		}
		// The public struct decodes the same under encoding/json alone.
		var pub IntercomNotification
		if !stopped(json.Unmarshal(raw, &pub)) {
			c := *n
			c.item, c.itemType, c.parsed, c.raw, c.fieldErrs = nil, "", false, nil, nil
			require.Equal(t, zeroPointers(&pub), zeroPointers(&c), "body %q", raw)
		}
		m.item, n.item = nil, nil
	}
	clearFieldErrors(got)
	clearFieldErrors(want)
	require.Equal(t, zeroPointers(want), zeroPointers(got), "body %q", raw)
	return true
}

func fieldErrors(ev Event) []error {
	if fe, ok := ev.(interface{ FieldErrors() []error }); ok {
		return fe.FieldErrors()
	}
	return nil
}

func clearFieldErrors(ev Event) {
	switch ev := ev.(type) {
	case *JamCreated:
		ev.fieldErrs = nil
	case *RecorderRecorded:
		ev.fieldErrs = nil
	case *RecorderOptedOut:
		ev.fieldErrs = nil
	case *RecordingLinkCreated:
		ev.fieldErrs = nil
	case *IntercomNotification:
		ev.fieldErrs = nil
	}
}

// stopped reports whether json.Unmarshal stopped decoding at err: it goes
// on past a value of the wrong kind for a plain field, but not past one
// that a type with its own UnmarshalJSON refused.
func stopped(err error) bool {
	var ute *json.UnmarshalTypeError
	return errors.As(err, &ute) && ute.Type != nil && reflect.PointerTo(ute.Type).Implements(reflect.TypeFor[json.Unmarshaler]())
}

// zeroPointers returns a deep copy of the value v points to, with every
// pointer to a zero value set to nil: encoding/json allocates a field's
// pointee before it finds the value ill-typed, where pruning leaves it
// nil, and both mean "not set".
func zeroPointers(v any) any {
	var walk func(reflect.Value) reflect.Value
	walk = func(v reflect.Value) reflect.Value {
		out := reflect.New(v.Type()).Elem()
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				return out
			}
			e := walk(v.Elem())
			if e.IsZero() {
				return out
			}
			p := reflect.New(v.Type().Elem())
			p.Elem().Set(e)
			out.Set(p)
		case reflect.Struct:
			for i := range v.NumField() {
				// Unexported fields too: raw, fieldErrs and the typed item.
				dst, src := out.Field(i), v.Field(i)
				dst = reflect.NewAt(dst.Type(), unsafe.Pointer(dst.UnsafeAddr())).Elem()
				if src.CanAddr() {
					src = reflect.NewAt(src.Type(), unsafe.Pointer(src.UnsafeAddr())).Elem()
				}
				dst.Set(walk(src))
			}
		case reflect.Slice:
			if v.IsNil() {
				return out
			}
			s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			for i := range v.Len() {
				s.Index(i).Set(walk(v.Index(i)))
			}
			out.Set(s)
		default:
			out.Set(v)
		}
		return out
	}
	return walk(reflect.ValueOf(v).Elem()).Interface()
}

// FuzzSeriesForm checks, on any bytes, that a form body decodes as
// url.ParseQuery decodes it with each ';' sent as %3B, the first value of
// a key kept: a ';' is a character, never a separator, and a malformed
// escape is still an error, a *DecodeError wrapping ErrInvalidForm at the
// offset of a '%'.
func FuzzSeriesForm(f *testing.F) {
	for _, s := range []string{`name=Dana+Okafor&company=Northwind`, `name=Smith; Jones&x=1`, `a=1;b=2`, `a=%zz`, `a=%4`,
		`%3B=%3b`, `=&=&&`, `k`, `a=1&a=2`, `a=%e2%82%ac;`, `;;;`, `%;1`, `%3;`} {
		f.Add([]byte(s))
	}
	for name, b := range readFixtures(f) {
		if strings.HasSuffix(name, ".form") {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := ParseSeries(body, contentTypeForm)
		q, qerr := url.ParseQuery(strings.ReplaceAll(string(body), ";", "%3B"))
		if qerr != nil {
			require.ErrorIs(t, err, ErrInvalidForm, "url.ParseQuery: %v", qerr)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			require.Less(t, de.Offset, int64(len(body)))
			require.Equal(t, byte('%'), body[de.Offset])
			require.Nil(t, s)
			return
		}
		require.NoError(t, err)
		want := make(map[string]string, len(q))
		for k, v := range q {
			want[k] = v[0]
		}
		require.Equal(t, want, s.Fields)
		require.Equal(t, body, s.RawJSON())
	})
}
