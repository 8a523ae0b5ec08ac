package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// An Event is a decoded webhook body. The concrete types are *JamCreated,
// *RecorderRecorded, *RecorderOptedOut, *RecordingLinkCreated,
// *IntercomNotification, *SeriesWebhook and *UnknownEvent; switch on the
// type, or on EventType when one type serves several event names.
type Event interface {
	// EventType names the event: the Jam event type ("jam.created"), the
	// Intercom topic ("conversation.user.replied", "ping"),
	// TypeSeriesWebhook, or, for an *UnknownEvent, the type the body named
	// ("" if it named none).
	EventType() string
	// RawJSON returns the exact bytes the event was decoded from, for
	// logging, archiving or decoding fields this package does not know.
	RawJSON() []byte
}

// Event types that Parse recognises. Jam sends the first three; the
// fourth comes from Jam's newer Recording Link sources.
const (
	TypeJamCreated           = "jam.created"
	TypeRecorderRecorded     = "intercom.recorder.recorded"
	TypeRecorderOptedOut     = "intercom.recorder.opted_out"
	TypeRecordingLinkCreated = "recording_link.created"
	// TypeSeriesWebhook is the EventType of every *SeriesWebhook: a Series
	// body is designed by a workspace admin and names no type of its own.
	TypeSeriesWebhook = "series.webhook"
)

// typeNotification is the type of every Intercom app webhook envelope.
const typeNotification = "notification_event"

// Decoding errors. Both mean the body can never be decoded, so a handler
// should answer 400 rather than ask the sender to retry.
var (
	// ErrInvalidJSON means the body is not a JSON object: a syntax error,
	// an empty body, or another JSON value such as an array.
	ErrInvalidJSON = errors.New("webhook: body is not a JSON object")
	// ErrWrongShape means ParseAs was asked for an event type whose
	// required fields the body does not carry.
	ErrWrongShape = errors.New("webhook: body does not have the shape of the event type")
)

// An UnknownEvent is a body whose type Parse does not recognise. It is not
// an error: senders add event types over time, and acknowledging them keeps
// the sender from retrying and eventually disabling the endpoint.
type UnknownEvent struct {
	// Type is the event type the body named, in an envelope's type or the
	// Fin connector's event field, or the type ParseAs was pinned to; ""
	// if there was none.
	Type string
	// Raw holds the exact bytes of the body.
	Raw []byte
}

// EventType returns e.Type.
func (e *UnknownEvent) EventType() string { return e.Type }

// RawJSON returns e.Raw.
func (e *UnknownEvent) RawJSON() []byte { return e.Raw }

// Parse decodes a webhook body from Jam or an Intercom app into its typed
// event. Jam's bodies are not uniform, so Parse looks at the shape, in order:
//
//  1. an envelope: a type containing a dot plus an object data: the event
//     type is type and the fields come from data;
//  2. "type": "notification_event" with a topic: an *IntercomNotification;
//  3. {"event": type, "payload": {...}}, from Jam's Intercom Fin connector;
//  4. flat bodies by their fields: jamId and teamId make a *JamCreated,
//     recordingLinkId a *RecordingLinkCreated, conversationId with jamId,
//     jamUrl or recording_url a *RecorderRecorded, conversationId alone a
//     *RecorderOptedOut;
//  5. anything else is an *UnknownEvent.
//
// The body is decoded once. A field whose JSON type is unexpected (a string
// where a number belongs) never fails the event: the field is left zero,
// the rest still decodes, and the event's FieldErrors method reports it.
// Parse returns an error wrapping ErrInvalidJSON only when body is not a
// JSON object. The event keeps a copy of body; body may be reused.
//
// Intercom Series bodies name no type; decode them with ParseSeries.
func Parse(body []byte) (Event, error) {
	return parse(bytes.Clone(body))
}

// parse is Parse for a body the event may keep: the handler's own buffer.
func parse(raw []byte) (Event, error) {
	if j, ok := readFlatJam(raw); ok {
		j.raw = raw
		return j, nil
	}
	return parseGeneral(raw)
}

