package webhooktest_test

import (
	"bytes"
	"cmp"
	"io"
	"net/http"
	"regexp"
	"testing"
	"testing/fstest"

	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// captureErrorText is every error ReadCapture gives for a headers file:
// the file and line named, and of the line's text only a "# received:"
// time that does not parse.
var captureErrorText = regexp.MustCompile(`^webhooktest: jam/x\.headers(: line [0-9]+ is not "Name: value"| line [0-9]+: (no method after "# captured by webhook serve --inspect:"|the request target is not a path|parsing time .*))$`)

// FuzzReadCapture holds ReadCapture to what a test committing a capture
// relies on, whatever the headers file holds (a capture is edited by hand,
// or comes from another's machine): it never panics, nor do Request and
// Resigned on what it returns; what it returns is the body byte for byte,
// the headers ParseHeaders reads from the same file, a method that is a
// token and a target that is a path on this host; Request sends exactly
// those, and Resigned changes nothing but the signature headers. An error
// names the headers file and holds no header value of it, which may be a
// signature.
func FuzzReadCapture(f *testing.F) {
	const sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	for _, s := range []string{
		"# captured by webhook serve --inspect: POST /hook, answered 200\n# received: 2026-12-01T09:30:02Z\n" +
			"Content-Type: application/json\nWebhook-Id: msg_1\nWebhook-Timestamp: 1796117400\nWebhook-Signature: " + sig + "\n",
		"# captured by webhook serve --inspect: PUT /hooks/a%20b,c?…, answered 200\r\nX-Hub-Signature: sha1=00\r\n",
		"# captured by webhook serve --inspect: CONNECT /x\nSvix-Timestamp: 01\nSvix-Id: a\n",
		"# captured by webhook serve --inspect: GET //evil.example/\n",
		"# received: yesterday\n",
		"Webhook-Signature " + sig + "\n",
		"",
	} {
		f.Add([]byte(s), []byte(`{"jamId":"j","teamId":"t"}`))
	}
	f.Fuzz(func(t *testing.T, headers, body []byte) {
		fsys := fstest.MapFS{
			"jam/x.json":    {Data: body},
			"jam/x.headers": {Data: headers},
		}
		c, err := webhooktest.ReadCapture(fsys, "jam/x.json")
		if err != nil {
			require.Nil(t, c)
			require.Regexp(t, captureErrorText, err.Error())
			return
		}
		want, err := webhooktest.ParseHeaders(headers)
		require.NoError(t, err, "ReadCapture took headers ParseHeaders refuses")
		require.Equal(t, want, c.Header)
		require.Equal(t, body, c.Body)

		var r *http.Request
		require.NotPanics(t, func() { r = c.Request() }, "Request of %q", headers)
		require.Equal(t, cmp.Or(c.Method, http.MethodPost), r.Method)
		require.Equal(t, cmp.Or(c.Target, webhooktest.DefaultTarget), r.URL.RequestURI(), "the path it came to")
		require.Equal(t, "example.com", r.Host, "no host of the capture's")
		got, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		require.Equal(t, body, got)
		require.Equal(t, c.Header, r.Header)

		require.NotPanics(t, func() { r = c.Resigned() }, "Resigned of %q", headers)
		got, err = io.ReadAll(r.Body)
		require.NoError(t, err)
		require.True(t, bytes.Equal(body, got))
		signature := map[string]bool{"Webhook-Signature": true, "Svix-Signature": true, "X-Hub-Signature": true}
		require.Len(t, r.Header, len(c.Header), "no header added")
		for k, vs := range c.Header {
			if !signature[k] {
				require.Equal(t, vs, r.Header[k], k)
			}
		}
	})
}
