package event

import (
	"encoding/json"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestShapeKeys holds shapeKeys to the struct tags of shape and of a flat
// jam.created's wire form: a key missing from the list would let
// readFlatJam skip a field the general path uses.
func TestShapeKeys(t *testing.T) {
	var names []string
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			if f.Anonymous {
				walk(f.Type)
				continue
			}
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
				names = append(names, name)
			}
		}
	}
	walk(reflect.TypeFor[shape]()) // data and payload send the body to the general path
	walk(reflect.TypeFor[jamCreatedJSON]())
	slices.Sort(names)
	names = slices.Compact(names)
	got := slices.Sorted(slices.Values(shapeKeys))
	require.Equal(t, names, got)
	// The keys that decide a body's shape, by name, in case the walk and
	// the structs drift apart together.
	require.Subset(t, shapeKeys, []string{"type", "data", "topic", "event", "payload", "id", "created_at", "createdAt",
		"jamId", "teamId", "jamUrl", "conversationId", "recording_url", "recordingLinkId"})
}

var flatJamSeeds = []string{
	`{"jamId":"a","teamId":"t"}`,
	`{"jamId":"a","teamId":"t","createdAt":null,"created_at":1795510800}`,
	`{"jamId":"a","teamId":"t","createdAt":"2026-11-24T08:59:12Z","created_at":"x"}`,
	`{"jamId":"a","teamId":"t","JamId":"b"}`,
	`{"jamId":"a","teamId":"t","title":5}`,
	`{"jamId":"a","teamId":"t","author":{"email":"e"},"author":{"name":"n"}}`,
	`{"jamId":"a","teamId":"t","systemInfo":{"screen":{"width":1.5}}}`,
	`{"jamId":"a","teamId":"t","systemInfo":{"screen":{"width":-0,"height":99999999999999999999}}}`,
	`{"jamId":"a","teamId":"t","extra":[1,{"x":"\ud800"}],"id":7}`,
	`{"jamId":"a","teamId":"t","data":null}`,
	`{"jamId":"a\u00e9","teamId":"t","title":"\"quoted\"\n"}`,
	`{"jamId":"a","teamId":"t","isIncognito":null,"origin":null}`,
	`{"jamId":"a","teamId":"t"} x`,
	`{"jamId":"","teamId":"t"}`,
	"{\"jamId\":\"a\",\"teamId\":\"t\",\"lin\u212As\":{}}",
	`{"jamId":"a","teamId":"t","conversationId":"1"}`,
}

// FuzzReadFlatJam checks the fast path against the general one: when
// readFlatJam accepts a body, encoding/json decodes it to the same event.
func FuzzReadFlatJam(f *testing.F) {
	for _, s := range flatJamSeeds {
		f.Add([]byte(s))
	}
	_ = fs.WalkDir(os.DirFS("webhooktest/testdata/jam"), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile("webhooktest/testdata/jam/" + p)
			f.Add(b)
		}
		return nil
	})
	f.Fuzz(func(t *testing.T, b []byte) { checkFlatJam(t, b) })
}

func TestReadFlatJamAgrees(t *testing.T) {
	accepted := 0
	for _, s := range flatJamSeeds {
		if checkFlatJam(t, []byte(s)) {
			accepted++
		}
	}
	require.Equal(t, 7, accepted, "the seeds exercise both paths")
	full := []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_1","type":"video",` +
		`"createdAt":"2026-11-24T08:59:12.345Z","author":{"email":"a@b.example"},"systemInfo":{"screen":{"width":1728}}}`)
	j, ok := readFlatJam(full)
	require.True(t, ok)
	require.Equal(t, "a@b.example", j.Author.Email)
	require.Equal(t, 1728, j.SystemInfo.Screen.Width)
	require.Equal(t, int64(1795510752), j.CreatedAt.Unix())
}

func checkFlatJam(t *testing.T, b []byte) bool {
	fast, ok := readFlatJam(b)
	if !ok {
		return false
	}
	ev, err := parseGeneral(b)
	require.NoError(t, err, "fast path accepted %q", b)
	slow, isJam := ev.(*JamCreated)
	require.True(t, isJam, "fast path decoded %q as jam.created, general path as %T", b, ev)
	require.Empty(t, slow.FieldErrors(), "fast path accepted %q, which has field errors", b)
	fast.raw = slow.raw
	// Times compare by instant and location, as json sees them.
	fj, _ := json.Marshal(fast)
	sj, _ := json.Marshal(slow)
	require.JSONEq(t, string(sj), string(fj), "body %q", b)
	require.True(t, fast.CreatedAt.Equal(slow.CreatedAt.Time))
	fast.CreatedAt, slow.CreatedAt = Time{}, Time{}
	require.Equal(t, slow, fast, "body %q", b)
	return true
}
