package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
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

// typeNotification is the type of every Intercom app webhook envelope.
const typeNotification = "notification_event"

// eventKind is one row of the event table: everything the package knows
// about one event type. Detection, ParseAs, ParseFrom's families and the
// completeness test read the table; a new event is a row, its struct (with
// an On… method on Handler) and a fixture.
type eventKind struct {
	name   string       // the EventType; "" for notifications, whose type is their topic
	source Source       // the family whose key may mint it
	typ    reflect.Type // the struct it decodes into, a pointer type
	// flat is the shape test for a body without an envelope, tried in
	// table order; nil for events that only come in an envelope of their
	// own. missing names the identifying field a flat body pinned to the
	// type lacks, or "".
	flat    func(f *jamFields) bool
	missing func(f *jamFields) string
	// jam builds a Jam event from its fields; id and created come from
	// the envelope, capture is the type field beside the fields; the
	// event keeps raw and reports errs.
	jam func(id string, created Time, capture string, f *jamFields, raw []byte, errs []error) Event
}

// events is the event table.
var events = []eventKind{{
	name: TypeJamCreated, source: SourceStandard, typ: reflect.TypeFor[*JamCreated](),
	flat: func(f *jamFields) bool { return f.JamID != "" && f.TeamID != "" },
	missing: func(f *jamFields) string {
		switch {
		case f.JamID == "":
			return "jamId"
		case f.TeamID == "":
			return "teamId"
		}
		return ""
	},
	jam: func(id string, created Time, capture string, f *jamFields, raw []byte, errs []error) Event {
		return &JamCreated{
			ID: id, JamID: f.JamID, JamURL: f.JamURL, TeamID: f.TeamID, Type: JamCaptureType(capture),
			CreatedAt: created, Title: f.Title, Description: f.Description, OriginalURL: f.OriginalURL,
			Origin: f.Origin, IsIncognito: f.IsIncognito, Author: f.Author, Media: f.Media, SystemInfo: f.SystemInfo,
			raw: raw, fieldErrs: errs,
		}
	},
}, {
	name: TypeRecordingLinkCreated, source: SourceStandard, typ: reflect.TypeFor[*RecordingLinkCreated](),
	flat:    func(f *jamFields) bool { return f.RecordingLinkID != "" },
	missing: func(f *jamFields) string { return missingIf(f.RecordingLinkID == "", "recordingLinkId") },
	jam: func(id string, created Time, capture string, f *jamFields, raw []byte, errs []error) Event {
		return &RecordingLinkCreated{
			ID: id, RecordingLinkID: f.RecordingLinkID, PublicID: f.PublicID, URL: f.URL, TeamID: f.TeamID,
			Type: RecordingLinkType(capture), CreatedAt: created, Origin: f.Origin, Description: f.Description,
			Reference: f.Reference, RecordingURL: f.LinkRecording, CreatedBy: f.CreatedBy,
			raw: raw, fieldErrs: errs,
		}
	},
}, {
	name: TypeRecorderRecorded, source: SourceStandard, typ: reflect.TypeFor[*RecorderRecorded](),
	flat: func(f *jamFields) bool {
		return f.ConversationID != "" && (f.JamID != "" || f.JamURL != "" || f.RecordingURL != "")
	},
	missing: func(f *jamFields) string { return missingIf(f.ConversationID == "", "conversationId") },
	jam: func(id string, created Time, _ string, f *jamFields, raw []byte, errs []error) Event {
		u := f.JamURL
		if u == "" {
			u = f.RecordingURL
		}
		return &RecorderRecorded{ID: id, CreatedAt: created, ConversationID: f.ConversationID, JamID: f.JamID, JamURL: u,
			raw: raw, fieldErrs: errs}
	},
}, {
	name: TypeRecorderOptedOut, source: SourceStandard, typ: reflect.TypeFor[*RecorderOptedOut](),
	flat:    func(f *jamFields) bool { return f.ConversationID != "" },
	missing: func(f *jamFields) string { return missingIf(f.ConversationID == "", "conversationId") },
	jam: func(id string, created Time, _ string, f *jamFields, raw []byte, errs []error) Event {
		return &RecorderOptedOut{ID: id, CreatedAt: created, ConversationID: f.ConversationID,
			raw: raw, fieldErrs: errs}
	},
}, {
	source: SourceIntercom, typ: reflect.TypeFor[*IntercomNotification](),
}, {
	name: TypeSeriesWebhook, source: SourceSeries, typ: reflect.TypeFor[*SeriesWebhook](),
}}

func missingIf(cond bool, field string) string {
	if cond {
		return field
	}
	return ""
}

// kindOf returns the table's row for a named event type, or nil.
func kindOf(eventType string) *eventKind {
	for i := range events {
		if k := &events[i]; k.name != "" && k.name == eventType {
			return k
		}
	}
	return nil
}

// isJamType reports whether t is one of the event types Jam sends.
func isJamType(t string) bool {
	k := kindOf(t)
	return k != nil && k.jam != nil
}

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
		return b.named(b.Type, b.Data.Type, &b.Data.jamFields, raw, errs)
	case b.Type == typeNotification && b.Topic != "":
		return b.notification(raw, errs)
	case b.Event != "" && b.Payload != nil:
		return b.named(b.Event, b.Payload.Type, &b.Payload.jamFields, raw, errs)
	}
	for i := range events {
		if k := &events[i]; k.flat != nil && k.flat(&b.jamFields) {
			return b.jamEvent(k, b.Type, &b.jamFields, raw, errs)
		}
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
	if _, ok := ev.(*UnknownEvent); ok {
		return true
	}
	t := reflect.TypeOf(ev)
	for i := range events {
		if events[i].typ == t {
			return events[i].source == src
		}
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
	k := kindOf(eventType)
	if k == nil || k.jam == nil {
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
	if named == "" {
		if missing := k.missing(fields); missing != "" {
			return nil, fmt.Errorf("%w: %s without %s", ErrWrongShape, eventType, missing)
		}
	}
	return b.jamEvent(k, capture, fields, raw, errs), nil
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
	Item *intercomItem `json:"item"`
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

// named builds the Jam event a body names in its envelope or Fin
// connector field, or an *UnknownEvent for a type Jam does not send.
func (b *body) named(typ, capture string, f *jamFields, raw []byte, errs []error) Event {
	k := kindOf(typ)
	if k == nil || k.jam == nil {
		return &UnknownEvent{Type: typ, Raw: raw}
	}
	return b.jamEvent(k, capture, f, raw, errs)
}

// jamEvent builds k's event from the fields f; capture is the type field
// beside them (the capture kind for jam.created, the link kind for
// recording_link.created).
func (b *body) jamEvent(k *eventKind, capture string, f *jamFields, raw []byte, errs []error) Event {
	id := string(b.ID) // set only by the envelope shape
	env := b.CreatedAt
	if env.IsZero() {
		env = b.CreatedAtCamel // an envelope written in camel case
	}
	return k.jam(id, f.createdAt(env), capture, f, raw, errs)
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
		n.item = b.Data.Item.build()
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
