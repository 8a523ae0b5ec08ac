package strjson

import (
	"encoding/json"
	"net/http"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// FuzzStrJSON holds the header and meta encoding to three
// properties: what is written reads back exactly, bytes that are not
// UTF-8 included; a reader of rows written by json.Marshal (before it)
// reads what encoding/json reads; and an older reader, encoding/json,
// reads the new rows as it read json.Marshal's (U+FFFD for each byte
// that is not UTF-8), so a file stays readable by earlier versions.
func FuzzStrJSON(f *testing.F) {
	for _, seed := range [][3]string{
		{"User-Agent", "Jam/1.0", "traceparent"},
		{"User-Agent", "caf\xe9 \xff\xfe", "vendor=\xe9"},
		{"X-\xff", `\udcff \\udcff \u00e9`, "\xed\xb3\xbf"},
		{"K", "\u2028<&>\x00\n\"", `"\`},
		{"K", "\xf0\x9f\x98", "\xf0\x9f\x98\x80 \xdc\x80"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, k, v, w string) {
		h := http.Header{k: {v, w, ""}, "Empty": {}, "Nil": nil}
		m := map[string]string{k: v, "w": w}

		hb, err := MarshalHeader(h)
		require.NoError(t, err)
		var gotH http.Header
		require.NoError(t, UnmarshalHeader(hb, &gotH))
		require.Equal(t, h, gotH, "header %q", hb)
		mb, err := MarshalMeta(m)
		require.NoError(t, err)
		var gotM map[string]string
		require.NoError(t, UnmarshalMeta(mb, &gotM))
		require.Equal(t, m, gotM, "meta %q", mb)

		oldH, err := json.Marshal(h)
		require.NoError(t, err)
		oldM, err := json.Marshal(m)
		require.NoError(t, err)
		if utf8.ValidString(k) && utf8.ValidString(v) && utf8.ValidString(w) {
			require.Equal(t, oldH, hb, "UTF-8 is written as before")
			require.Equal(t, oldM, mb, "UTF-8 is written as before")
		}
		var wantH, readH http.Header
		require.NoError(t, json.Unmarshal(oldH, &wantH))
		require.NoError(t, UnmarshalHeader(oldH, &readH))
		require.Equal(t, wantH, readH, "an older row %q", oldH)
		var wantM, readM map[string]string
		require.NoError(t, json.Unmarshal(oldM, &wantM))
		require.NoError(t, UnmarshalMeta(oldM, &readM))
		require.Equal(t, wantM, readM, "an older row %q", oldM)

		var olderH http.Header
		require.NoError(t, json.Unmarshal(hb, &olderH))
		require.Equal(t, wantH, olderH, "an older reader of %q", hb)
		var olderM map[string]string
		require.NoError(t, json.Unmarshal(mb, &olderM))
		require.Equal(t, wantM, olderM, "an older reader of %q", mb)
	})
}

// TestStrJSONMalformed checks that a value read by hand (one holding an
// escaped byte) that is not whole JSON of its shape is an error.
func TestStrJSONMalformed(t *testing.T) {
	for _, bad := range []string{`{"a":["\udcff"`, `{"a":["\udcff"]} x`, `{"a":"\udcff"}`, `["\udcff"]`, `{"a":["\udcf"]}`, `{"\udcff":["\q"]}`} {
		var h http.Header
		require.Error(t, UnmarshalHeader([]byte(bad), &h), bad)
	}
	for _, bad := range []string{`{"a":["\udcff"]}`, `{"a":"\udcff"`, `{"a":"\udcff",}`} {
		var m map[string]string
		require.Error(t, UnmarshalMeta([]byte(bad), &m), bad)
	}
}
