package webhooktest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// TestStampIntercom: only the top-level created_at and first_sent_at of a
// JSON object change, byte for byte in place; any other body is returned
// as it came, a body cut short or followed by more bytes included.
func TestStampIntercom(t *testing.T) {
	at := time.Unix(1795510800, 0)
	tests := []struct{ name, body, want string }{
		{"both, spaced", "{\"created_at\" : 1 ,\n\t\"first_sent_at\":  2  }", "{\"created_at\" : 1795510800 ,\n\t\"first_sent_at\":  1795510800  }"},
		{"nested ones stay", `{"data":{"item":{"created_at":5}},"created_at":null}`, `{"data":{"item":{"created_at":5}},"created_at":1795510800}`},
		{"absent keys are not added", `{"topic":"ping"}`, `{"topic":"ping"}`},
		{"in another case, as the handler reads them", `{"Created_At":1,"FIRST_SENT_AT":2,"created_At":3}`, `{"Created_At":1795510800,"FIRST_SENT_AT":1795510800,"created_At":1795510800}`},
		{"escaped", `{"created\u005fat":1}`, `{"created\u005fat":1795510800}`},
		{"trailing space", "{\"created_at\":1}\n", "{\"created_at\":1795510800}\n"},
		{"cut short", `{"created_at":1,"topic":"pi`, `{"created_at":1,"topic":"pi`},
		{"cut after a value", `{"created_at":1`, `{"created_at":1`},
		{"bytes after the object", `{"created_at":1}x`, `{"created_at":1}x`},
		{"two objects", `{"created_at":1} {"created_at":2}`, `{"created_at":1} {"created_at":2}`},
		{"an array", `[{"created_at":1}]`, `[{"created_at":1}]`},
		{"empty", ``, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, string(webhooktest.StampIntercom([]byte(tt.body), at)))
		})
	}
}

// FuzzStampIntercom: a body that is not a JSON object comes back as it
// came; a JSON object comes back a JSON object with the same members,
// but created_at and first_sent_at, where present, at t.
func FuzzStampIntercom(f *testing.F) {
	for _, name := range webhooktest.FixtureNames() {
		f.Add(webhooktest.Fixture(name), int64(webhooktest.Unix))
	}
	f.Add([]byte(`{"created_at":1`), int64(0))
	f.Add([]byte(`{"created_at":1}{}`), int64(-5))
	f.Add([]byte(` {"created\u005fat":"x","first_sent_at":[1,{"a":2}]} `), int64(1e12))
	f.Fuzz(func(t *testing.T, body []byte, sec int64) {
		in := bytes.Clone(body)
		out := webhooktest.StampIntercom(body, time.Unix(sec, 0))
		require.Equal(t, in, body, "the body given is not changed")
		var before map[string]json.RawMessage
		if !json.Valid(body) || json.Unmarshal(body, &before) != nil || before == nil {
			require.Equal(t, body, out, "not a JSON object: returned as it came")
			return
		}
		var after map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(out, &after), "%q", out)
		require.Len(t, after, len(before))
		for k, v := range before {
			if strings.EqualFold(k, "created_at") || strings.EqualFold(k, "first_sent_at") {
				v = json.RawMessage(strconv.FormatInt(sec, 10))
			}
			require.Equal(t, string(v), string(after[k]), k)
		}
	})
}

// TestIntercomWithIDBody: WithID sets only the top-level id of a JSON
// object, in place, or adds it first; any other body goes as it came.
func TestIntercomWithIDBody(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"replaced in place", `{"id" : 5 ,"topic":"ping"}`, `{"id" : "notif_7" ,"topic":"ping"}`},
		{"null", `{"id":null}`, `{"id":"notif_7"}`},
		{"each of a repeated key", `{"id":"a","id":"b"}`, `{"id":"notif_7","id":"notif_7"}`},
		{"nested ones stay", `{"data":{"item":{"id":"x"}}}`, `{"id":"notif_7","data":{"item":{"id":"x"}}}`},
		{"added to an empty object", "\n{ }\n", "\n{\"id\":\"notif_7\" }\n"},
		{"cut short", `{"id":"a"`, `{"id":"a"`},
		{"an array", `[{"id":"a"}]`, `[{"id":"a"}]`},
		{"empty", ``, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, []byte(tt.body), webhooktest.WithID("notif_7"))
			got, err := io.ReadAll(r.Body)
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
			require.Equal(t, webhooktest.SignIntercom(webhooktest.IntercomSecret, got), r.Header.Get("X-Hub-Signature"))
		})
	}
}

// FuzzIntercomWithID: a JSON object comes back a JSON object with the
// same members but its id, which is the one given; anything else comes
// back as it came.
func FuzzIntercomWithID(f *testing.F) {
	for _, name := range webhooktest.FixtureNames() {
		f.Add(webhooktest.Fixture(name), "notif_1")
	}
	f.Add([]byte(`{}`), `"<&>\u2028`)
	f.Add([]byte(` {"i\u0064":[1,{"id":2}]} `), "")
	f.Add([]byte(`{}`), "\xfa\xff")
	f.Fuzz(func(t *testing.T, body []byte, id string) {
		in := bytes.Clone(body)
		r := webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, body, webhooktest.WithID(id))
		out, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		require.Equal(t, in, body, "the body given is not changed")
		var before map[string]json.RawMessage
		if !json.Valid(body) || json.Unmarshal(body, &before) != nil || before == nil {
			require.Equal(t, body, out, "not a JSON object: returned as it came")
			return
		}
		var after map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(out, &after), "%q", out)
		// The id the handler decodes, encoding/json matching its key in
		// any case, is the one given.
		var n struct{ ID *string }
		require.NoError(t, json.Unmarshal(out, &n), "%q", out)
		require.NotNil(t, n.ID, "%q", out)
		if utf8.ValidString(id) {
			require.Equal(t, id, *n.ID)
		}
		for k := range after {
			if strings.EqualFold(k, "id") {
				delete(after, k)
				delete(before, k)
			}
		}
		require.Equal(t, before, after)
	})
}