// parseGeneral is parse through encoding/json, for every shape; the fast
// path must agree with it.
func parseGeneral(raw []byte) (Event, error) {
	b, errs, err := decodeBody(raw)
	if err != nil {
		return nil, err
	}
	return b.event(raw, errs), nil
}

// event classifies the decoded union by its shape and builds the event.
func (b *body) event(raw []byte, errs []error) Event {
	switch {
	case b.Data != nil && strings.Contains(b.Type, "."):
		return b.jamEvent(b.Type, b.Data.Type, &b.Data.jamFields, raw, errs)
	case b.Type == typeNotification && b.Topic != "":
		return b.notification(raw, errs)
	case b.Event != "" && b.Payload != nil:
		return b.jamEvent(b.Event, b.Payload.Type, &b.Payload.jamFields, raw, errs)
	}
	if t := b.flatType(); t != "" {
		return b.jamEvent(t, b.Type, &b.jamFields, raw, errs)
	}
	return &UnknownEvent{Type: b.namedType(), Raw: raw}
}

// ParseFrom is Parse for a body verified as coming from src, decoded into
// that source's own event family only, as the Handler decodes: a Standard
// Webhooks body yields Jam's events (*JamCreated, *RecorderRecorded,
// *RecorderOptedOut, *RecordingLinkCreated) or an *UnknownEvent, an
// Intercom body an *IntercomNotification or an *UnknownEvent, and a Series
// body a *SeriesWebhook (as ParseSeries with the content type sniffed).
// A body shaped like another family's event is an *UnknownEvent naming the
// type the body names, so a key of one sender never mints another sender's
// events, and a delivery's dedupe id comes from its own scheme: the
// webhook-id header for Standard Webhooks, never an id in the body.
//
// After verifying by hand, prefer ParseFrom to Parse, which trusts the
// body's shape alone.
func ParseFrom(src Source, body []byte) (Event, error) {
	return parseFrom(src, bytes.Clone(body))
}

// parseFrom is ParseFrom for a body the event may keep.
func parseFrom(src Source, raw []byte) (Event, error) {
	switch src {
	case SourceSeries:
		return parseAs(TypeSeriesWebhook, raw)
	case SourceStandard:
		if j, ok := readFlatJam(raw); ok {
			j.raw = raw
			return j, nil
		}
	case SourceIntercom:
	default:
		return nil, fmt.Errorf("webhook: ParseFrom: unknown source %q", src)
	}
	b, errs, err := decodeBody(raw)
	if err != nil {
		return nil, err
	}
	ev := b.event(raw, errs)
	if !inFamily(src, ev) {
		return &UnknownEvent{Type: b.namedType(), Raw: raw}, nil
	}
	return ev, nil
}

// parseAsFrom is parseAs within src's family: a pinned type of another
// family is a wrong shape for a body of src, except that a Standard
// Webhooks endpoint pinned to a type Jam does not send gets the
// *UnknownEvent ParseAs gives for any type it does not know.
func parseAsFrom(src Source, eventType string, raw []byte) (Event, error) {
	switch {
	case src == SourceSeries:
		return parseAs(TypeSeriesWebhook, raw)
	case eventType == TypeSeriesWebhook, src == SourceIntercom && isJamType(eventType):
		if _, _, err := decodeBody(raw); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: want %s, body is signed by %s", ErrWrongShape, eventType, src)
	}
	ev, err := parseAs(eventType, raw)
	if err != nil {
		return nil, err
	}
	if !inFamily(src, ev) {
		return &UnknownEvent{Type: eventType, Raw: raw}, nil
	}
	return ev, nil
}

// inFamily reports whether src sends events like ev; an *UnknownEvent
// belongs to every family.
func inFamily(src Source, ev Event) bool {
	switch ev.(type) {
	case *UnknownEvent:
		return true
	case *IntercomNotification:
		return src == SourceIntercom
	case *SeriesWebhook:
		return src == SourceSeries
	}
	return src == SourceStandard && isJamType(ev.EventType())
}

