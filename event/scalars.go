package event

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/inhook/webhook/internal/jsonread"
)

// Decoding errors. Each means the body can never be decoded, so a handler
// should answer 400 rather than ask the sender to retry.
var (
	// ErrInvalidJSON means the body is not a JSON object: a syntax error,
	// an empty body, or another JSON value such as an array.
	ErrInvalidJSON = errors.New("webhook: body is not a JSON object")
	// ErrWrongShape means ParseAs was asked for an event type whose
	// required fields the body does not carry.
	ErrWrongShape = errors.New("webhook: body does not have the shape of the event type")
	// ErrInvalidForm means a form-encoded Series body does not decode: a
	// '%' not followed by two hexadecimal digits.
	ErrInvalidForm = errors.New("webhook: invalid form body")
)

// A DecodeError says what is wrong in a body that does not decode, and
// where, without repeating any of its bytes: errors reach logs, and the
// body is the sender's data. It wraps ErrInvalidJSON or ErrInvalidForm.
type DecodeError struct {
	Err    error  // ErrInvalidJSON or ErrInvalidForm
	Fault  string // what is wrong, in words that quote nothing of the body
	Offset int64  // where: for JSON the bytes read when the fault showed, as json.SyntaxError's; for a form the offset of the bad '%'
}

// Error gives the sentinel's message, the fault and the offset.
func (e *DecodeError) Error() string {
	return e.Err.Error() + ": " + e.Fault + " at byte " + strconv.FormatInt(e.Offset, 10)
}

// Unwrap returns the sentinel, so errors.Is(err, ErrInvalidJSON) works.
func (e *DecodeError) Unwrap() error { return e.Err }

// jsonSyntaxError is syn as a *DecodeError. encoding/json's message quotes
// the offending byte ("invalid character 'x' looking for beginning of
// value"); the fault keeps the words around it, and is only "syntax
// error" for a message of another form, so no byte of the body can pass.
func jsonSyntaxError(syn *json.SyntaxError) error {
	msg, fault := syn.Error(), "syntax error"
	if rest, ok := strings.CutPrefix(msg, "invalid character "); ok {
		fault = "invalid character"
		// The character, quoted as 'x', '\'' or '\xff': none holds a
		// quote but the escaped one.
		rest, ok = strings.CutPrefix(rest, `'\''`)
		if !ok && strings.HasPrefix(rest, "'") {
			if i := strings.IndexByte(rest[1:], '\''); i >= 0 {
				rest, ok = rest[i+2:], true
			}
		}
		if ok && !strings.ContainsAny(rest, "\"\\") {
			fault += rest // " looking for beginning of value", " in literal true (expecting 'r')"
		}
	} else if msg == "unexpected end of JSON input" {
		fault = "unexpected end of input"
	}
	return &DecodeError{Err: ErrInvalidJSON, Fault: fault, Offset: syn.Offset}
}

// maxNameLen is how much of a sender-chosen name SafeName keeps.
const maxNameLen = 64

// SafeName returns name, an event type or topic a body names (chosen by
// the sender, signed or not), fit for an error, a log line or a metric:
// as it is when it is at most 64 bytes of ASCII letters, digits, '.', '_'
// and '-', as every real type and topic is; otherwise quoted as
// strconv.Quote quotes, and cut to its first 64 bytes, marked
// "…(cut, N bytes)". So a name can neither forge a log line nor make one
// long.
func SafeName(name string) string {
	if len(name) <= maxNameLen && isPlainName(name) {
		return name
	}
	if len(name) <= maxNameLen {
		return strconv.Quote(name)
	}
	cut := maxNameLen
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return strconv.Quote(name[:cut]) + "…(cut, " + strconv.Itoa(len(name)) + " bytes)"
}

func isPlainName(s string) bool {
	for i := range len(s) {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// A Time is a timestamp that decodes from every form the senders use: a
// JSON number or numeric string of Unix seconds (with an optional
// fraction), or an RFC 3339 / ISO 8601 string with or without fractional
// seconds and zone (no zone means UTC). Every form decodes to a time in
// UTC, so one instant is one Time whatever the form or the receiving
// machine's zone. null, "" and 0 decode to the zero Time, because real
// payloads use all three for "not set" (Intercom sends delivered_at 0),
// so IsZero tells an unset time.
type Time struct {
	time.Time
}

// Unix seconds of the first and last instants an RFC 3339 string can hold.
const (
	minUnixSeconds = -62135596800 // 0001-01-01T00:00:00Z
	maxUnixSeconds = 253402300799 // 9999-12-31T23:59:59Z
)

// UnmarshalJSON accepts the forms described on Time. Any other value
// yields a *json.UnmarshalTypeError, so encoding/json reports the field.
func (t *Time) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		t.Time = time.Time{}
		return nil
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		if v, ok := parseUnixSeconds(string(b)); ok {
			t.Time = v
			return nil
		}
	case len(b) > 0 && b[0] == '"':
		s, ok := unquote(b)
		if !ok {
			break
		}
		if s == "" {
			t.Time = time.Time{}
			return nil
		}
		if v, ok := parseTimeString(s); ok {
			t.Time = v
			return nil
		}
	}
	return &json.UnmarshalTypeError{Value: valueKind(b), Type: reflect.TypeFor[Time]()}
}

