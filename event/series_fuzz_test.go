package event

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// seriesErrorText is every error ParseSeries gives for a JSON body that
// is not an object: Parse's, or the kind of value it is instead.
var seriesErrorText = regexp.MustCompile(`^webhook: body is not a JSON object: (null|json: cannot unmarshal [a-z]+ into Go value of type map\[string\]json\.RawMessage)$`)

// FuzzSeriesJSON holds a JSON Series body to encoding/json: ParseSeries
// accepts it exactly when json.Unmarshal decodes it into a map (or it is
// white space only), with its errors holding nothing of the body; the
// fields are that map's keys, each a string's text or any other value's
// JSON text as sent. Decode gives the same back: into a map, each scalar
// as that field's text and each object, array or null as encoding/json
// decodes it. A form body decodes through Decode to its fields too.
func FuzzSeriesJSON(f *testing.F) {
	for _, s := range []string{`{"email":"dana@northwind.example","seats":12,"plan":{"tier":"pro"},"tags":["a"],"x":null}`,
		`{"a":"1","a":2}`, `{"\u00e9":"\ud800","b":"\u2028<&>"}`, `{"a": 1.50e+3 ,"b":true}`, ` `, `null`, `[1]`, `"x"`, `{"a":`,
		"{\"a\":\"\xff\"}", `{"a":1} {}`, `a=1&b=%ff`} {
		f.Add([]byte(s), uint8(0))
	}
	for name, b := range readFixtures(f) {
		if strings.HasPrefix(name, "series/") {
			f.Add(b, uint8(1))
		}
	}
	types := []string{contentTypeJSON, "", "application/vnd.api+json; charset=utf-8", contentTypeForm}
	f.Fuzz(func(t *testing.T, body []byte, ct uint8) {
		contentType := types[int(ct)%len(types)]
		s, err := ParseSeries(body, contentType)
		if trimmed := strings.TrimLeft(string(body), " \t\r\n"); contentType == contentTypeForm || contentType == "" && !strings.HasPrefix(trimmed, "{") {
			if err == nil { // a form: FuzzSeriesForm holds its errors
				require.Equal(t, contentTypeForm, s.ContentType)
				requireDecodesToFields(t, s, nil)
			}
			return
		}
		var ref map[string]json.RawMessage
		rerr := json.Unmarshal(body, &ref)
		if strings.Trim(string(body), " \t\r\n") == "" {
			require.NoError(t, err)
			require.Empty(t, s.Fields)
			return
		}
		if rerr != nil || ref == nil {
			require.Error(t, err, "encoding/json: %v", rerr)
			require.ErrorIs(t, err, ErrInvalidJSON)
			require.Nil(t, s)
			if !decodeErrorText.MatchString(err.Error()) {
				require.Regexp(t, seriesErrorText, err.Error())
			}
			return
		}
		require.NoError(t, err, "encoding/json decodes %q", body)
		require.Equal(t, contentTypeJSON, s.ContentType)
		require.Equal(t, body, s.RawJSON())
		want := make(map[string]string, len(ref))
		for k, v := range ref {
			var str string
			if json.Unmarshal(v, &str) == nil && v[0] == '"' {
				want[k] = str
			} else {
				want[k] = string(v)
			}
		}
		require.Equal(t, want, s.Fields)
		requireDecodesToFields(t, s, ref)
	})
}

// requireDecodesToFields requires that s.Decode into a map give each field
// back (where key and value are UTF-8): a scalar as its text, and, for a JSON body, an object, array or
// null (raw) as encoding/json decodes it.
func requireDecodesToFields(t *testing.T, s *SeriesWebhook, raw map[string]json.RawMessage) {
	t.Helper()
	var got map[string]any
	require.NoError(t, s.Decode(&got))
	valid := true
	for k, f := range s.Fields {
		if !utf8.ValidString(k) {
			valid = false // encoding/json sends each byte that is not UTF-8 as U+FFFD
			continue
		}
		if v, ok := raw[k]; ok && (v[0] == '{' || v[0] == '[' || v[0] == 'n') {
			var want any
			require.NoError(t, json.Unmarshal(v, &want))
			require.Equal(t, want, got[k], "field %q", k)
			continue
		}
		if utf8.ValidString(f) {
			require.Equal(t, f, got[k], "field %q", k)
		}
	}
	if valid {
		require.Len(t, got, len(s.Fields))
	}
}