// isJamType reports whether t is one of the event types Jam sends.
func isJamType(t string) bool {
	switch t {
	case TypeJamCreated, TypeRecorderRecorded, TypeRecorderOptedOut, TypeRecordingLinkCreated:
		return true
	}
	return false
}

// ParseAs decodes body as eventType, for endpoints that receive one event
// type only. For Jam's types the flat, envelope and Fin connector shapes are
// all accepted. A body that names another type, or a flat body without
// the type's identifying fields (jamId and teamId, conversationId,
// recordingLinkId), is an error wrapping ErrWrongShape.
//
// An Intercom topic yields the *IntercomNotification when the body carries
// that topic; TypeSeriesWebhook decodes like ParseSeries with the content
// type sniffed; any other eventType yields an *UnknownEvent whose Type is
// eventType.
func ParseAs(eventType string, body []byte) (Event, error) {
	return parseAs(eventType, bytes.Clone(body))
}

// parseAs is ParseAs for a body the event may keep.
func parseAs(eventType string, raw []byte) (Event, error) {
	switch eventType {
	case TypeSeriesWebhook:
		s, err := parseSeries(raw, "")
		if err != nil {
			return nil, err // not a typed nil in a non-nil Event
		}
		return s, nil
	case TypeJamCreated:
		// A flat body with jamId and teamId decodes the same pinned or not.
		if j, ok := readFlatJam(raw); ok {
			j.raw = raw
			return j, nil
		}
	}
	b, errs, err := decodeBody(raw)
	if err != nil {
		return nil, err
	}
	switch eventType {
	case TypeJamCreated, TypeRecorderRecorded, TypeRecorderOptedOut, TypeRecordingLinkCreated:
	default:
		if b.Type == typeNotification && b.Topic == eventType {
			return b.notification(raw, errs), nil
		}
		return &UnknownEvent{Type: eventType, Raw: raw}, nil
	}
	named, capture, fields := "", b.Type, &b.jamFields
	switch {
	case b.Data != nil && strings.Contains(b.Type, "."):
		named, capture, fields = b.Type, b.Data.Type, &b.Data.jamFields
	case b.Event != "" && b.Payload != nil:
		named, capture, fields = b.Event, b.Payload.Type, &b.Payload.jamFields
	case b.Type == typeNotification:
		named = typeNotification
	}
	if named != "" && named != eventType {
		return nil, fmt.Errorf("%w: want %s, body is %s", ErrWrongShape, eventType, named)
	}
	// A body that names the pinned type is trusted, as Parse trusts it; a
	// flat one must carry the type's identifying fields.
	var missing string
	switch {
	case named != "":
	case eventType == TypeJamCreated:
		switch {
		case fields.JamID == "":
			missing = "jamId"
		case fields.TeamID == "":
			missing = "teamId"
		}
	case eventType == TypeRecordingLinkCreated:
		if fields.RecordingLinkID == "" {
			missing = "recordingLinkId"
		}
	default:
		if fields.ConversationID == "" {
			missing = "conversationId"
		}
	}
	if missing != "" {
		return nil, fmt.Errorf("%w: %s without %s", ErrWrongShape, eventType, missing)
	}
	return b.jamEvent(eventType, capture, fields, raw, errs), nil
}

// body is the union of the top-level keys of every shape Parse knows, so
// that one json.Unmarshal serves detection and decoding alike. Flat Jam
// fields are embedded; keys at depth 0 (type, created_at) take precedence.
type body struct {
	ID        ID     `json:"id"`
	Type      string `json:"type"`
	CreatedAt Time   `json:"created_at"`

	Topic            string          `json:"topic"`
	AppID            string          `json:"app_id"`
	FirstSentAt      Time            `json:"first_sent_at"`
	DeliveryAttempts int             `json:"delivery_attempts"`
	DeliveryStatus   string          `json:"delivery_status"`
	DeliveredAt      Time            `json:"delivered_at"`
	Self             string          `json:"self"`
	Links            json.RawMessage `json:"links"`
	Data             *bodyData       `json:"data"`

	Event   string    `json:"event"`
	Payload *bodyData `json:"payload"`

	jamFields
}

