package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/inhook/webhook/internal/jsonread"
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
// ErrInvalidJSON; a form body with a '%' not followed by two hexadecimal
// digits, one wrapping ErrInvalidForm. An empty body (or, for JSON, one of
// white space only) is a block with no key/value pairs: no fields, not an
// error.
//
// Only '&' separates the pairs of a form body: a ';' is a character of
// its key or value, as Intercom sends it unencoded in an attribute such
// as "Smith; Jones". (url.ParseQuery refuses a ';' since Go 1.17.)
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
		fields, err := parseForm(body)
		if err != nil {
			return nil, err
		}
		s.ContentType, s.Fields = contentTypeForm, fields
		return s, nil
	}
	s.ContentType = contentTypeJSON
	if len(bytes.TrimLeft(body, " \t\r\n")) == 0 {
		s.Fields = map[string]string{}
		return s, nil
	}
	if err := json.Unmarshal(body, &s.json); err != nil || s.json == nil {
		var syn *json.SyntaxError
		switch {
		case errors.As(err, &syn):
			return nil, jsonSyntaxError(syn)
		case err == nil:
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

// parseForm decodes a form-encoded body as url.ParseQuery does, keeping
// the first value of a repeated key, except that only '&' separates
// pairs.
func parseForm(body []byte) (map[string]string, error) {
	fields := map[string]string{}
	for off := 0; off < len(body); {
		pair := body[off:]
		end := bytes.IndexByte(pair, '&')
		if end >= 0 {
			pair = pair[:end]
		}
		if len(pair) > 0 {
			k, v, _ := bytes.Cut(pair, []byte("="))
			key, err := unescapeForm(k, off)
			if err != nil {
				return nil, err
			}
			val, err := unescapeForm(v, off+len(k)+1)
			if err != nil {
				return nil, err
			}
			if _, ok := fields[key]; !ok {
				fields[key] = val
			}
		}
		if end < 0 {
			break
		}
		off += end + 1
	}
	return fields, nil
}

// unescapeForm decodes one key or value of a form, found at offset off of
// the body: '+' is a space and '%' with two hexadecimal digits a byte.
func unescapeForm(b []byte, off int) (string, error) {
	if bytes.IndexByte(b, '%') < 0 && bytes.IndexByte(b, '+') < 0 {
		return string(b), nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '+':
			out = append(out, ' ')
		case '%':
			var hi, lo byte = 0xff, 0xff
			if i+2 < len(b) {
				hi, lo = jsonread.HexValue(b[i+1]), jsonread.HexValue(b[i+2])
			}
			if hi == 0xff || lo == 0xff {
				return "", &DecodeError{Err: ErrInvalidForm, Fault: "'%' not followed by two hexadecimal digits", Offset: int64(off + i)}
			}
			out = append(out, hi<<4|lo)
			i += 2
		default:
			out = append(out, c)
		}
	}
	return string(out), nil
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
