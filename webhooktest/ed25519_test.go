package webhooktest_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// keyPair returns a whsk_/whpk_ pair made here from a fixed seed, so a
// test has a second pair besides the package's.
func keyPair(label string) (signing, public string) {
	seed := sha256.Sum256([]byte(label))
	priv := ed25519.NewKeyFromSeed(seed[:])
	return "whsk_" + base64.StdEncoding.EncodeToString(priv), "whpk_" + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
}

// decodeKey decodes a whsk_ or whpk_ key's base64 with crypto's own
// types, independently of the package under test.
func decodeKey(t *testing.T, key string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(key[5:])
	require.NoError(t, err)
	return b
}

// TestTestKeyPair: PublicKey is the public half of SigningKey, as
// crypto/ed25519 derives it from the seed.
func TestTestKeyPair(t *testing.T) {
	require.True(t, strings.HasPrefix(webhooktest.SigningKey, "whsk_"))
	require.True(t, strings.HasPrefix(webhooktest.PublicKey, "whpk_"))
	priv := decodeKey(t, webhooktest.SigningKey)
	require.Len(t, priv, ed25519.PrivateKeySize)
	pub := decodeKey(t, webhooktest.PublicKey)
	require.Equal(t, ed25519.PublicKey(pub), ed25519.NewKeyFromSeed(priv[:ed25519.SeedSize]).Public())
	require.Equal(t, webhooktest.SigningKey, "whsk_"+base64.StdEncoding.EncodeToString(priv), "the key's text is canonical")
	require.Equal(t, webhooktest.PublicKey, "whpk_"+base64.StdEncoding.EncodeToString(pub))
}

// TestSignStandardV1a: a whsk_ key signs v1a over id.timestamp.body,
// which crypto/ed25519 itself verifies with the whpk_ key and which a
// handler configured with that key accepts; another pair's is refused,
// and a v1 beside a v1a verifies at either kind of handler.
func TestSignStandardV1a(t *testing.T) {
	otherSigning, otherPublic := keyPair("webhooktest: another v1a pair")
	seedOnly := "whsk_" + base64.StdEncoding.EncodeToString(decodeKey(t, webhooktest.SigningKey)[:ed25519.SeedSize])
	body := webhooktest.Fixture("jam/jam.created.maximal.json")
	pk, opk := webhooktest.PublicKey, otherPublic
	extra := webhooktest.WithExtraSecrets
	tests := []struct {
		name    string
		key     string // what the request is signed with
		opts    []webhooktest.RequestOption
		handler []string // the handler's WithSecrets
		status  int
		// entries holds, for each signature entry in order, "v1" or the
		// whpk_ key its v1a signature is checked with.
		entries []string
	}{
		{"the test pair", webhooktest.SigningKey, nil, []string{pk}, http.StatusOK, []string{pk}},
		{"svix headers", webhooktest.SigningKey, []webhooktest.RequestOption{webhooktest.WithSvixHeaders()}, []string{pk}, http.StatusOK, []string{pk}},
		{"unpadded", strings.TrimRight(webhooktest.SigningKey, "="), nil, []string{pk}, http.StatusOK, []string{pk}},
		{"the 32-byte seed", seedOnly, nil, []string{pk}, http.StatusOK, []string{pk}},
		{"the public key among others", webhooktest.SigningKey, nil, []string{webhooktest.Secret, opk, pk}, http.StatusOK, []string{pk}},
		{"another pair's signing key", otherSigning, nil, []string{pk}, http.StatusUnauthorized, []string{opk}},
		{"no public key configured", webhooktest.SigningKey, nil, []string{webhooktest.Secret}, http.StatusUnauthorized, []string{pk}},
		{"v1 then v1a, at a whpk_ handler", webhooktest.Secret, []webhooktest.RequestOption{extra(webhooktest.SigningKey)}, []string{pk}, http.StatusOK, []string{"v1", pk}},
		{"v1 then v1a, at a whsec_ handler", webhooktest.Secret, []webhooktest.RequestOption{extra(webhooktest.SigningKey)}, []string{webhooktest.Secret}, http.StatusOK, []string{"v1", pk}},
		{"v1a then v1, svix", webhooktest.SigningKey, []webhooktest.RequestOption{extra(webhooktest.Secret), webhooktest.WithSvixHeaders()}, []string{webhooktest.Secret}, http.StatusOK, []string{pk, "v1"}},
		{"two pairs while keys rotate", otherSigning, []webhooktest.RequestOption{extra(webhooktest.SigningKey)}, []string{pk}, http.StatusOK, []string{opk, pk}},
		{"v1 and v1a, neither key configured", webhooktest.Secret, []webhooktest.RequestOption{extra(otherSigning)}, []string{pk}, http.StatusUnauthorized, []string{"v1", opk}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := webhooktest.NewStandardRequest(tt.key, body, tt.opts...)
			prefix := "Webhook-"
			if r.Header.Get("Svix-Id") != "" {
				prefix = "Svix-"
			}
			id, ts := r.Header.Get(prefix+"Id"), r.Header.Get(prefix+"Timestamp")
			require.Equal(t, webhooktest.MessageID(body), id)
			require.Equal(t, strconv.Itoa(webhooktest.Unix), ts)
			content := append([]byte(id+"."+ts+"."), body...)

			// crypto/ed25519 checks every v1a entry on its own: each is a
			// signature of the content by the key that made it.
			entries := strings.Fields(r.Header.Get(prefix + "Signature"))
			require.Len(t, entries, len(tt.entries))
			v1a := 0
			for i, entry := range entries {
				version, sig, ok := strings.Cut(entry, ",")
				require.True(t, ok)
				if tt.entries[i] == "v1" {
					require.Equal(t, "v1", version)
					continue
				}
				v1a++
				require.Equal(t, "v1a", version)
				raw, err := base64.StdEncoding.Strict().DecodeString(sig)
				require.NoError(t, err)
				require.Len(t, raw, ed25519.SignatureSize)
				require.True(t, ed25519.Verify(decodeKey(t, tt.entries[i]), content, raw), "entry %d", i)
			}

			h, err := webhook.NewHandler(webhook.WithSecrets(tt.handler...), webhook.WithClock(webhooktest.Time),
				webhook.WithLogger(slog.New(slog.DiscardHandler)))
			require.NoError(t, err)
			var got string
			h.OnJamCreated(func(_ context.Context, d *webhook.Delivery, e *event.JamCreated) error { got = d.ID; return nil })
			var herr *webhook.HandlerError
			h.OnError(func(_ context.Context, _ *webhook.Delivery, err *webhook.HandlerError) { herr = err })
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, tt.status, w.Code)
			if tt.status == http.StatusOK {
				require.Equal(t, id, got)
				require.Nil(t, herr)
				return
			}
			require.Empty(t, got)
			require.NotNil(t, herr)
			require.ErrorIs(t, herr, webhook.ErrNoMatchingSignature)
			require.NotNil(t, herr.Diagnosis, "a refused v1a delivery is diagnosed")
			require.Equal(t, v1a, herr.Diagnosis.V1a)
		})
	}
}

