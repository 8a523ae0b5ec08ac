package jsonread

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

var jsonReaderSeeds = []string{
	`{}`, `[]`, `""`, `"plain"`, `"tab\there"`, `"quote \" and \\ and \/"`, `"\u00e9t\u00E9"`,
	`"\ud83d\ude00"`, `"\ud83d"`, `"\ud83d\u0041"`, `"\ude00\ud83d"`, "\"\xff\xfe\"", "\"caf\xc3\xa9\"",
	`"\x"`, `"unterminated`, "\"ctl\x01\"", `0`, `-0`, `12`, `-12`, `1.5`, `1e3`, `1E+3`, `01`, `1.`, `.5`,
	`-`, `1e`, `9223372036854775807`, `9223372036854775808`, `true`, `false`, `null`, `tru`, `nul`,
	`{"a":1,"b":[1,2,{"c":null}],"d":"x"}`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `[1,]`, `[1 2]`, `{"a":1} x`,
	` { "a" : [ true , false ] } `, `{"\u0061":1}`, `[[[[[[[[[[]]]]]]]]]]`,
}

func TestJSONReaderAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range jsonReaderSeeds {
		checkJSONReader(t, []byte(s))
	}
}

func FuzzJSONReader(f *testing.F) {
	for _, s := range jsonReaderSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkJSONReader(t, b) })
}

// checkJSONReader holds the reader to its contract: it accepts only what
// encoding/json accepts, decodes strings and ints to the same values, and
// rejects valid JSON only when it nests deeper than MaxDepth.
func checkJSONReader(t *testing.T, b []byte) {
	r := Reader{B: b}
	ok := r.Skip(0) && r.End()
	valid := json.Valid(b)
	if ok {
		require.True(t, valid, "reader accepted invalid JSON %q", b)
	} else if valid {
		require.Greater(t, bytes.Count(b, []byte("["))+bytes.Count(b, []byte("{")), MaxDepth,
			"reader rejected valid JSON %q", b)
	}

	r = Reader{B: b}
	if s, ok := r.Str(); ok && r.End() {
		var want string
		require.NoError(t, json.Unmarshal(b, &want), "reader accepted string %q", b)
		require.Equal(t, want, s, "string %q", b)
	}
	r = Reader{B: b}
	if n, ok := r.Integer(); ok && r.End() {
		var want int
		require.NoError(t, json.Unmarshal(b, &want), "reader accepted int %q", b)
		require.Equal(t, want, n)
	}
	r = Reader{B: b}
	if v, ok := r.Boolean(); ok && r.End() {
		var want bool
		require.NoError(t, json.Unmarshal(b, &want))
		require.Equal(t, want, v)
	}
}

func TestJSONReaderDepth(t *testing.T) {
	deep := bytes.Repeat([]byte("["), MaxDepth+2)
	deep = append(deep, bytes.Repeat([]byte("]"), MaxDepth+2)...)
	r := Reader{B: deep}
	require.False(t, r.Skip(0), "nesting past MaxDepth must fall back")
	shallow := deep[2 : len(deep)-2]
	r = Reader{B: shallow}
	require.True(t, r.Skip(0) && r.End())
}
