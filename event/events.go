package event

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"github.com/inhook/webhook/internal/jsonread"
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
// an On… method on package webhook's Handler) and a fixture.
type eventKind struct {
	name   string       // the EventType; "" for notifications, whose type is their topic
	source Source       // the family whose key may mint it
	typ    reflect.Type // the struct it decodes into, a pointer type
	// flat is the shape test for a body without an envelope, tried in
	// table order; nil for events that only come in an envelope of their
	// own. missing names the identifying field a flat body pinned to the
	// type lacks, or "".
	flat    func(s *shape) bool
	missing func(s *shape) string
	// decode decodes a Jam body of the given form once, straight into
	// the event's struct; nil for the other families.
	decode func(dec *decoder, form jamForm, raw []byte) (Event, error)
}

// events is the event table.
var events = []eventKind{{
	name: TypeJamCreated, source: SourceStandard, typ: reflect.TypeFor[*JamCreated](),
	flat: func(s *shape) bool { return s.JamID != "" && s.TeamID != "" },
	missing: func(s *shape) string {
		switch {
		case s.JamID == "":
			return "jamId"
		case s.TeamID == "":
			return "teamId"
		}
		return ""
	},
	decode: decodeJam[jamCreatedJSON, *JamCreated],
}, {
	name: TypeRecordingLinkCreated, source: SourceStandard, typ: reflect.TypeFor[*RecordingLinkCreated](),
	flat:    func(s *shape) bool { return s.RecordingLinkID != "" },
	missing: func(s *shape) string { return missingIf(s.RecordingLinkID == "", "recordingLinkId") },
	decode:  decodeJam[recordingLinkCreatedJSON, *RecordingLinkCreated],
}, {
	name: TypeRecorderRecorded, source: SourceStandard, typ: reflect.TypeFor[*RecorderRecorded](),
	flat: func(s *shape) bool {
		return s.ConversationID != "" && (s.JamID != "" || s.JamURL != "" || s.RecordingURL != "")
	},
	missing: func(s *shape) string { return missingIf(s.ConversationID == "", "conversationId") },
	decode:  decodeJam[recorderRecordedJSON, *RecorderRecorded],
}, {
	name: TypeRecorderOptedOut, source: SourceStandard, typ: reflect.TypeFor[*RecorderOptedOut](),
	flat:    func(s *shape) bool { return s.ConversationID != "" },
	missing: func(s *shape) string { return missingIf(s.ConversationID == "", "conversationId") },
	decode:  decodeJam[recorderOptedOutJSON, *RecorderOptedOut],
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
	return k != nil && k.decode != nil
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
// The body is decoded once, straight into the event's struct, after a
// quick pass over its keys picks the shape. A field whose JSON type is
// unexpected (a string where a number belongs) never fails the event: the
// field is left zero, the rest still decodes, and the event's FieldErrors
// method reports it. Keys the event's struct does not have are ignored,
// as encoding/json ignores them.
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
	return parseWith(lenient, raw)
}

// parseWith is parseGeneral with the given decoder.
func parseWith(dec *decoder, raw []byte) (Event, error) {
	s, err := shapeOf(dec, raw)
	if err != nil {
		return nil, err
	}
	return s.event(dec, raw)
}

// event classifies the body by its shape and decodes it once into the
// event's struct.
func (s *shape) event(dec *decoder, raw []byte) (Event, error) {
	switch {
	case s.Data != nil && strings.Contains(s.Type, "."):
		return s.named(dec, s.Type, jamEnvelope, raw)
	case s.Type == typeNotification && s.Topic != "":
		return decodeNotification(dec, s, raw)
	case s.Event != "" && s.Payload != nil:
		return s.named(dec, s.Event, jamConnector, raw)
	}
	for i := range events {
		if k := &events[i]; k.flat != nil && k.flat(s) {
			return k.decode(dec, jamFlat, raw)
		}
	}
	return &UnknownEvent{Type: s.namedType(), Raw: raw}, nil
}

// ParseFrom is Parse for a body verified as coming from src, decoded into
// that source's own event family only, as package webhook's Handler
// decodes: a Standard Webhooks body yields Jam's events (*JamCreated, *RecorderRecorded,
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
	s, err := shapeOf(lenient, raw)
	if err != nil {
		return nil, err
	}
	ev, err := s.event(lenient, raw)
	if err != nil {
		return nil, err
	}
	if !inFamily(src, ev) {
		return &UnknownEvent{Type: s.namedType(), Raw: raw}, nil
	}
	return ev, nil
}