// MarshalJSON encodes t as an RFC 3339 string with nanoseconds, or null if
// t is zero, so a Time survives a round trip through JSON.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, errors.New("webhook: Time.MarshalJSON: year outside of range [0,9999]")
	}
	b := make([]byte, 0, len(time.RFC3339Nano)+2)
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

func parseTimeString(s string) (time.Time, bool) {
	if s[0] == '-' || s[0] >= '0' && s[0] <= '9' {
		if v, ok := parseUnixSeconds(s); ok {
			return v, true
		}
	}
	if len(s) < len("2006-01-02T15:04:05") {
		return time.Time{}, false
	}
	// Every layout accepts fractional seconds after the seconds.
	for _, layout := range [...]string{
		time.RFC3339,
		"2006-01-02T15:04:05Z0700",
		"2006-01-02T15:04:05",
		"2006-01-02 15:04:05Z07:00",
		"2006-01-02 15:04:05",
	} {
		if v, err := time.Parse(layout, s); err == nil {
			// In UTC, as Unix seconds are: time.Parse puts a time whose
			// offset matches the machine's zone in time.Local, so the
			// same instant would decode differently by form and by host.
			return v.UTC(), true
		}
	}
	return time.Time{}, false
}

// parseUnixSeconds parses decimal Unix seconds with an optional fraction
// of up to nine digits. Exponents are refused: no sender writes them.
func parseUnixSeconds(s string) (time.Time, bool) {
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || whole == "-" || len(whole) > 13 {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || sec < minUnixSeconds || sec > maxUnixSeconds || whole[0] == '+' {
		return time.Time{}, false
	}
	var nsec int64
	if hasFrac {
		if frac == "" || len(frac) > 9 {
			return time.Time{}, false
		}
		for _, c := range []byte(frac) {
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			nsec = nsec*10 + int64(c-'0')
		}
		for range 9 - len(frac) {
			nsec *= 10
		}
		if whole[0] == '-' {
			nsec = -nsec
		}
	}
	if sec == 0 && nsec == 0 {
		return time.Time{}, true // "not set", as Intercom's delivered_at uses it
	}
	return time.Unix(sec, nsec).UTC(), true
}

// An ID is an identifier that arrives as a JSON string in some payloads and
// as a number in others (Intercom admin ids, for one). A number is kept as
// its decimal text, so "42" and 42 decode to the same ID; null decodes to "".
type ID string

// String returns the identifier's text.
func (id ID) String() string { return string(id) }

// UnmarshalJSON accepts a JSON string, number or null. Any other value
// yields a *json.UnmarshalTypeError, so encoding/json reports the field.
func (id *ID) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*id = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		if s, ok := unquote(b); ok {
			*id = ID(s)
			return nil
		}
	case isJSONNumber(b):
		*id = ID(b)
		return nil
	}
	return &json.UnmarshalTypeError{Value: valueKind(b), Type: reflect.TypeFor[ID]()}
}

// unquote decodes a JSON string literal, without allocating beyond the
// result when it holds no escapes.
func unquote(b []byte) (string, bool) {
	if len(b) == 0 || b[0] != '"' {
		return "", false
	}
	r := jsonReader{jsonread.Reader{B: b}}
	v, ok := r.Str()
	return v, ok && r.I == len(b)
}

// isJSONNumber reports whether b is exactly one JSON number literal.
func isJSONNumber(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	r := jsonReader{jsonread.Reader{B: b}}
	_, ok := r.Number()
	return ok && r.I == len(b) && b[0] != ' ' && b[0] != '\t' && b[0] != '\n' && b[0] != '\r'
}

// valueKind names a JSON value for a *json.UnmarshalTypeError.
func valueKind(b []byte) string {
	if len(b) == 0 {
		return "empty input"
	}
	switch b[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	// Unlike encoding/json's, without the digits: they are the body's.
	return "number"
}

// jsonReader is package jsonread's reader, with the readers of the event
// shapes (jamread.go, events.go) as its methods.
type jsonReader struct{ jsonread.Reader }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
