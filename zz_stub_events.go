package webhook

// TEMPORARY local stub until the events branch lands. Never commit.

import (
	"encoding/json"
	"errors"
)

type Event interface {
	EventType() string
	RawJSON() []byte
}

const (
	TypeJamCreated           = "jam.created"
	TypeRecorderRecorded     = "intercom.recorder.recorded"
	TypeRecorderOptedOut     = "intercom.recorder.opted_out"
	TypeRecordingLinkCreated = "recording_link.created"
	TypeSeriesWebhook        = "series.webhook"
)

type ID string

func (i ID) String() string { return string(i) }

type UnknownEvent struct {
	Type string
	Raw  []byte
}

func (e *UnknownEvent) EventType() string { return e.Type }
func (e *UnknownEvent) RawJSON() []byte   { return e.Raw }

type JamCreated struct {
	raw   []byte
	JamID string
}

func (e *JamCreated) EventType() string { return TypeJamCreated }
func (e *JamCreated) RawJSON() []byte   { return e.raw }

type RecorderRecorded struct{ raw []byte }

func (e *RecorderRecorded) EventType() string { return TypeRecorderRecorded }
func (e *RecorderRecorded) RawJSON() []byte   { return e.raw }

type RecorderOptedOut struct{ raw []byte }

func (e *RecorderOptedOut) EventType() string { return TypeRecorderOptedOut }
func (e *RecorderOptedOut) RawJSON() []byte   { return e.raw }

type RecordingLinkCreated struct{ raw []byte }

func (e *RecordingLinkCreated) EventType() string { return TypeRecordingLinkCreated }
func (e *RecordingLinkCreated) RawJSON() []byte   { return e.raw }

type IntercomNotification struct {
	raw              []byte
	ID               ID
	Topic            string
	DeliveryAttempts int
}

func (e *IntercomNotification) EventType() string { return e.Topic }
func (e *IntercomNotification) RawJSON() []byte   { return e.raw }

type SeriesWebhook struct{ raw []byte }

func (e *SeriesWebhook) EventType() string { return TypeSeriesWebhook }
func (e *SeriesWebhook) RawJSON() []byte   { return e.raw }

func Parse(body []byte) (Event, error) {
	var u struct {
		JamID, TeamID, Type, Topic, ID string
		DeliveryAttempts               int `json:"delivery_attempts"`
		ConversationID                 string
	}
	if err := json.Unmarshal(body, &u); err != nil {
		return nil, err
	}
	switch {
	case u.Type == "notification_event":
		return &IntercomNotification{raw: body, ID: ID(u.ID), Topic: u.Topic, DeliveryAttempts: u.DeliveryAttempts}, nil
	case u.JamID != "" && u.TeamID != "":
		return &JamCreated{raw: body, JamID: u.JamID}, nil
	case u.ConversationID != "" && u.JamID != "":
		return &RecorderRecorded{raw: body}, nil
	case u.ConversationID != "":
		return &RecorderOptedOut{raw: body}, nil
	}
	return &UnknownEvent{Type: u.Type, Raw: body}, nil
}
func ParseAs(eventType string, body []byte) (Event, error) {
	e, err := Parse(body)
	if err != nil {
		return nil, err
	}
	if e.EventType() != eventType {
		return nil, errors.New("wrong shape")
	}
	return e, nil
}
func ParseSeries(body []byte, ct string) (*SeriesWebhook, error) {
	if len(body) == 0 {
		return nil, errors.New("empty")
	}
	return &SeriesWebhook{raw: body}, nil
}