// Decode decodes body, verified as coming from src, as package webhook's
// Handler does: as ParseFrom does, or, when eventType is not "", as
// ParseAs does within src's family, except that an Intercom notification
// decodes as itself whatever its topic (Intercom sends every topic an app
// subscribes to to one URL); a Series body by contentType, the
// request's Content-Type, as ParseSeries does. Unlike those, the event
// keeps body itself, not a copy: Decode is for a receiver that owns body
// and never changes it afterwards. After verifying by hand, use ParseFrom.
func Decode(src Source, eventType, contentType string, body []byte) (Event, error) {
	switch {
	case src == SourceSeries:
		// Not returned directly: a nil *SeriesWebhook in an Event
		// interface would not compare equal to nil.
		s, err := parseSeries(body, contentType)
		if err != nil {
			return nil, err
		}
		return s, nil
	case eventType != "":
		return parseAsFrom(src, eventType, body)
	}
	return parseFrom(src, body)
}

// parseAsFrom is parseAs within src's family: a pinned type of another
// family is a wrong shape for a body of src, except that a Standard
// Webhooks endpoint pinned to a type Jam does not send gets the
// *UnknownEvent ParseAs gives for any type it does not know. An Intercom
// notification is itself whatever the pin: Intercom sends every topic an
// app subscribes to, and pings, to the app's one URL, and as an
// *UnknownEvent it would escape the handler's age check and dedupe.
func parseAsFrom(src Source, eventType string, raw []byte) (Event, error) {
	switch {
	case src == SourceSeries:
		return parseAs(TypeSeriesWebhook, raw)
	case eventType == TypeSeriesWebhook, src == SourceIntercom && isJamType(eventType):
		if _, err := shapeOf(lenient, raw); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: want %s, body is signed by %s", ErrWrongShape, eventType, src)
	case src == SourceIntercom:
		s, err := shapeOf(lenient, raw)
		if err != nil {
			return nil, err
		}
		if s.Type == typeNotification && s.Topic != "" {
			return decodeNotification(lenient, s, raw)
		}
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
// eventType. A ping, which Intercom sends to every endpoint, is the ping
// notification for any eventType but Jam's.
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
	s, err := shapeOf(lenient, raw)
	if err != nil {
		return nil, err
	}
	k := kindOf(eventType)
	if k == nil || k.decode == nil {
		// Intercom pings every endpoint, whatever its topics: a ping stays
		// one, for the ping callbacks.
		if s.Type == typeNotification && (s.Topic == eventType || s.Topic == TopicPing) {
			return decodeNotification(lenient, s, raw)
		}
		return &UnknownEvent{Type: eventType, Raw: raw}, nil
	}
	named, form := "", jamFlat
	switch {
	case s.Data != nil && strings.Contains(s.Type, "."):
		named, form = s.Type, jamEnvelope
	case s.Event != "" && s.Payload != nil:
		named, form = s.Event, jamConnector
	case s.Type == typeNotification:
		named = typeNotification
	}
	if named != "" && named != eventType {
		return nil, fmt.Errorf("%w: want %s, body is %s", ErrWrongShape, eventType, SafeName(named))
	}
	// A body that names the pinned type is trusted, as Parse trusts it; a
	// flat one must carry the type's identifying fields.
	if named == "" {
		if missing := k.missing(s); missing != "" {
			return nil, fmt.Errorf("%w: %s without %s", ErrWrongShape, eventType, missing)
		}
	}
	return k.decode(lenient, form, raw)
}

// shape is what detection reads of a body: the keys that tell the shapes
// apart and the identifying fields of the flat ones. The event itself is
// then decoded once, into its own struct.
type shape struct {
	Type    string     `json:"type"`
	Topic   string     `json:"topic"`
	Event   string     `json:"event"`
	Data    *shapeData `json:"data"`
	Payload *struct{}  `json:"payload"`

	JamID           string `json:"jamId"`
	TeamID          string `json:"teamId"`
	JamURL          string `json:"jamUrl"`
	ConversationID  ID     `json:"conversationId"`
	RecordingURL    string `json:"recording_url"`
	RecordingLinkID string `json:"recordingLinkId"`
}

// shapeData is what detection reads of an envelope's data.
type shapeData struct {
	Item *itemShape `json:"item"`
	// item is the raw data.item, when scanShape found it; nil otherwise.
	item []byte
}

// shapeKeys are the keys of shape and of a flat jam.created: a key
// encoding/json would match to one of them, but scanShape or readFlatJam
// does not match exactly, sends the body to encoding/json.
var shapeKeys = jsonKeys(reflect.TypeFor[shape](), reflect.TypeFor[jamCreatedJSON]())

// detectKeys are the keys of shape alone, those scanShape must match.
var detectKeys = jsonKeys(reflect.TypeFor[shape]())

// shapeOf reads the shape of raw, a body that must be a JSON object:
// with scanShape when dec allows and the body is plain, else by decoding
// into shape with dec.
func shapeOf(dec *decoder, raw []byte) (*shape, error) {
	i := 0
	for i < len(raw) && isSpace(raw[i]) {
		i++
	}
	if i == len(raw) || raw[i] != '{' {
		return nil, ErrInvalidJSON
	}
	if dec.scan {
		if s, ok := scanShape(raw); ok {
			return s, nil
		}
	}
	s := new(shape)
	if _, err := dec.unmarshal(raw, s); err != nil {
		return nil, err
	}
	return s, nil
}

// scanShape reads the shape of a body in one pass of jsonReader, which
// also validates it. It reports false for anything encoding/json might
// read otherwise: a shape key twice, in another case or escaped, or with
// a value of another type than a plain string (an object for data,
// payload, item and ticket).
func scanShape(raw []byte) (*shape, bool) {
	s := new(shape)
	r := jsonReader{jsonread.Reader{B: raw}}
	var seen uint32
	once := func(bit uint32) bool {
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}
	ok := r.Object(func(key []byte) bool {
		switch string(key) {
		case "type":
			return once(1<<0) && r.plainString(&s.Type)
		case "topic":
			return once(1<<1) && r.plainString(&s.Topic)
		case "event":
			return once(1<<2) && r.plainString(&s.Event)
		case "data":
			if !once(1 << 3) {
				return false
			}
			if r.Null() {
				return true
			}
			s.Data = new(shapeData)
			return r.scanData(s.Data)
		case "payload":
			if !once(1 << 4) {
				return false
			}
			if r.Null() {
				return true
			}
			s.Payload = new(struct{})
			return r.Peek() == '{' && r.Skip(1)
		case "jamId":
			return once(1<<5) && r.plainString(&s.JamID)
		case "teamId":
			return once(1<<6) && r.plainString(&s.TeamID)
		case "jamUrl":
			return once(1<<7) && r.plainString(&s.JamURL)
		case "conversationId":
			return once(1<<8) && r.unmarshaler(s.ConversationID.UnmarshalJSON)
		case "recording_url":
			return once(1<<9) && r.plainString(&s.RecordingURL)
		case "recordingLinkId":
			return once(1<<10) && r.plainString(&s.RecordingLinkID)
		}
		return r.unknown(key, detectKeys...)
	})
	return s, ok && r.End()
}

// scanData reads an envelope's data object for its item's shape.
func (r *jsonReader) scanData(d *shapeData) bool {
	if r.Peek() != '{' {
		return false
	}
	seen := false
	return r.Object(func(key []byte) bool {
		if string(key) != "item" {
			return r.unknown(key, "item")
		}
		if seen {
			return false
		}
		seen = true
		r.WS()
		start := r.I
		if r.Peek() != '{' {
			if !r.Skip(1) {
				return false
			}
			d.item = r.B[start:r.I:r.I]
			return true
		}
		it := new(itemShape)
		var once uint8
		ok := r.Object(func(key []byte) bool {
			switch string(key) {
			case "type":
				if once&1 != 0 {
					return false
				}
				once |= 1
				return r.plainString(&it.Type)
			case "ticket":
				if once&2 != 0 {
					return false
				}
				once |= 2
				if r.Null() {
					return true
				}
				it.Ticket = new(struct{})
				return r.Peek() == '{' && r.Skip(1)
			}
			return r.unknown(key, "type", "ticket")
		})
		d.Item, d.item = it, r.B[start:r.I:r.I]
		return ok
	})
}

// plainString reads a string into dst, or null, which leaves it as it is.
func (r *jsonReader) plainString(dst *string) bool {
	if r.Null() {
		return true
	}
	if r.Peek() != '"' {
		return false
	}
	v, ok := r.Str()
	*dst = v
	return ok
}

// namedType is the event type an unrecognised body names, if any.
func (s *shape) namedType() string {
	switch {
	case s.Event != "":
		return s.Event
	case s.Topic != "":
		return s.Topic
	case strings.Contains(s.Type, "."):
		return s.Type
	}
	return ""
}

// named decodes the Jam event a body names in its envelope or Fin
// connector field, or returns an *UnknownEvent for a type Jam does not send.
func (s *shape) named(dec *decoder, typ string, form jamForm, raw []byte) (Event, error) {
	k := kindOf(typ)
	if k == nil || k.decode == nil {
		return &UnknownEvent{Type: typ, Raw: raw}, nil
	}
	return k.decode(dec, form, raw)
}

// jamWire is a Jam event's wire form (in jam.go): event finishes the decoded struct
// with the id and the fallback timestamp of the body around it.
type jamWire[D any, E Event] interface {
	*D
	event(id ID, env Time, raw []byte, errs []error) E
	flatID() ID // a flat body's id, which the wire form holds at the top
}

// decodeJam decodes raw, a body of the given form, once, into the wire
// form D of one Jam event, whose struct is E.
func decodeJam[D any, E Event, P jamWire[D, E]](dec *decoder, form jamForm, raw []byte) (Event, error) {
	switch form {
	case jamEnvelope:
		w := new(jamEnvelopeJSON[D])
		errs, err := dec.unmarshal(raw, w)
		if err != nil {
			return nil, err
		}
		return P(orNew(w.Data)).event(w.ID, firstTime(w.CreatedAt, w.CreatedAtCamel), raw, errs), nil
	case jamConnector:
		w := new(jamConnectorJSON[D])
		errs, err := dec.unmarshal(raw, w)
		if err != nil {
			return nil, err
		}
		return P(orNew(w.Payload)).event(w.ID, firstTime(w.CreatedAt, w.CreatedAtCamel), raw, errs), nil
	}
	d := new(D)
	errs, err := dec.unmarshal(raw, d)
	if err != nil {
		return nil, err
	}
	return P(d).event(P(d).flatID(), Time{}, raw, errs), nil
}

// decodeNotification decodes an Intercom body, whose shape s is, once:
// the envelope straight into IntercomNotification, and the item, if the
// table types its kind, into its struct in the same pass.
func decodeNotification(dec *decoder, s *shape, raw []byte) (*IntercomNotification, error) {
	var it *itemShape
	if s.Data != nil {
		it = s.Data.Item
	}
	k := it.kind()
	if k == nil {
		n := new(IntercomNotification)
		errs, err := dec.unmarshal(raw, n)
		if err != nil {
			return nil, err
		}
		n.raw, n.fieldErrs, n.itemType, n.parsed = raw, errs, itemTypeOf(it), true
		return n, nil
	}
	n, err := k.notification(dec, raw)
	if err != nil {
		return nil, err
	}
	n.raw, n.itemType = raw, itemTypeOf(it)
	if s.Data.item != nil {
		n.Data.Item = s.Data.item
	} else {
		n.Data.Item = rawItem(raw)
	}
	return n, nil
}
