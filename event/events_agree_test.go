package event

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseDuplicateKeysAsJSON holds the recovery path to what
// encoding/json does with duplicate and case-variant keys beside an
// ill-typed value: the members are read in document order, a later
// duplicate wins only if it fits, and a key matches a field ignoring case.
func TestParseDuplicateKeysAsJSON(t *testing.T) {
	tests := []struct {
		body      string
		wantType  string
		check     func(t *testing.T, ev Event)
		fieldErrs int
	}{{
		body:     `{"jamId":"j","teamId":"t","teamId":5}`,
		wantType: TypeJamCreated,
		check: func(t *testing.T, ev Event) {
			j := ev.(*JamCreated)
			require.Equal(t, "j", j.JamID)
			require.Equal(t, "t", j.TeamID) // 5 does not fit, so "t" stays, as in encoding/json
		},
		fieldErrs: 1,
	}, {
		body:     `{"type":"notification_event","topic":"ping","id":"n1","ID":"n2","delivery_attempts":"x"}`,
		wantType: TopicPing,
		check: func(t *testing.T, ev Event) {
			n := ev.(*IntercomNotification)
			require.Equal(t, ID("n2"), n.ID) // "ID" matches id ignoring case, and comes later
			require.Zero(t, n.DeliveryAttempts)
		},
		fieldErrs: 1,
	}, {
		body:     `{"j\u0061mId":"j","TEAMID":"t","title":7,"title":"kept","Title":8}`,
		wantType: TypeJamCreated,
		check: func(t *testing.T, ev Event) {
			j := ev.(*JamCreated)
			require.Equal(t, "j", j.JamID)
			require.Equal(t, "t", j.TeamID)
			require.Equal(t, "kept", j.Title)
		},
		fieldErrs: 2,
	}}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			ev, err := Parse([]byte(tt.body))
			require.NoError(t, err)
			require.Equal(t, tt.wantType, ev.EventType())
			tt.check(t, ev)
			fe := ev.(interface{ FieldErrors() []error }).FieldErrors()
			require.Len(t, fe, tt.fieldErrs)
			// And it is what encoding/json decodes into the public struct.
			pub := ev
			switch ev.(type) {
			case *JamCreated:
				pub = &JamCreated{}
			case *IntercomNotification:
				pub = &IntercomNotification{}
			}
			require.Error(t, json.Unmarshal([]byte(tt.body), pub))
			got, _ := json.Marshal(ev)
			want, _ := json.Marshal(pub)
			require.JSONEq(t, string(want), string(got))
		})
	}
}

// TestParseAgreesOnGeneratedBodies runs the encoding/json agreement check
// of FuzzParseAgreesWithJSON over generated flat bodies and envelopes
// whose keys vary in case, escapes and repetition, and whose values are
// often of the wrong type.
func TestParseAgreesOnGeneratedBodies(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	rng := rand.New(rand.NewPCG(14, 5))
	keys := []string{"jamId", "teamId", "type", "topic", "id", "conversationId", "jamUrl", "recordingLinkId",
		"created_at", "createdAt", "delivery_attempts", "event", "title", "isIncognito", "data", "payload", "author", "item"}
	scalars := []string{`"s"`, `"t"`, `"notification_event"`, `"jam.created"`, `"1795510800"`, `5`, `1.5`,
		`-0`, `true`, `null`, `[]`, `{}`, `["a",1]`, `"2026-11-24T09:00:00Z"`, `"x.y"`}
	variant := func(k string) string {
		switch rng.IntN(5) {
		case 0:
			return strings.ToUpper(k)
		case 1:
			return strings.ToUpper(k[:1]) + k[1:]
		case 2:
			return `\u00` + strconv.FormatInt(int64(k[0]), 16) + k[1:]
		}
		return k
	}
	var object func(depth int) string
	object = func(depth int) string {
		var b strings.Builder
		b.WriteByte('{')
		for i := range 1 + rng.IntN(7) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + variant(keys[rng.IntN(len(keys))]) + `":`)
			if depth < 2 && rng.IntN(4) == 0 {
				b.WriteString(object(depth + 1))
			} else {
				b.WriteString(scalars[rng.IntN(len(scalars))])
			}
		}
		b.WriteByte('}')
		return b.String()
	}
	whole := 0
	for range n {
		if checkAgainstJSON(t, []byte(object(0))) {
			whole++
		}
	}
	require.Greater(t, whole, n/4, "most generated bodies decode to the end under encoding/json")
}
