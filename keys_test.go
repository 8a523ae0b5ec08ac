package webhook

import (
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// keySetters builds or rotates each source's keys from text, the ways a
// user can: constructors, rotation and the handler's options. Each
// returns the error the secret got.
var keySetters = []struct {
	name string
	set  func(secret string) error
}{
	{"NewVerifier", func(s string) error { _, err := NewVerifier([]string{s}); return err }},
	{"Verifier.SetSecrets", func(s string) error {
		v, err := NewVerifier([]string{testSecret})
		if err != nil {
			return err
		}
		return v.SetSecrets(testSecret, s)
	}},
	{"WithSecrets", func(s string) error { _, err := NewHandler(WithSecrets(s)); return err }},
}

var intercomSetters = []struct {
	name string
	set  func(secret string) error
}{
	{"NewIntercomVerifier", func(s string) error { _, err := NewIntercomVerifier(s); return err }},
	{"IntercomVerifier.SetSecrets", func(s string) error {
		v, err := NewIntercomVerifier(intercomKey)
		if err != nil {
			return err
		}
		return v.SetSecrets(intercomKey, s)
	}},
	{"WithIntercomSecrets", func(s string) error { _, err := NewHandler(WithIntercomSecrets(s)); return err }},
}

var seriesSetters = []struct {
	name string
	set  func(token string) error
}{
	{"NewSeriesVerifier", func(s string) error { _, err := NewSeriesVerifier(seriesHeader, s); return err }},
	{"SeriesVerifier.SetTokens", func(s string) error {
		v, err := NewSeriesVerifier(seriesHeader, seriesToken)
		if err != nil {
			return err
		}
		return v.SetTokens(seriesToken, s)
	}},
	{"WithSeries", func(s string) error { _, err := NewHandler(WithSeries(seriesHeader, s)); return err }},
}

// TestSecretWhitespaceRefused: one rule for every source. A secret or
// token with whitespace around it is refused with ErrInvalidSecret and a
// message saying where the whitespace is, never trimmed, and the message
// never holds the secret. Before this rule a Jam secret with a trailing
// newline worked and an Intercom one was accepted, then rejected every
// delivery.
func TestSecretWhitespaceRefused(t *testing.T) {
	pub := "whpk_" + base64.StdEncoding.EncodeToString(make([]byte, ed25519.PublicKeySize))
	bare := strings.TrimPrefix(testSecret, "whsec_")
	kinds := []struct {
		name    string
		secret  string
		setters []struct {
			name string
			set  func(string) error
		}
	}{
		{"whsec_ secret", testSecret, keySetters},
		{"bare base64 secret", bare, keySetters},
		{"whpk_ public key", pub, keySetters},
		{"Intercom client secret", intercomKey, intercomSetters},
		{"Series token", seriesToken, seriesSetters},
	}
	mistakes := []struct {
		name      string
		wrap      func(string) string
		wantWhere string
	}{
		{"trailing newline", func(s string) string { return s + "\n" }, "ends with a line break"},
		{"trailing CRLF", func(s string) string { return s + "\r\n" }, "ends with a line break"},
		{"trailing space", func(s string) string { return s + " " }, "ends with whitespace"},
		{"trailing spaces", func(s string) string { return s + "   " }, "ends with whitespace"},
		{"trailing tab", func(s string) string { return s + "\t" }, "ends with whitespace"},
		{"leading space", func(s string) string { return " " + s }, "starts with whitespace"},
		{"leading newline", func(s string) string { return "\n" + s }, "starts with whitespace"},
		{"both sides", func(s string) string { return "  " + s + "\n" }, "ends with a line break"},
	}
	for _, k := range kinds {
		for _, setter := range k.setters {
			require.NoError(t, setter.set(k.secret), "%s: the clean secret is accepted by %s", k.name, setter.name)
			for _, m := range mistakes {
				t.Run(k.name+"/"+m.name+"/"+setter.name, func(t *testing.T) {
					err := setter.set(m.wrap(k.secret))
					require.ErrorIs(t, err, ErrInvalidSecret)
					require.Contains(t, err.Error(), m.wantWhere)
					require.Contains(t, err.Error(), "never trimmed")
					requireNoSecret(t, err, k.secret)
				})
			}
		}
	}
}

// TestSecretWhitespaceInside: base64 holds no whitespace, and
// encoding/base64 would skip a line break inside a secret silently.
// Intercom secrets and Series tokens are text compared byte for byte, so
// only their ends are checked.
func TestSecretWhitespaceInside(t *testing.T) {
	for _, s := range []string{
		testSecret[:20] + "\n" + testSecret[20:],
		testSecret[:20] + "\r\n" + testSecret[20:],
		testSecret[:20] + " " + testSecret[20:],
	} {
		for _, setter := range keySetters {
			err := setter.set(s)
			require.ErrorIs(t, err, ErrInvalidSecret, setter.name)
			require.Contains(t, err.Error(), "contains whitespace")
			requireNoSecret(t, err, testSecret)
		}
	}
	_, err := NewSeriesVerifier(seriesHeader, "a token with spaces inside")
	require.NoError(t, err)
}

// TestSecretCrossSource: a credential of one kind given where another
// belongs is refused, saying what it looks like, without echoing it.
func TestSecretCrossSource(t *testing.T) {
	// An Intercom access token is base64 of "tok:<id>:1:0".
	accessToken := base64.StdEncoding.EncodeToString([]byte("tok:5e0c1f2a_9b3d_4c8e_a7f6_1d2e3f4a5b6c:1:0"))
	pub := "whpk_" + base64.StdEncoding.EncodeToString(make([]byte, ed25519.PublicKeySize))
	hexKey := "3f9a1c7e55b24d0ea8c691e4b7d2f013c0ffee42" // 40 hex digits
	cases := []struct {
		name    string
		secret  string
		setters []struct {
			name string
			set  func(string) error
		}
		want string
	}{
		{"Jam whsec_ as Intercom client secret", testSecret, intercomSetters, "Standard Webhooks (Jam) signing secret, whsec_"},
		{"Jam whpk_ as Intercom client secret", pub, intercomSetters, "ed25519 key"},
		{"Intercom access token as Intercom client secret", accessToken, intercomSetters, "Intercom access token"},
		{"Intercom client secret (UUID) as Jam secret", intercomKey, keySetters, "looks like a UUID"},
		{"hex key as Jam secret", hexKey, keySetters, "all hex digits"},
		{"Intercom access token as Jam secret", accessToken, keySetters, "Intercom access token"},
	}
	for _, c := range cases {
		for _, setter := range c.setters {
			t.Run(c.name+"/"+setter.name, func(t *testing.T) {
				err := setter.set(c.secret)
				require.ErrorIs(t, err, ErrInvalidSecret)
				require.Contains(t, err.Error(), c.want)
				requireNoSecret(t, err, c.secret)
			})
		}
	}

	// What stays accepted: random base64 keys, which are never all hex
	// nor UUIDs, and Intercom client secrets of any shape but those above.
	for _, s := range []string{testSecret, strings.TrimPrefix(testSecret, "whsec_"), otherSecret} {
		_, err := NewVerifier([]string{s})
		require.NoError(t, err)
	}
	for _, s := range []string{intercomKey, hexKey, "8a0Zq4Lm2Xv9Rk7Tz1Yw3Bn5"} {
		_, err := NewIntercomVerifier(s)
		require.NoError(t, err)
	}
}

// TestSecretPadding: whsec_ and whpk_ keys verify the same with or without
// their base64 padding.
func TestSecretPadding(t *testing.T) {
	for _, n := range []int{16, 24, 31, 32, 64} { // 2, 0, 1, 1 and 2 padding characters
		key := []byte(strings.Repeat("k3y-", 16)[:n])
		padded := base64.StdEncoding.EncodeToString(key)
		unpadded := base64.RawStdEncoding.EncodeToString(key)
		sig := "v1," + macV1(key, testID, testNowText, testBody)
		for _, s := range []string{"whsec_" + padded, "whsec_" + unpadded, padded, unpadded} {
			v := newTestVerifier(t, s)
			_, _, err := v.Verify(testBody, stdHeader(testID, testNowText, sig))
			require.NoError(t, err, "%d-byte key as %q", n, s)
		}
	}

	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	sig := "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(testID+"."+testNowText+"."+string(testBody))))
	for _, s := range []string{
		"whpk_" + base64.StdEncoding.EncodeToString(pub),
		"whpk_" + base64.RawStdEncoding.EncodeToString(pub),
	} {
		v := newTestVerifier(t, s)
		_, _, err := v.Verify(testBody, stdHeader(testID, testNowText, sig))
		require.NoError(t, err, s)
	}
}

// TestSecretRefusedKeepsKeys: a refused rotation leaves the keys in place.
func TestSecretRefusedKeepsKeys(t *testing.T) {
	v := newTestVerifier(t, testSecret)
	require.ErrorIs(t, v.SetSecrets(otherSecret+"\n"), ErrInvalidSecret)
	_, _, err := v.Verify(testBody, stdHeader(testID, testNowText, "v1,"+macV1(testKey, testID, testNowText, testBody)))
	require.NoError(t, err)

	iv, err := NewIntercomVerifier(intercomKey)
	require.NoError(t, err)
	require.ErrorIs(t, iv.SetSecrets(testSecret), ErrInvalidSecret)
	require.NoError(t, iv.Verify(testBody, http.Header{"X-Hub-Signature": {"sha1=" + macSHA1(intercomKey, testBody)}}))
}

// requireNoSecret asserts err's text holds neither the secret nor any
// long piece of it.
func requireNoSecret(t *testing.T, err error, secret string) {
	t.Helper()
	msg := err.Error()
	core := strings.TrimPrefix(strings.TrimPrefix(secret, "whsec_"), "whpk_")
	for i := 0; i+8 <= len(core); i++ {
		require.NotContains(t, msg, core[i:i+8], "the error holds part of the secret")
	}
}
