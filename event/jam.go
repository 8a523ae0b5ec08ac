package event

import (
	"net/url"
	"strings"
)

// Jam's event types: the EventType of its events. Jam sends the first
// three; the fourth comes from its newer Recording Link sources.
const (
	TypeJamCreated           = "jam.created"
	TypeRecorderRecorded     = "intercom.recorder.recorded"
	TypeRecorderOptedOut     = "intercom.recorder.opted_out"
	TypeRecordingLinkCreated = "recording_link.created"
)

// JamCaptureType is the kind of capture a Jam holds: the type field of a
// jam.created body. It is an open set: unknown values are kept as sent.
type JamCaptureType string

// Capture types Jam documents.
const (
	CaptureVideo         JamCaptureType = "video"
	CaptureScreenshot    JamCaptureType = "screenshot"
	CaptureSessionReplay JamCaptureType = "sessionReplay"
)

// JamOrigin is where a Jam or a Recording Link was created. It is an open
// set: unknown values are kept as sent.
type JamOrigin string

// Origins seen in Jam's bodies.
const (
	OriginRecordingLink   JamOrigin = "recording_link"
	OriginExtensionChrome JamOrigin = "extension_chrome"
	OriginMobileIOS       JamOrigin = "mobile_ios"
	OriginDashboard       JamOrigin = "dashboard"
	OriginCSUPIntercom    JamOrigin = "csup_intercom"
)

// RecordingLinkType says whether a Recording Link can be used once or many
// times. It is an open set: unknown values are kept as sent.
type RecordingLinkType string

// Recording Link types Jam documents.
const (
	LinkOneTime  RecordingLinkType = "one_time"
	LinkReusable RecordingLinkType = "reusable"
)

