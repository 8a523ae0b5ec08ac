package webhook

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
)

// FuzzVerifyDifferential compares the verifier with the reference library,
// both with the timestamp check off, on webhook-* headers:
//
//  1. whatever ours accepts, the reference accepts;
//  2. every delivery the reference's Sign produces, ours accepts, with the
//     same id and timestamp;
//  3. that delivery with one body byte changed, ours rejects.
//
// The signature template may hold $SIG (our MAC text for the raw header
// values) and $REF (the reference's signature for the parsed timestamp), so
// the fuzzer can explore the syntax around a valid signature instead of
// guessing MACs.
func FuzzVerifyDifferential(f *testing.F) {
	f.Add([]byte("fuzz-key-0123456789abcdef"), "msg_1", "1614265330", []byte(`{"test": 2432232314}`), "v1,$SIG")
	f.Add([]byte("fuzz-key-0123456789abcdef"), "msg_1", "01614265330", []byte(`{}`), "v1,$REF")
	f.Fuzz(func(t *testing.T, key []byte, id, ts string, body []byte, tmpl string) {
		if len(key) < minSecretLen {
			key = append(key, make([]byte, minSecretLen-len(key))...)
		}
		ours, err := NewVerifierRaw([][]byte{key}, InsecureSkipTimestampCheck())
		require.NoError(t, err)
		ref, err := standardwebhooks.NewWebhookRaw(key)
		require.NoError(t, err)

		sig := strings.ReplaceAll(tmpl, "$SIG", macV1(key, id, ts, body))
		if n, err := strconv.ParseInt(ts, 10, 64); err == nil {
			refSig, err := ref.Sign(id, time.Unix(n, 0), body)
			require.NoError(t, err)
			sig = strings.ReplaceAll(sig, "$REF", strings.TrimPrefix(refSig, "v1,"))
		}
		h := stdHeader(id, ts, sig)
		gotID, gotTS, err := ours.Verify(body, h)
		if err == nil {
			require.NoError(t, ref.VerifyIgnoringTimestamp(body, h), "ours accepted what the reference rejects")
			require.Equal(t, id, gotID)
			require.Equal(t, ts, strconv.FormatInt(gotTS.Unix(), 10))
		}

		// A delivery a real sender produces: non-empty id of sane length,
		// canonical timestamp.
		if id == "" || len(id) > maxIDLen {
			return
		}
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || n < 0 || n >= 1e12 {
			n = int64(len(ts)) * 1_000_003
		}
		signed, err := ref.Sign(id, time.Unix(n, 0), body)
		require.NoError(t, err)
		canon := strconv.FormatInt(n, 10)
		h = stdHeader(id, canon, signed)
		gotID, gotTS, err = ours.Verify(body, h)
		require.NoError(t, err, "ours rejected a delivery the reference signed")
		require.Equal(t, id, gotID)
		require.Equal(t, n, gotTS.Unix())
		require.NoError(t, ref.VerifyIgnoringTimestamp(body, h))

		if len(body) > 0 {
			forged := append([]byte(nil), body...)
			forged[len(forged)/2] ^= 0x01
			_, _, err = ours.Verify(forged, h)
			require.ErrorIs(t, err, ErrNoMatchingSignature, "a changed body verified")
		}
	})
}

// TestVerifyDifferentialHeaders checks the header-family rules the fuzz
// target does not reach: svix-* alone verifies in both; a partial set is
// refused by both.
func TestVerifyDifferentialHeaders(t *testing.T) {
	ref, err := standardwebhooks.NewWebhookRaw(testKey)
	require.NoError(t, err)
	ours, err := NewVerifierRaw([][]byte{testKey}, InsecureSkipTimestampCheck())
	require.NoError(t, err)
	signed, err := ref.Sign(testID, testNow, testBody)
	require.NoError(t, err)

	_, _, err = ours.Verify(testBody, svixHeader(testID, testNowText, signed))
	require.NoError(t, err)

	partial := http.Header{"Webhook-Id": {testID}, "Webhook-Signature": {signed}}
	_, _, err = ours.Verify(testBody, partial)
	require.ErrorIs(t, err, standardwebhooks.ErrRequiredHeaders)
	require.ErrorIs(t, ref.VerifyIgnoringTimestamp(testBody, partial), standardwebhooks.ErrRequiredHeaders)
}

// FuzzParseUnix holds parseUnix to its definition: it accepts exactly the
// strings that are the canonical decimal form of a non-negative integer
// of at most 12 digits, and returns that integer.
func FuzzParseUnix(f *testing.F) {
	for _, s := range []string{"0", "7", "1767225600", "01767225600", "999999999999", "1000000000000",
		"+1767225600", "-1", " 1767225600", "17672256:0", "1767225/00", "176722560\x00", "12345678", "1234567"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseUnix(s)
		n, err := strconv.ParseInt(s, 10, 64)
		want := err == nil && n >= 0 && len(s) <= maxTimestampDigits && strconv.FormatInt(n, 10) == s
		require.Equal(t, want, ok, "parseUnix(%q) ok", s)
		if ok {
			require.Equal(t, n, got, "parseUnix(%q)", s)
		}
	})
}