// TestSignStandardBadSigningKey: SignStandard takes a whsk_ key in exactly
// the forms its doc names and refuses any other with an error that holds
// none of the key; the builders panic with the same words.
func TestSignStandardBadSigningKey(t *testing.T) {
	priv := decodeKey(t, webhooktest.SigningKey)
	enc := func(b []byte) string { return "whsk_" + base64.StdEncoding.EncodeToString(b) }
	mismatched := append(append([]byte(nil), priv[:32]...), decodeKey(t, webhooktest.PublicKey)...)
	mismatched[40] ^= 1
	// The 64-byte key's text ends in "==": its last character carries
	// four bits that must be zero.
	loose := webhooktest.SigningKey[:len(webhooktest.SigningKey)-3] + "x=="
	const notKey = "webhooktest: whsk_ key is not base64 of a 32-byte ed25519 seed or a 64-byte private key (seed and public key)"
	// A key read from a file keeps its newline: said as such, for a
	// whsk_ key as for a whsec_ secret.
	const spaced = "webhooktest: secret contains whitespace, which base64 never does; remove it"
	tests := []struct{ name, key, want string }{
		{"empty", "whsk_", notKey},
		{"not base64", "whsk_not*base64", notKey},
		{"url alphabet", strings.NewReplacer("+", "-", "/", "_").Replace(webhooktest.SigningKey), notKey},
		{"31 bytes", enc(priv[:31]), notKey},
		{"33 bytes", enc(priv[:33]), notKey},
		{"48 bytes", enc(priv[:48]), notKey},
		{"65 bytes", enc(append(append([]byte(nil), priv...), 0)), notKey},
		{"loose final bits", loose, notKey},
		{"a line break kept", webhooktest.SigningKey + "\n", spaced},
		{"a line break inside", webhooktest.SigningKey[:40] + "\n" + webhooktest.SigningKey[40:], spaced},
		{"a leading space", " " + webhooktest.SigningKey, spaced},
		{"a public half that is not the seed's", enc(mismatched), "webhooktest: whsk_ key's last 32 bytes are not the public key of its first 32"},
		{"a public key", webhooktest.PublicKey, "webhooktest: a whpk_ public key cannot sign; sign with its whsk_ signing key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := webhooktest.SignStandard(tt.key, "msg_1", webhooktest.Time(), []byte(`{}`))
			require.EqualError(t, err, tt.want)
			if len(tt.key) > 12 {
				require.NotContains(t, err.Error(), strings.TrimSpace(tt.key)[5:12], "no key material in the error")
			}
			require.PanicsWithValue(t, "webhooktest: NewStandardRequest: "+strings.TrimPrefix(tt.want, "webhooktest: "), func() {
				webhooktest.NewStandardRequest(webhooktest.Secret, []byte(`{}`), webhooktest.WithExtraSecrets(tt.key))
			})
		})
	}
}
