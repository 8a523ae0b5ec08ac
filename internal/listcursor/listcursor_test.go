package listcursor

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	c := Cursor{Kind: "sqlite", Order: 1, State: "dead", At: "1741064767890000000", Tie: "42"}
	s := c.String()
	for _, tc := range []struct {
		name  string
		s     string
		kind  string
		order int
		state string
		err   error
	}{
		{"its own", s, "sqlite", 1, "dead", nil},
		{"another kind", s, "redis", 1, "dead", errForeign},
		{"another order", s, "sqlite", 0, "dead", errQuery},
		{"another state", s, "sqlite", 1, "done", errQuery},
		{"not base64", "a cursor!", "sqlite", 1, "dead", errMalformed},
		{"too few fields", Cursor{}.String()[:8], "sqlite", 1, "dead", errMalformed},
		{"empty", "", "sqlite", 1, "dead", errMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.s, tc.kind, tc.order, tc.state)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				require.Equal(t, Cursor{}, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c, got)
		})
	}
}

// FuzzRoundTrip: every cursor reads back as it was written, whatever its
// position holds, and any text at all decodes to a cursor that
// encodes back to itself, or is refused as malformed.
func FuzzRoundTrip(f *testing.F) {
	f.Add("memory", 0, "", "2026-03-04T05:06:07.89Z", "standard:msg_1")
	f.Add("redis", 1, "dead", "1741064767890000", "a|b|c")
	f.Fuzz(func(t *testing.T, kind string, order int, state, at, tie string) {
		c := Cursor{Kind: kind, Order: order, State: state, At: at, Tie: tie}
		s := c.String()
		got, err := Decode(s)
		// Any text: decoded or refused, never a panic; a cursor decoded
		// from it encodes to text that decodes to the same cursor, and
		// Parse gives it only for the kind and query asked.
		if d, err := Decode(tie); err == nil {
			again, err := Decode(d.String())
			require.NoError(t, err)
			require.Equal(t, d, again)
			p, err := Parse(tie, kind, order, state)
			if err == nil {
				require.Equal(t, d, p)
				require.Equal(t, []any{kind, order, state}, []any{p.Kind, p.Order, p.State})
			}
		} else {
			_, err := Parse(tie, kind, order, state)
			require.ErrorIs(t, err, errMalformed)
		}
		for _, f := range []string{kind, state, at} {
			for _, b := range []byte(f) {
				if b == '|' {
					return // no cursor has one there (see Cursor)
				}
			}
		}
		require.NoError(t, err)
		require.Equal(t, c, got)
		p, err := Parse(s, kind, order, state)
		require.NoError(t, err)
		require.Equal(t, c, p)
	})
}
