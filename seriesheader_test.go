package webhook

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSeriesHeaderName: a Series header name that no request can carry
// is refused when the verifier is built, as a token no request can carry
// is, rather than refusing every delivery after; and the error never
// shows the name, which, given as a header line ("X-Token: value", as
// curl's -H takes it), holds the token.
func TestSeriesHeaderName(t *testing.T) {
	const secretPart = "tok-4Vq9Lm2Xr7Kp3Wz8"
	refused := []struct {
		name, header, says string
	}{
		{"a header line", "X-Series-Token: " + secretPart, "':'"},
		{"a header line without the space", "X-Series-Token:" + secretPart, "':'"},
		{"Authorization with its value", "Authorization: Bearer " + secretPart, "':'"},
		{"name and value, no colon", "X-Series-Token " + secretPart, "' '"},
		{"a tab", "X-Series-Token\t" + secretPart, "0x09"},
		{"non-ASCII", "X-T\u00f8ken-" + secretPart, "0xc3"},
		{"parentheses", "X(Token)" + secretPart, "'('"},
		{"a quote", `X"Token` + secretPart, `'"'`},
		{"a slash", "X/Token" + secretPart, "'/'"},
		{"NUL", "X-Token\x00" + secretPart, "0x00"},
		{"DEL", "X-Token\x7f" + secretPart, "0x7f"},
		{"empty", "", "empty"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSeriesVerifier(tt.header, seriesToken)
			require.Error(t, err)
			require.NotContains(t, err.Error(), secretPart)
			require.Contains(t, err.Error(), tt.says)
			_, err = NewHandler(WithSeries(tt.header, seriesToken))
			require.Error(t, err)
			require.NotContains(t, err.Error(), secretPart)
		})
	}
	// Every character RFC 9110 allows in a field name is taken, and the
	// verifier reads the name as net/http keys it.
	for _, name := range []string{"X-Series-Token", "authorization", "x_token", "X.Token", "!#$%&'*+-.^_`|~0123456789abcXYZ"} {
		t.Run("taken "+name, func(t *testing.T) {
			v, err := NewSeriesVerifier(name, seriesToken)
			require.NoError(t, err)
			h := http.Header{}
			h.Set(name, seriesToken)
			require.NoError(t, v.Verify(h))
		})
	}
}