// bodyData is the union of an envelope's data (Jam fields or an Intercom
// item) and the Fin connector's payload.
type bodyData struct {
	Type string        `json:"type"`
	Item *IntercomItem `json:"item"`
	jamFields
}

// jamFields is the union of the fields of Jam's bodies.
type jamFields struct {
	JamID           string        `json:"jamId"`
	JamURL          string        `json:"jamUrl"`
	TeamID          string        `json:"teamId"`
	CreatedAtCamel  Time          `json:"createdAt"`
	CreatedAtSnake  Time          `json:"created_at"`
	Title           string        `json:"title"`
	Description     string        `json:"description"`
	OriginalURL     string        `json:"originalUrl"`
	Origin          JamOrigin     `json:"origin"`
	IsIncognito     bool          `json:"isIncognito"`
	Author          JamAuthor     `json:"author"`
	Media           JamMedia      `json:"media"`
	SystemInfo      JamSystemInfo `json:"systemInfo"`
	ConversationID  ID            `json:"conversationId"`
	RecordingURL    string        `json:"recording_url"`
	RecordingLinkID string        `json:"recordingLinkId"`
	PublicID        string        `json:"publicId"`
	URL             string        `json:"url"`
	Reference       string        `json:"reference"`
	LinkRecording   string        `json:"recordingUrl"`
	CreatedBy       JamAuthor     `json:"createdBy"`
}

// flatType classifies a body without an envelope by its fields.
func (b *body) flatType() string {
	f := &b.jamFields
	switch {
	case f.JamID != "" && f.TeamID != "":
		return TypeJamCreated
	case f.RecordingLinkID != "":
		return TypeRecordingLinkCreated
	case f.ConversationID != "" && (f.JamID != "" || f.JamURL != "" || f.RecordingURL != ""):
		return TypeRecorderRecorded
	case f.ConversationID != "":
		return TypeRecorderOptedOut
	}
	return ""
}

// namedType is the event type an unrecognised body names, if any.
func (b *body) namedType() string {
	switch {
	case b.Event != "":
		return b.Event
	case b.Topic != "":
		return b.Topic
	case strings.Contains(b.Type, "."):
		return b.Type
	}
	return ""
}

// createdAt picks the first timestamp set, in either spelling, falling
// back to the envelope's.
func (f *jamFields) createdAt(envelope Time) Time {
	switch {
	case !f.CreatedAtCamel.IsZero():
		return f.CreatedAtCamel
	case !f.CreatedAtSnake.IsZero():
		return f.CreatedAtSnake
	}
	return envelope
}