// A JamCreated reports a new Jam, from any source: the Chrome extension,
// the iOS app, the dashboard, Intercom Fin or a Recording Link. The webhook
// is thin; fetch logs and network requests through Jam's API with JamID.
// Fields Jam left out are zero.
type JamCreated struct {
	// ID is the envelope's id when the body came in Jam's envelope shape;
	// flat bodies carry none, so deduplicate on the delivery's message id.
	ID          string         `json:"id,omitempty"`
	JamID       string         `json:"jamId"`  // a UUID
	JamURL      string         `json:"jamUrl"` // https://jam.dev/c/<uuid>; see JamUUID
	TeamID      string         `json:"teamId"` // the workspace
	Type        JamCaptureType `json:"type"`   // the capture kind, not the event type
	CreatedAt   Time           `json:"createdAt"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	OriginalURL string         `json:"originalUrl"` // the page the Jam was captured on
	Origin      JamOrigin      `json:"origin"`
	IsIncognito bool           `json:"isIncognito"`
	Author      JamAuthor      `json:"author"`
	Media       JamMedia       `json:"media"`
	SystemInfo  JamSystemInfo  `json:"systemInfo"`

	raw       []byte
	fieldErrs []error
}

// A JamAuthor is the person who created a Jam or a Recording Link. The
// email's domain is what routing by customer account usually keys on.
type JamAuthor struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

// JamMedia holds the URLs of a Jam's media; only those that apply to the
// capture type are set.
type JamMedia struct {
	VideoURL      string `json:"videoUrl"`
	ScreenshotURL string `json:"screenshotUrl"`
	ThumbnailURL  string `json:"thumbnailUrl"`
}

// JamSystemInfo describes the device a Jam was captured on, where it applies.
type JamSystemInfo struct {
	Browser JamSoftware `json:"browser"`
	OS      JamSoftware `json:"os"`
	Screen  JamScreen   `json:"screen"`
}

// JamSoftware names a browser or an operating system.
type JamSoftware struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// JamScreen is a screen size in pixels.
type JamScreen struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

// EventType returns TypeJamCreated.
func (j *JamCreated) EventType() string { return TypeJamCreated }

// RawJSON returns the exact bytes j was decoded from.
func (j *JamCreated) RawJSON() []byte { return j.raw }

// FieldErrors reports the fields Parse left zero because their JSON type
// was unexpected; each is a *json.UnmarshalTypeError naming the field.
func (j *JamCreated) FieldErrors() []error { return j.fieldErrs }

// A RecorderRecorded reports that a customer submitted a recording through
// Jam's Intercom integration. Jam has sent it flat and in an envelope; both
// decode to the same fields.
type RecorderRecorded struct {
	ID             string `json:"id,omitempty"` // the envelope's id; "" for flat bodies
	CreatedAt      Time   `json:"createdAt"`
	ConversationID ID     `json:"conversationId"` // the Intercom conversation, digits
	JamID          string `json:"jamId"`
	// JamURL is the recording's URL: jamUrl in flat bodies, recording_url
	// in the envelope.
	JamURL string `json:"jamUrl"`

	raw       []byte
	fieldErrs []error
}

// EventType returns TypeRecorderRecorded.
func (r *RecorderRecorded) EventType() string { return TypeRecorderRecorded }

// RawJSON returns the exact bytes r was decoded from.
func (r *RecorderRecorded) RawJSON() []byte { return r.raw }

// FieldErrors reports the fields Parse left zero because their JSON type
// was unexpected; each is a *json.UnmarshalTypeError naming the field.
func (r *RecorderRecorded) FieldErrors() []error { return r.fieldErrs }

// A RecorderOptedOut reports that a customer declined to record through
// Jam's Intercom integration.
type RecorderOptedOut struct {
	ID             string `json:"id,omitempty"` // the envelope's id; "" for flat bodies
	CreatedAt      Time   `json:"createdAt"`
	ConversationID ID     `json:"conversationId"`

	raw       []byte
	fieldErrs []error
}

// EventType returns TypeRecorderOptedOut.
func (r *RecorderOptedOut) EventType() string { return TypeRecorderOptedOut }

// RawJSON returns the exact bytes r was decoded from.
func (r *RecorderOptedOut) RawJSON() []byte { return r.raw }

// FieldErrors reports the fields Parse left zero because their JSON type
// was unexpected; each is a *json.UnmarshalTypeError naming the field.
func (r *RecorderOptedOut) FieldErrors() []error { return r.fieldErrs }

// A RecordingLinkCreated reports a new Jam Recording Link: a URL a
// workspace hands to customers so they can record for it.
type RecordingLinkCreated struct {
	ID              string            `json:"id,omitempty"` // the envelope's id; "" for flat bodies
	RecordingLinkID string            `json:"recordingLinkId"`
	PublicID        string            `json:"publicId"` // the short token in the link
	URL             string            `json:"url"`
	TeamID          string            `json:"teamId"`
	Type            RecordingLinkType `json:"type"`
	CreatedAt       Time              `json:"createdAt"`
	Origin          JamOrigin         `json:"origin"`
	Description     string            `json:"description"`
	Reference       string            `json:"reference"` // the creator's own reference, e.g. a ticket id
	RecordingURL    string            `json:"recordingUrl"`
	CreatedBy       JamAuthor         `json:"createdBy"`

	raw       []byte
	fieldErrs []error
}

// EventType returns TypeRecordingLinkCreated.
func (r *RecordingLinkCreated) EventType() string { return TypeRecordingLinkCreated }

// RawJSON returns the exact bytes r was decoded from.
func (r *RecordingLinkCreated) RawJSON() []byte { return r.raw }

// FieldErrors reports the fields Parse left zero because their JSON type
// was unexpected; each is a *json.UnmarshalTypeError naming the field.
func (r *RecordingLinkCreated) FieldErrors() []error { return r.fieldErrs }

// JamUUID returns the Jam's UUID from a Jam URL such as
// https://jam.dev/c/3f2b…, the identifier Jam's API and agents take. It
// reports false if the URL's last path segment is not a UUID.
func JamUUID(jamURL string) (string, bool) {
	u, err := url.Parse(jamURL)
	if err != nil {
		return "", false
	}
	seg := strings.TrimRight(u.Path, "/")
	seg = seg[strings.LastIndexByte(seg, '/')+1:]
	if !isUUID(seg) {
		return "", false
	}
	return seg, true
}

// isUUID reports whether s is a UUID in its 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// jamForm is where a Jam body holds its event's fields: at the top level,
// in an envelope's data, or in the Fin connector's payload.
type jamForm int

const (
	jamFlat jamForm = iota
	jamEnvelope
	jamConnector
)

// Each Jam event decodes straight into its struct, embedded in a wire
// form that adds only what the struct does not spell as the body does:
// id as an ID (a flat body's, replaced by the envelope's), the snake-case
// created_at, and for RecorderRecorded the envelope's recording_url.
// Fields at the top of the wire form shadow the struct's of the same name.

type jamCreatedJSON struct {
	JamCreated
	ID             ID   `json:"id"`
	CreatedAtSnake Time `json:"created_at"`
}

func (d *jamCreatedJSON) flatID() ID { return d.ID }

func (d *jamCreatedJSON) event(id ID, env Time, raw []byte, errs []error) *JamCreated {
	j := &d.JamCreated
	j.ID, j.CreatedAt, j.raw, j.fieldErrs = string(id), firstTime(j.CreatedAt, d.CreatedAtSnake, env), raw, errs
	return j
}

type recordingLinkCreatedJSON struct {
	RecordingLinkCreated
	ID             ID   `json:"id"`
	CreatedAtSnake Time `json:"created_at"`
}

func (d *recordingLinkCreatedJSON) flatID() ID { return d.ID }

func (d *recordingLinkCreatedJSON) event(id ID, env Time, raw []byte, errs []error) *RecordingLinkCreated {
	r := &d.RecordingLinkCreated
	r.ID, r.CreatedAt, r.raw, r.fieldErrs = string(id), firstTime(r.CreatedAt, d.CreatedAtSnake, env), raw, errs
	return r
}

type recorderRecordedJSON struct {
	RecorderRecorded
	ID             ID     `json:"id"`
	CreatedAtSnake Time   `json:"created_at"`
	RecordingURL   string `json:"recording_url"`
}

func (d *recorderRecordedJSON) flatID() ID { return d.ID }

func (d *recorderRecordedJSON) event(id ID, env Time, raw []byte, errs []error) *RecorderRecorded {
	r := &d.RecorderRecorded
	r.ID, r.CreatedAt, r.raw, r.fieldErrs = string(id), firstTime(r.CreatedAt, d.CreatedAtSnake, env), raw, errs
	if r.JamURL == "" {
		r.JamURL = d.RecordingURL
	}
	return r
}

type recorderOptedOutJSON struct {
	RecorderOptedOut
	ID             ID   `json:"id"`
	CreatedAtSnake Time `json:"created_at"`
}

func (d *recorderOptedOutJSON) flatID() ID { return d.ID }

func (d *recorderOptedOutJSON) event(id ID, env Time, raw []byte, errs []error) *RecorderOptedOut {
	r := &d.RecorderOptedOut
	r.ID, r.CreatedAt, r.raw, r.fieldErrs = string(id), firstTime(r.CreatedAt, d.CreatedAtSnake, env), raw, errs
	return r
}

// jamEnvelopeJSON is Jam's envelope around the fields D of one event; a
// timestamp inside data wins over the envelope's, in either spelling.
type jamEnvelopeJSON[D any] struct {
	ID             ID     `json:"id"`
	Type           string `json:"type"`
	CreatedAt      Time   `json:"created_at"`
	CreatedAtCamel Time   `json:"createdAt"`
	Data           *D     `json:"data"`
}

// jamConnectorJSON is the Fin connector's body around the fields D.
type jamConnectorJSON[D any] struct {
	ID             ID     `json:"id"`
	Event          string `json:"event"`
	CreatedAt      Time   `json:"created_at"`
	CreatedAtCamel Time   `json:"createdAt"`
	Payload        *D     `json:"payload"`
}

// firstTime returns the first of ts that is set.
func firstTime(ts ...Time) Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return Time{}
}

func orNew[T any](p *T) *T {
	if p == nil {
		return new(T)
	}
	return p
}
