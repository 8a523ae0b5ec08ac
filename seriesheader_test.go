package webhook

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/inhook/webhook/internal/testwait"
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

// TestSeriesHeaderNameAsNetHTTPCarries holds the rule to net/http, byte by
// byte: a name holding the byte is taken exactly when a request sent
// with it, over a real connection, reaches the handler carrying it.
func TestSeriesHeaderNameAsNetHTTPCarries(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header }))
	defer srv.Close()
	carried := func(name string) bool {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
		_, err = fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n%s: %s\r\n\r\n", name, seriesToken)
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
		h := testwait.Recv(t, got, "the callback's headers")
		return h.Get(name) == seriesToken
	}
	for c := 0; c < 256; c++ {
		name := "X-Tok" + string([]byte{byte(c)}) + "en"
		if c == '\r' || c == '\n' {
			// It ends the line: no request carries a name holding it.
			_, err := NewSeriesVerifier(name, seriesToken)
			require.Error(t, err)
			continue
		}
		_, err := NewSeriesVerifier(name, seriesToken)
		require.Equal(t, carried(name), err == nil, "byte 0x%02x: carried by net/http, taken by NewSeriesVerifier (error %v)", c, err)
	}
}