// jamEvent builds the event named typ from the fields f; capture is the
// type field beside them (the capture kind for jam.created, the link kind
// for recording_link.created).
func (b *body) jamEvent(typ, capture string, f *jamFields, raw []byte, errs []error) Event {
	id := string(b.ID) // set only by the envelope shape
	env := b.CreatedAt
	if env.IsZero() {
		env = b.CreatedAtCamel // an envelope written in camel case
	}
	created := f.createdAt(env)
	switch typ {
	case TypeJamCreated:
		return &JamCreated{
			ID:          id,
			JamID:       f.JamID,
			JamURL:      f.JamURL,
			TeamID:      f.TeamID,
			Type:        JamCaptureType(capture),
			CreatedAt:   created,
			Title:       f.Title,
			Description: f.Description,
			OriginalURL: f.OriginalURL,
			Origin:      f.Origin,
			IsIncognito: f.IsIncognito,
			Author:      f.Author,
			Media:       f.Media,
			SystemInfo:  f.SystemInfo,
			raw:         raw,
			fieldErrs:   errs,
		}
	case TypeRecorderRecorded:
		u := f.JamURL
		if u == "" {
			u = f.RecordingURL
		}
		return &RecorderRecorded{ID: id, CreatedAt: created, ConversationID: f.ConversationID,
			JamID: f.JamID, JamURL: u, raw: raw, fieldErrs: errs}
	case TypeRecorderOptedOut:
		return &RecorderOptedOut{ID: id, CreatedAt: created, ConversationID: f.ConversationID,
			raw: raw, fieldErrs: errs}
	case TypeRecordingLinkCreated:
		return &RecordingLinkCreated{
			ID:              id,
			RecordingLinkID: f.RecordingLinkID,
			PublicID:        f.PublicID,
			URL:             f.URL,
			TeamID:          f.TeamID,
			Type:            RecordingLinkType(capture),
			CreatedAt:       created,
			Origin:          f.Origin,
			Description:     f.Description,
			Reference:       f.Reference,
			RecordingURL:    f.LinkRecording,
			CreatedBy:       f.CreatedBy,
			raw:             raw,
			fieldErrs:       errs,
		}
	}
	return &UnknownEvent{Type: typ, Raw: raw}
}

// notification builds the Intercom notification and its typed item.
func (b *body) notification(raw []byte, errs []error) *IntercomNotification {
	n := &IntercomNotification{
		Type:             b.Type,
		ID:               b.ID,
		Topic:            b.Topic,
		AppID:            b.AppID,
		CreatedAt:        b.CreatedAt,
		FirstSentAt:      b.FirstSentAt,
		DeliveryAttempts: b.DeliveryAttempts,
		DeliveryStatus:   b.DeliveryStatus,
		DeliveredAt:      b.DeliveredAt,
		Self:             b.Self,
		Links:            b.Links,
		raw:              raw,
		fieldErrs:        errs,
	}
	if b.Data != nil {
		n.Data = IntercomData{Type: b.Data.Type, Item: b.Data.Item}
		n.item = b.Data.Item.typed()
	}
	return n
}

// decodeBody decodes body into the union in one pass. Only when that pass
// reports a field of unexpected type does it decode again: it drops the
// offending values, recording each, and decodes what remains, so one bad
// field cannot cost the whole event.
func decodeBody(data []byte) (*body, []error, error) {
	i := 0
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	if i == len(data) || data[i] != '{' {
		return nil, nil, ErrInvalidJSON
	}
	b := new(body)
	err := json.Unmarshal(data, b)
	if err == nil {
		return b, nil, nil
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidJSON, err)
	}
	return recoverBody(data)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// recoverBody is the slow path of decodeBody for valid JSON whose values do
// not all fit the union's types: it prunes the ill-typed values in place
// and decodes the rest, so the result is what encoding/json decodes with
// those values absent (see pruneJSON).
func recoverBody(data []byte) (*body, []error, error) {
	clean, errs := pruneJSON(reflect.TypeFor[body](), data)
	b := new(body)
	if err := json.Unmarshal(clean, b); err != nil {
		errs = append(errs, err) // keep whatever decoded
	}
	return b, errs, nil
}

// A Time is a timestamp that decodes from every form the senders use: a
// JSON number or numeric string of Unix seconds (with an optional
// fraction), or an RFC 3339 / ISO 8601 string with or without fractional
// seconds and zone (no zone means UTC). null, "" and 0 decode to the zero
// Time, because real payloads use all three for "not set" (Intercom sends
// delivered_at 0), so IsZero tells an unset time.
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
			return v, true
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
	r := jsonReader{b: b}
	v, ok := r.str()
	return v, ok && r.i == len(b)
}

// isJSONNumber reports whether b is exactly one JSON number literal.
func isJSONNumber(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	r := jsonReader{b: b}
	_, ok := r.number()
	return ok && r.i == len(b) && b[0] != ' ' && b[0] != '\t' && b[0] != '\n' && b[0] != '\r'
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
	return "number " + string(b)
}
