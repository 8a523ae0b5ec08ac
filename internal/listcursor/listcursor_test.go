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
// position holds, and any text at all parses or fails without a panic.
func FuzzRoundTrip(f *testing.F) {
	f.Add("memory", 0, "", "2026-03-04T05:06:07.89Z", "standard:msg_1")
	f.Add("redis", 1, "dead", "1741064767890000", "a|b|c")
	f.Fuzz(func(t *testing.T, kind string, order int, state, at, tie string) {
		c := Cursor{Kind: kind, Order: order, State: state, At: at, Tie: tie}
		s := c.String()
		got, err := Decode(s)
		require.NotPanics(t, func() { _, _ = Parse(tie, kind, order, state) }, "any text")
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
