package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strings"
)

// Media types of the two bodies a Series webhook block can send.
const (
	contentTypeJSON = "application/json"
	contentTypeForm = "application/x-www-form-urlencoded"
)

// TypeSeriesWebhook is the EventType of every *SeriesWebhook: a Series
// body is designed by a workspace admin and names no type of its own.
const TypeSeriesWebhook = "series.webhook"

// A SeriesWebhook is the body of an Intercom Series or Workflow webhook
// block. Its keys and values are whatever the workspace admin designed,
// typically contact and company attributes, so it is a set of fields rather
// than a struct; Decode moves them into one of your own.
type SeriesWebhook struct {
	// Fields holds the body's top-level keys. A JSON string value is kept
	// as its text, any other JSON value as its JSON text ("42", "true",
	// "null", `{"plan":"pro"}`); a form value as sent (the first, if a key
	// repeats).
	Fields map[string]string
	// ContentType is the media type the body was decoded as: the JSON or
	// the form one.
	ContentType string

	raw  []byte
	json map[string]json.RawMessage // JSON bodies only
}

// EventType returns TypeSeriesWebhook.
func (s *SeriesWebhook) EventType() string { return TypeSeriesWebhook }

// RawJSON returns the exact bytes s was decoded from, which for a form
// body are form-encoded rather than JSON.
func (s *SeriesWebhook) RawJSON() []byte { return s.raw }

// ParseSeries decodes a Series webhook body: a JSON object, or form-encoded
// key/value pairs, as contentType (the request's Content-Type header)
// says. If contentType is empty or neither, the body decides: one starting
// with "{" is JSON. A JSON body that is not an object is an error wrapping
// ErrInvalidJSON.
func ParseSeries(body []byte, contentType string) (*SeriesWebhook, error) {
	return parseSeries(bytes.Clone(body), contentType)
}

// parseSeries is ParseSeries for a body the event may keep: the handler's
// own buffer.
func parseSeries(body []byte, contentType string) (*SeriesWebhook, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	isJSON := mt == contentTypeJSON || strings.HasSuffix(mt, "+json")
	if mt != contentTypeForm && !isJSON {
		trimmed := bytes.TrimLeft(body, " \t\r\n")
		isJSON = len(trimmed) > 0 && trimmed[0] == '{'
	}
	s := &SeriesWebhook{raw: body}
	if !isJSON {
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("webhook: invalid form body: %w", err)
		}
		s.ContentType = contentTypeForm
		s.Fields = make(map[string]string, len(q))
		for k, v := range q {
			s.Fields[k] = v[0]
		}
		return s, nil
	}
	s.ContentType = contentTypeJSON
	if err := json.Unmarshal(body, &s.json); err != nil || s.json == nil {
		if err == nil {
			err = errors.New("null")
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidJSON, err)
	}
	s.Fields = make(map[string]string, len(s.json))
	for k, v := range s.json {
		if str, ok := unquote(v); ok {
			s.Fields[k] = str
		} else {
			s.Fields[k] = string(v)
		}
	}
	return s, nil
}

// Decode stores the fields in v, which must be a non-nil pointer, as
// json.Unmarshal would from a JSON object: match keys with json struct
// tags. Scalars arrive as strings whatever the body's encoding, since a
// form has no other kind and admins fill JSON bodies from text
// placeholders; declare numeric and boolean fields with the ",string" tag
// option (`json:"company_size,string"`), or as Time or ID. Objects and
// arrays in a JSON body decode as themselves.
func (s *SeriesWebhook) Decode(v any) error {
	obj := make(map[string]json.RawMessage, len(s.Fields))
	for k, f := range s.Fields {
		if raw, ok := s.json[k]; ok && len(raw) > 0 && (raw[0] == '{' || raw[0] == '[' || raw[0] == 'n') {
			obj[k] = raw
			continue
		}
		q, err := json.Marshal(f)
		if err != nil {
			return err
		}
		obj[k] = q
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
