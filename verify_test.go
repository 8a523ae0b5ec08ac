package webhook

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/testwait"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
)

// Test keys and clock. The clock is fixed so signed fixtures stay fresh.
var (
	testKey      = []byte("test-key-for-inhook-webhook-0001") // 32 bytes
	otherKey     = []byte("another-key-for-inhook-webhook-2") // 32 bytes
	testSecret   = "whsec_" + base64.StdEncoding.EncodeToString(testKey)
	otherSecret  = "whsec_" + base64.StdEncoding.EncodeToString(otherKey)
	testNow      = time.Unix(1795525200, 0)
	testNowText  = strconv.FormatInt(testNow.Unix(), 10)
	testID       = "msg_2pQx7RkV9mTzL4wN8cHbJ1sYfA"
	testBody     = []byte(`{"jamId":"7f3e2a1c-5b9d-4e8f-a6c2-1d0b9e8f7a65","teamId":"team_h4k9","type":"video"}`)
	intercomKey  = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
	seriesToken  = "series-token-7Yq2Lm9Xv4Rk8Tz"
	seriesHeader = "X-Series-Token"
)

// macV1 computes a v1 signature value with crypto/hmac directly, not with
// the code under test.
func macV1(key []byte, id, ts string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func macSHA1(key string, body []byte) string {
	m := hmac.New(sha1.New, []byte(key))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func stdHeader(id, ts, sig string) http.Header {
	return http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {sig}}
}

func svixHeader(id, ts, sig string) http.Header {
	return http.Header{"Svix-Id": {id}, "Svix-Timestamp": {ts}, "Svix-Signature": {sig}}
}

func newTestVerifier(t testing.TB, secrets ...string) *Verifier {
	t.Helper()
	v, err := NewVerifier(secrets, WithClock(func() time.Time { return testNow }))
	require.NoError(t, err)
	return v
}

type vectors struct {
	Standard []struct {
		Name, Secret, ID, Timestamp, Body, Signature string
	}
	Intercom []struct {
		Name          string
		ClientSecret  string `json:"client_secret"`
		Body          string
		XHubSignature string `json:"x_hub_signature"`
	}
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/signatures/vectors.json")
	require.NoError(t, err)
	var v vectors
	require.NoError(t, json.Unmarshal(b, &v))
	require.NotEmpty(t, v.Standard)
	require.NotEmpty(t, v.Intercom)
	return v
}

func TestVerifyKnownAnswer(t *testing.T) {
	for _, vec := range loadVectors(t).Standard {
		sec, err := strconv.ParseInt(vec.Timestamp, 10, 64)
		require.NoError(t, err)
		clock := WithClock(func() time.Time { return time.Unix(sec, 0) })
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(vec.Secret, "whsec_"))
		require.NoError(t, err)

		// The vector is what the reference library's Sign produces, too.
		ref, err := standardwebhooks.NewWebhook(vec.Secret)
		require.NoError(t, err)
		refSig, err := ref.Sign(vec.ID, time.Unix(sec, 0), []byte(vec.Body))
		require.NoError(t, err)
		require.Equal(t, vec.Signature, refSig, vec.Name)

		prefixed, err := NewVerifier([]string{vec.Secret}, clock)
		require.NoError(t, err)
		bare, err := NewVerifier([]string{strings.TrimPrefix(vec.Secret, "whsec_")}, clock)
		require.NoError(t, err)
		rawV, err := NewVerifierRaw([][]byte{raw}, clock)
		require.NoError(t, err)
		for _, v := range []*Verifier{prefixed, bare, rawV} {
			for _, h := range []http.Header{
				stdHeader(vec.ID, vec.Timestamp, vec.Signature),
				svixHeader(vec.ID, vec.Timestamp, vec.Signature),
			} {
				id, ts, err := v.Verify([]byte(vec.Body), h)
				require.NoError(t, err, vec.Name)
				require.Equal(t, vec.ID, id)
				require.Equal(t, sec, ts.Unix())
			}
		}
	}
}

func TestVerifyAccepts(t *testing.T) {
	good := "v1," + macV1(testKey, testID, testNowText, testBody)
	wrong := "v1," + macV1(otherKey, testID, testNowText, testBody)
	tenth := strings.Repeat(wrong+" ", 9) + good
	both := stdHeader(testID, testNowText, good)
	for k, v := range svixHeader(testID, testNowText, good) {
		both[k] = v
	}
	cases := []struct {
		name    string
		secrets []string
		h       http.Header
	}{
		{"webhook-* set", []string{testSecret}, stdHeader(testID, testNowText, good)},
		{"svix-* set", []string{testSecret}, svixHeader(testID, testNowText, good)},
		{"both sets, identical", []string{testSecret}, both},
		{"wrong then right (sender rotation)", []string{testSecret}, stdHeader(testID, testNowText, wrong+" "+good)},
		{"right then wrong", []string{testSecret}, stdHeader(testID, testNowText, good+" "+wrong)},
		{"right one tenth of ten", []string{testSecret}, stdHeader(testID, testNowText, tenth)},
		{"right one first of ten", []string{testSecret}, stdHeader(testID, testNowText, good+strings.Repeat(" "+wrong, 9))},
		{"right one first, nine empty fields", []string{testSecret}, stdHeader(testID, testNowText, good+strings.Repeat(" ", 9))},
		{"unknown versions skipped", []string{testSecret}, stdHeader(testID, testNowText, "v2,abc v1a,xyz "+good)},
		{"doubled space", []string{testSecret}, stdHeader(testID, testNowText, wrong+"  "+good)},
		{"receiver rotation: second key", []string{otherSecret, testSecret}, stdHeader(testID, testNowText, good)},
		{"receiver rotation: first key", []string{testSecret, otherSecret}, stdHeader(testID, testNowText, good)},
		{"edge of window, past", []string{testSecret}, stdHeader(testID, "1795524900", "v1,"+macV1(testKey, testID, "1795524900", testBody))},
		{"edge of window, future", []string{testSecret}, stdHeader(testID, "1795525500", "v1,"+macV1(testKey, testID, "1795525500", testBody))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, ts, err := newTestVerifier(t, c.secrets...).Verify(testBody, c.h)
			require.NoError(t, err)
			require.Equal(t, testID, id)
			require.False(t, ts.IsZero())
		})
	}
}

// TestVerifyV1a signs with an ed25519 key made from a fixed seed.
func TestVerifyV1a(t *testing.T) {
	seed := sha256.Sum256([]byte("inhook webhook v1a test seed"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := "whpk_" + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
	content := []byte(testID + "." + testNowText + "." + string(testBody))
	good := "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(priv, content))
	// ed25519 is deterministic: the same seed and message give the same signature.
	require.Equal(t, good, "v1a,"+base64.StdEncoding.EncodeToString(ed25519.Sign(ed25519.NewKeyFromSeed(seed[:]), content)))
	otherSeed := sha256.Sum256([]byte("another seed"))
	forged := "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(ed25519.NewKeyFromSeed(otherSeed[:]), content))
	wrongV1 := "v1," + macV1(otherKey, testID, testNowText, testBody)

	cases := []struct {
		name    string
		secrets []string
		sig     string
		body    []byte
		want    error
	}{
		{"v1a with public key", []string{pub}, good, testBody, nil},
		{"v1 wrong, v1a right", []string{testSecret, pub}, wrongV1 + " " + good, testBody, nil},
		{"v1a right, HMAC key also configured", []string{testSecret, pub}, good, testBody, nil},
		{"v1a by another key", []string{pub}, forged, testBody, ErrNoMatchingSignature},
		{"v1a over another body", []string{pub}, good, []byte(`{}`), ErrNoMatchingSignature},
		{"v1a without a public key configured", []string{testSecret}, good, testBody, ErrNoMatchingSignature},
		{"v1a truncated", []string{pub}, good[:len(good)-4], testBody, ErrInvalidHeaders},
		{"v1 entry only, public key only", []string{pub}, "v1," + macV1(testKey, testID, testNowText, testBody), testBody, ErrNoMatchingSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := newTestVerifier(t, c.secrets...).Verify(c.body, stdHeader(testID, testNowText, c.sig))
			if c.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, c.want)
		})
	}
}

// TestVerifyV1aBounded counts the ed25519 checks a signature list costs:
// only the first k+1 well-formed v1a entries are tried for k public keys,
// however many the list holds, and the message copy they need is charged
// to the budget given.
func TestVerifyV1aBounded(t *testing.T) {
	key := func(s string) ed25519.PrivateKey {
		seed := sha256.Sum256([]byte(s))
		return ed25519.NewKeyFromSeed(seed[:])
	}
	k1, k2, stranger := key("v1a bound key 1"), key("v1a bound key 2"), key("v1a bound stranger")
	pub := func(k ed25519.PrivateKey) string {
		return "whpk_" + base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey))
	}
	content := []byte(testID + "." + testNowText + "." + string(testBody))
	sign := func(k ed25519.PrivateKey) string {
		return "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(k, content))
	}
	bogus := strings.TrimSpace(strings.Repeat(sign(stranger)+" ", 10))
	v1 := "v1," + macV1(otherKey, testID, testNowText, testBody)

	cases := []struct {
		name    string
		secrets []string
		sigs    string
		want    error // nil: verified
		checks  int   // ed25519 checks made
	}{
		{"ten bogus entries, one key", []string{pub(k1)}, bogus, ErrNoMatchingSignature, 2},
		{"ten bogus entries, two keys", []string{pub(k1), pub(k2)}, bogus, ErrNoMatchingSignature, 6},
		{"ten bogus entries, HMAC key too", []string{testSecret, pub(k1)}, bogus, ErrNoMatchingSignature, 2},
		{"v1 entries are not counted", []string{pub(k1)}, v1 + " " + v1 + " " + sign(stranger) + " " + sign(k1), nil, 2},
		{"rotation: the sender's other key first", []string{pub(k1)}, sign(stranger) + " " + sign(k1), nil, 2},
		{"two keys, right entry third", []string{pub(k1), pub(k2)}, sign(stranger) + " " + sign(stranger) + " " + sign(k2), nil, 6},
		{"one key, right entry third: not tried", []string{pub(k1)}, sign(stranger) + " " + sign(stranger) + " " + sign(k1), ErrNoMatchingSignature, 2},
		{"eleven entries", []string{pub(k1)}, bogus + " " + sign(k1), ErrInvalidHeaders, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newTestVerifier(t, c.secrets...)
			checks := 0
			v.keys.Load().edHook = func(pub ed25519.PublicKey, msg, sig []byte) bool {
				checks++
				return ed25519.Verify(pub, msg, sig)
			}
			_, _, err := v.Verify(testBody, stdHeader(testID, testNowText, c.sigs))
			if c.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, c.want)
			}
			require.Equal(t, c.checks, checks)
		})
	}

	// The copy is charged to the budget, and refused when it does not fit.
	v := newTestVerifier(t, testSecret, pub(k1))
	size := int64(len(content))
	for _, c := range []struct {
		name  string
		sigs  string
		limit int64
		held  int64
		want  error
	}{
		{"v1a copy fits", sign(k1), size, size, nil},
		{"v1a copy does not fit", sign(k1), size - 1, 0, errMemBudget},
		{"v1 needs no copy", "v1," + macV1(testKey, testID, testNowText, testBody), 0, 0, nil},
	} {
		b := &memBudget{limit: c.limit}
		_, _, held, err := v.verify(v.keys.Load(), testBody, stdHeader(testID, testNowText, c.sigs), b.wait)
		require.ErrorIs(t, err, c.want, c.name)
		require.Equal(t, c.held, held, c.name)
		require.Equal(t, c.held, b.held.Load(), c.name)
	}
}

func TestIntercomKnownAnswer(t *testing.T) {
	for _, vec := range loadVectors(t).Intercom {
		t.Run(vec.Name, func(t *testing.T) {
			body := []byte(vec.Body)
			// Independent check: the vector was made with openssl.
			require.Equal(t, vec.XHubSignature, "sha1="+macSHA1(vec.ClientSecret, body))
			v, err := NewIntercomVerifier("some-other-client-secret-0000", vec.ClientSecret)
			require.NoError(t, err)
			require.NoError(t, v.Verify(body, http.Header{"X-Hub-Signature": {vec.XHubSignature}}))
			// Hex is decoded, not compared as text.
			upper := "sha1=" + strings.ToUpper(strings.TrimPrefix(vec.XHubSignature, "sha1="))
			require.NoError(t, v.Verify(body, http.Header{"X-Hub-Signature": {upper}}))
			// The exact bytes matter: re-indenting or appending breaks it.
			require.ErrorIs(t, v.Verify(append(body, '\n'), http.Header{"X-Hub-Signature": {vec.XHubSignature}}), ErrNoMatchingSignature)
		})
	}
}

func TestSeriesVerify(t *testing.T) {
	v, err := NewSeriesVerifier("x-series-token", "an-older-token-still-valid", seriesToken)
	require.NoError(t, err)
	require.Equal(t, seriesHeader, v.Header())
	require.NoError(t, v.Verify(http.Header{seriesHeader: {seriesToken}}))
	require.NoError(t, v.Verify(http.Header{seriesHeader: {"an-older-token-still-valid"}}))
}

// badCase is one rejected request. want is a sentinel; for Standard
// Webhooks cases the reference library's sentinel of the same name must
// match too.
type badCase struct {
	name string
	src  event.Source
	h    http.Header
	body []byte
	want error
}

func badCases() []badCase {
	good := "v1," + macV1(testKey, testID, testNowText, testBody)
	wrong := "v1," + macV1(otherKey, testID, testNowText, testBody)
	signedAt := func(ts string) http.Header {
		return stdHeader(testID, ts, "v1,"+macV1(testKey, testID, ts, testBody))
	}
	with := func(h http.Header, k string, v ...string) http.Header {
		h[k] = v
		return h
	}
	without := func(h http.Header, k string) http.Header {
		delete(h, k)
		return h
	}
	std := func() http.Header { return stdHeader(testID, testNowText, good) }
	sig := func(s string) http.Header { return stdHeader(testID, testNowText, s) }
	// good's last character with other low bits: decodes to the same
	// MAC under lenient base64, but is not its canonical encoding.
	last := good[len(good)-2]
	nonCanonical := good[:len(good)-2] + string(base64Alphabet[strings.IndexByte(base64Alphabet, last)^1]) + "="
	hub := func(v string) http.Header { return http.Header{"X-Hub-Signature": {v}} }
	hubGood := macSHA1(intercomKey, testBody)
	series := func(v ...string) http.Header { return http.Header{seriesHeader: v} }

	S, I, R := event.SourceStandard, event.SourceIntercom, event.SourceSeries
	return []badCase{
		// Missing, empty, partial and mixed header sets.
		{"no headers", S, http.Header{}, testBody, ErrRequiredHeaders},
		{"id only", S, http.Header{"Webhook-Id": {testID}}, testBody, ErrRequiredHeaders},
		{"no signature", S, without(std(), "Webhook-Signature"), testBody, ErrRequiredHeaders},
		{"no id", S, without(std(), "Webhook-Id"), testBody, ErrRequiredHeaders},
		{"no timestamp", S, without(std(), "Webhook-Timestamp"), testBody, ErrRequiredHeaders},
		{"empty id", S, with(std(), "Webhook-Id", ""), testBody, ErrRequiredHeaders},
		{"empty timestamp", S, with(std(), "Webhook-Timestamp", ""), testBody, ErrRequiredHeaders},
		{"empty signature", S, with(std(), "Webhook-Signature", ""), testBody, ErrRequiredHeaders},
		{"partial svix set", S, without(svixHeader(testID, testNowText, good), "Svix-Timestamp"), testBody, ErrRequiredHeaders},
		{"mixed: webhook id, svix rest", S, with(without(svixHeader(testID, testNowText, good), "Svix-Id"), "Webhook-Id", testID), testBody, ErrRequiredHeaders},
		{"mixed: svix id and timestamp, webhook signature", S, with(without(svixHeader(testID, testNowText, good), "Svix-Signature"), "Webhook-Signature", good), testBody, ErrRequiredHeaders},
		{"both sets, webhook-* wrong: no fallback to svix-*", S, with(with(with(sig(wrong), "Svix-Id", testID), "Svix-Timestamp", testNowText), "Svix-Signature", good), testBody, ErrNoMatchingSignature},
		{"non-canonical header keys", S, http.Header{"webhook-id": {testID}, "webhook-timestamp": {testNowText}, "webhook-signature": {good}}, testBody, ErrRequiredHeaders},
		{"repeated signature header", S, with(std(), "Webhook-Signature", wrong, good), testBody, ErrInvalidHeaders},
		{"repeated id header", S, with(std(), "Webhook-Id", testID, "msg_other"), testBody, ErrInvalidHeaders},
		{"id over 256 bytes", S, stdHeader(strings.Repeat("m", 257), testNowText, good), testBody, ErrInvalidHeaders},

		// Timestamps.
		{"timestamp with plus sign", S, signedAt("+" + testNowText), testBody, ErrInvalidHeaders},
		{"negative timestamp", S, signedAt("-" + testNowText), testBody, ErrInvalidHeaders},
		{"leading space", S, signedAt(" " + testNowText), testBody, ErrInvalidHeaders},
		{"trailing space", S, signedAt(testNowText + " "), testBody, ErrInvalidHeaders},
		{"leading zero", S, signedAt("0" + testNowText), testBody, ErrInvalidHeaders},
		{"overflows int64", S, signedAt("99999999999999999999"), testBody, ErrInvalidHeaders},
		{"thirteen digits", S, signedAt("1795525200000"), testBody, ErrInvalidHeaders},
		{"fraction", S, signedAt(testNowText + ".5"), testBody, ErrInvalidHeaders},
		{"exponent", S, signedAt("1.7955252e9"), testBody, ErrInvalidHeaders},
		{"hex", S, signedAt("0x6b05f6d0"), testBody, ErrInvalidHeaders},
		{"RFC 3339", S, signedAt("2026-11-24T09:00:00Z"), testBody, ErrInvalidHeaders},
		{"zero", S, signedAt("0"), testBody, ErrMessageTooOld},
		{"far past", S, signedAt("1000000000"), testBody, ErrMessageTooOld},
		{"far future", S, signedAt("4102444800"), testBody, ErrMessageTooNew},
		{"one second too old", S, signedAt("1795524899"), testBody, ErrMessageTooOld},
		{"one second too new", S, signedAt("1795525501"), testBody, ErrMessageTooNew},

		// Signature lists.
		{"v1, with nothing after", S, sig("v1,"), testBody, ErrInvalidHeaders},
		{"v1 without comma", S, sig("v1"), testBody, ErrInvalidHeaders},
		{"empty version", S, sig("," + good[3:]), testBody, ErrInvalidHeaders},
		{"only spaces", S, sig("   "), testBody, ErrInvalidHeaders},
		{"not base64", S, sig("v1,this-is-not-base64-at-all-no-no-no-no-no!!"), testBody, ErrInvalidHeaders},
		{"truncated base64", S, sig(good[:len(good)-1]), testBody, ErrInvalidHeaders},
		{"unpadded base64", S, sig(strings.TrimRight(good, "=")), testBody, ErrInvalidHeaders},
		{"non-canonical base64 of the right MAC", S, sig(nonCanonical), testBody, ErrInvalidHeaders},
		{"URL-safe alphabet", S, sig("v1," + strings.NewReplacer("+", "-", "/", "_").Replace(macV1(testKey, testID, testNowText, []byte("url-safe-7")))), testBody, ErrInvalidHeaders},
		{"oversized base64", S, sig("v1," + base64.StdEncoding.EncodeToString(make([]byte, 64))), testBody, ErrInvalidHeaders},
		{"newline inside base64", S, sig(good[:20] + "\n" + good[20:]), testBody, ErrInvalidHeaders},
		{"NUL inside base64", S, sig(good[:20] + "\x00" + good[21:]), testBody, ErrInvalidHeaders},
		{"tab as separator", S, sig(wrong + "\t" + good), testBody, ErrInvalidHeaders},
		{"unknown versions only", S, sig("v2,abcd v0," + good[3:]), testBody, ErrNoMatchingSignature},
		{"upper-case version", S, sig("V1," + good[3:]), testBody, ErrNoMatchingSignature},
		{"v1a only, no public key", S, sig("v1a," + base64.StdEncoding.EncodeToString(make([]byte, 64))), testBody, ErrNoMatchingSignature},
		{"wrong key", S, sig(wrong), testBody, ErrNoMatchingSignature},
		{"other body", S, std(), []byte(`{"jamId":"forged"}`), ErrNoMatchingSignature},
		{"empty body", S, std(), nil, ErrNoMatchingSignature},
		{"other id", S, stdHeader("msg_other", testNowText, good), testBody, ErrNoMatchingSignature},
		{"signature of another timestamp", S, stdHeader(testID, "1795525201", good), testBody, ErrNoMatchingSignature},
		{"eleven signatures", S, sig(strings.Repeat(wrong+" ", 10) + good), testBody, ErrInvalidHeaders},
		{"eleven signatures, right one first", S, sig(good + strings.Repeat(" "+wrong, 10)), testBody, ErrInvalidHeaders},
		{"right one, then ten empty fields", S, sig(good + strings.Repeat(" ", 10)), testBody, ErrInvalidHeaders},
		{"10,000 signatures", S, sig(strings.Repeat(wrong+" ", 9999) + good), testBody, ErrInvalidHeaders},
		{"10,000 spaces", S, sig(strings.Repeat(" ", 10000) + good), testBody, ErrInvalidHeaders},

		// Intercom.
		{"intercom: no header", I, http.Header{}, testBody, ErrRequiredHeaders},
		{"intercom: empty header", I, hub(""), testBody, ErrRequiredHeaders},
		{"intercom: no sha1= prefix", I, hub(hubGood), testBody, ErrInvalidHeaders},
		{"intercom: sha1 without =", I, hub("sha1" + hubGood), testBody, ErrInvalidHeaders},
		{"intercom: upper-case prefix", I, hub("SHA1=" + hubGood), testBody, ErrInvalidHeaders},
		{"intercom: sha256 prefix", I, hub("sha256=" + hubGood + hubGood[:24]), testBody, ErrInvalidHeaders},
		{"intercom: 39 hex digits", I, hub("sha1=" + hubGood[:39]), testBody, ErrInvalidHeaders},
		{"intercom: 41 hex digits", I, hub("sha1=" + hubGood + "0"), testBody, ErrInvalidHeaders},
		{"intercom: not hex", I, hub("sha1=" + strings.Repeat("g", 40)), testBody, ErrInvalidHeaders},
		{"intercom: repeated header", I, http.Header{"X-Hub-Signature": {"sha1=" + hubGood, "sha1=" + hubGood}}, testBody, ErrInvalidHeaders},
		{"intercom: wrong MAC", I, hub("sha1=" + macSHA1("another-client-secret-99", testBody)), testBody, ErrNoMatchingSignature},
		{"intercom: other body", I, hub("sha1=" + hubGood), []byte(`{"topic":"ping"}`), ErrNoMatchingSignature},
		{"intercom: empty body", I, hub("sha1=" + hubGood), nil, ErrNoMatchingSignature},

		// Series.
		{"series: no header", R, http.Header{}, testBody, ErrRequiredHeaders},
		{"series: empty header", R, series(""), testBody, ErrRequiredHeaders},
		{"series: wrong token", R, series("series-token-0000000000000"), testBody, ErrNoMatchingSignature},
		{"series: prefix of token", R, series(seriesToken[:len(seriesToken)-1]), testBody, ErrNoMatchingSignature},
		{"series: token plus suffix", R, series(seriesToken + "x"), testBody, ErrNoMatchingSignature},
		{"series: repeated header", R, series(seriesToken, seriesToken), testBody, ErrInvalidHeaders},
		{"series: oversized", R, series(strings.Repeat("t", maxTokenLen+1)), testBody, ErrInvalidHeaders},
	}
}

// referenceSentinel returns the reference library's sentinel for ours.
func referenceSentinel(err error) error {
	switch err {
	case ErrRequiredHeaders:
		return standardwebhooks.ErrRequiredHeaders
	case ErrInvalidHeaders:
		return standardwebhooks.ErrInvalidHeaders
	case ErrNoMatchingSignature:
		return standardwebhooks.ErrNoMatchingSignature
	case ErrMessageTooOld:
		return standardwebhooks.ErrMessageTooOld
	case ErrMessageTooNew:
		return standardwebhooks.ErrMessageTooNew
	}
	return nil
}

func TestVerifyRejects(t *testing.T) {
	cases := badCases()
	require.GreaterOrEqual(t, len(cases), 40)
	std := newTestVerifier(t, testSecret)
	intercom, err := NewIntercomVerifier(intercomKey)
	require.NoError(t, err)
	series, err := NewSeriesVerifier(seriesHeader, seriesToken)
	require.NoError(t, err)
	// Nothing secret may appear in an error: not the keys, not the MAC we
	// computed, not any signature received.
	secrets := []string{testSecret, string(testKey), base64.StdEncoding.EncodeToString(testKey),
		macV1(testKey, testID, testNowText, testBody), intercomKey, macSHA1(intercomKey, testBody), seriesToken}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			switch c.src {
			case event.SourceStandard:
				_, _, err = std.Verify(c.body, c.h)
			case event.SourceIntercom:
				err = intercom.Verify(c.body, c.h)
			case event.SourceSeries:
				err = series.Verify(c.h)
			}
			require.ErrorIs(t, err, c.want)
			require.ErrorIs(t, err, referenceSentinel(c.want), "the reference library's sentinel must match too")
			var ve *VerifyError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, c.src, ve.Source)

			msg := err.Error()
			for _, s := range secrets {
				require.NotContains(t, msg, s)
			}
			for _, vs := range c.h {
				for _, v := range vs {
					for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == '=' }) {
						if len(part) >= 16 {
							require.NotContains(t, msg, part, "received signature leaked")
						}
					}
				}
			}
		})
	}
}

func TestVerifyWindow(t *testing.T) {
	signed := func(ts int64) http.Header {
		s := strconv.FormatInt(ts, 10)
		return stdHeader(testID, s, "v1,"+macV1(testKey, testID, s, testBody))
	}
	at := func(d time.Duration) VerifyOption { return WithClock(func() time.Time { return testNow.Add(d) }) }
	cases := []struct {
		name string
		opts []VerifyOption
		ts   int64
		want error
	}{
		{"exactly 5 minutes old", []VerifyOption{at(0)}, testNow.Unix() - 300, nil},
		{"5 minutes and 1ns old", []VerifyOption{at(time.Nanosecond)}, testNow.Unix() - 300, ErrMessageTooOld},
		{"exactly 5 minutes ahead", []VerifyOption{at(0)}, testNow.Unix() + 300, nil},
		{"5 minutes and 1ns ahead", []VerifyOption{at(-time.Nanosecond)}, testNow.Unix() + 300, ErrMessageTooNew},
		{"wider window", []VerifyOption{at(0), WithTolerance(time.Hour)}, testNow.Unix() - 3000, nil},
		{"narrower window", []VerifyOption{at(0), WithTolerance(10 * time.Second)}, testNow.Unix() - 11, ErrMessageTooOld},
		{"sub-second window", []VerifyOption{at(500 * time.Millisecond), WithTolerance(400 * time.Millisecond)}, testNow.Unix(), ErrMessageTooOld},
		{"check off, ancient", []VerifyOption{at(0), InsecureSkipTimestampCheck()}, 1000000000, nil},
		{"check off, far future", []VerifyOption{at(0), InsecureSkipTimestampCheck()}, 99999999999, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := NewVerifier([]string{testSecret}, c.opts...)
			require.NoError(t, err)
			_, ts, err := v.Verify(testBody, signed(c.ts))
			if c.want != nil {
				require.ErrorIs(t, err, c.want)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.ts, ts.Unix())
		})
	}
}

func TestVerifyDefaultClock(t *testing.T) {
	v, err := NewVerifier([]string{testSecret})
	require.NoError(t, err)
	now := strconv.FormatInt(time.Now().Unix(), 10)
	_, _, err = v.Verify(testBody, stdHeader(testID, now, "v1,"+macV1(testKey, testID, now, testBody)))
	require.NoError(t, err)
	_, _, err = v.Verify(testBody, stdHeader(testID, testNowText, "v1,"+macV1(testKey, testID, testNowText, testBody)))
	require.Error(t, err, "a fixture from another day fails against the real clock")
}

func TestConstructorErrors(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	short := b64([]byte("fifteen-bytes!!"))
	cases := []struct {
		name string
		make func() error
		want error
	}{
		{"no secrets", func() error { _, err := NewVerifier(nil); return err }, ErrEmptySecret},
		{"empty secret", func() error { _, err := NewVerifier([]string{""}); return err }, ErrEmptySecret},
		{"prefix only", func() error { _, err := NewVerifier([]string{"whsec_"}); return err }, ErrEmptySecret},
		{"one good, one empty", func() error { _, err := NewVerifier([]string{testSecret, ""}); return err }, ErrEmptySecret},
		{"not base64", func() error { _, err := NewVerifier([]string{"whsec_not*base64*at*all"}); return err }, ErrInvalidSecret},
		{"URL-safe base64", func() error {
			_, err := NewVerifier([]string{"whsec_" + base64.URLEncoding.EncodeToString([]byte("key-with-~~~-and->>>-inside"))})
			return err
		}, ErrInvalidSecret},
		{"15-byte key", func() error { _, err := NewVerifier([]string{"whsec_" + short}); return err }, ErrInvalidSecret},
		{"bare 15-byte key", func() error { _, err := NewVerifier([]string{short}); return err }, ErrInvalidSecret},
		{"whpk_ of 31 bytes", func() error { _, err := NewVerifier([]string{"whpk_" + b64(make([]byte, 31))}); return err }, ErrInvalidSecret},
		{"whpk_ not base64", func() error { _, err := NewVerifier([]string{"whpk_%%%"}); return err }, ErrInvalidSecret},
		{"whsk_ signing key", func() error { _, err := NewVerifier([]string{"whsk_" + b64(make([]byte, 64))}); return err }, ErrInvalidSecret},
		{"raw: none", func() error { _, err := NewVerifierRaw(nil); return err }, ErrEmptySecret},
		{"raw: empty", func() error { _, err := NewVerifierRaw([][]byte{{}}); return err }, ErrEmptySecret},
		{"raw: short", func() error { _, err := NewVerifierRaw([][]byte{[]byte("short")}); return err }, ErrInvalidSecret},
		{"intercom: none", func() error { _, err := NewIntercomVerifier(); return err }, ErrEmptySecret},
		{"intercom: empty", func() error { _, err := NewIntercomVerifier(""); return err }, ErrEmptySecret},
		{"intercom: short", func() error { _, err := NewIntercomVerifier("short-secret"); return err }, ErrInvalidSecret},
		{"series: no tokens", func() error { _, err := NewSeriesVerifier(seriesHeader); return err }, ErrEmptySecret},
		{"series: empty token", func() error { _, err := NewSeriesVerifier(seriesHeader, ""); return err }, ErrEmptySecret},
		{"series: short token", func() error { _, err := NewSeriesVerifier(seriesHeader, "hunter2"); return err }, ErrInvalidSecret},
		// Tokens no request can carry: Verify refuses a header value past
		// maxTokenLen, and net/http one holding a control character.
		{"series: token too long for Verify", func() error {
			_, err := NewSeriesVerifier(seriesHeader, strings.Repeat("t", maxTokenLen+1))
			return err
		}, ErrInvalidSecret},
		{"series: control character inside", func() error { _, err := NewSeriesVerifier(seriesHeader, "token-with\x00-nul-inside"); return err }, ErrInvalidSecret},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.make()
			require.ErrorIs(t, err, c.want)
			require.NotContains(t, err.Error(), short)
			require.NotContains(t, err.Error(), "hunter2")
			require.NotContains(t, err.Error(), "short-secret")
		})
	}

	plain := []struct {
		name string
		make func() error
	}{
		{"zero tolerance", func() error { _, err := NewVerifier([]string{testSecret}, WithTolerance(0)); return err }},
		{"negative tolerance", func() error { _, err := NewVerifier([]string{testSecret}, WithTolerance(-time.Second)); return err }},
		{"nil clock", func() error { _, err := NewVerifier([]string{testSecret}, WithClock(nil)); return err }},
		{"series: empty header name", func() error { _, err := NewSeriesVerifier("", seriesToken); return err }},
		{"series: header name with space", func() error { _, err := NewSeriesVerifier("X Token", seriesToken); return err }},
		{"series: header name with colon", func() error { _, err := NewSeriesVerifier("X-Token:", seriesToken); return err }},
	}
	for _, c := range plain {
		t.Run(c.name, func(t *testing.T) { require.Error(t, c.make()) })
	}
}

// TestSeriesTokenInnerTab: a tab is the one control character a Series
// token may hold (net/http carries it in a header value), as the
// constructor's doc and the README say.
func TestSeriesTokenInnerTab(t *testing.T) {
	const token = "token-with\tinner-tab"
	sv, err := NewSeriesVerifier(seriesHeader, token)
	require.NoError(t, err)
	require.NoError(t, sv.Verify(http.Header{seriesHeader: {token}}))
}

func TestSetSecretsKeepsOldKeysOnError(t *testing.T) {
	v := newTestVerifier(t, testSecret)
	h := stdHeader(testID, testNowText, "v1,"+macV1(testKey, testID, testNowText, testBody))
	require.ErrorIs(t, v.SetSecrets("whsec_!!"), ErrInvalidSecret)
	_, _, err := v.Verify(testBody, h)
	require.NoError(t, err)

	require.NoError(t, v.SetRawSecrets(otherKey))
	_, _, err = v.Verify(testBody, h)
	require.ErrorIs(t, err, ErrNoMatchingSignature, "the old key is gone after rotation")

	iv, err := NewIntercomVerifier(intercomKey)
	require.NoError(t, err)
	require.Error(t, iv.SetSecrets(""))
	require.NoError(t, iv.Verify(testBody, http.Header{"X-Hub-Signature": {"sha1=" + macSHA1(intercomKey, testBody)}}))

	sv, err := NewSeriesVerifier(seriesHeader, seriesToken)
	require.NoError(t, err)
	require.Error(t, sv.SetTokens("short"))
	require.NoError(t, sv.Verify(http.Header{seriesHeader: {seriesToken}}))
}

// TestRotationConcurrent swaps keys while requests verify. Every delivery
// is signed with a key present in every keyring, so none may fail; run
// with -race to show the swap does not race.
func TestRotationConcurrent(t *testing.T) {
	v := newTestVerifier(t, testSecret)
	iv, err := NewIntercomVerifier(intercomKey)
	require.NoError(t, err)
	sv, err := NewSeriesVerifier(seriesHeader, seriesToken)
	require.NoError(t, err)
	std := stdHeader(testID, testNowText, "v1,"+macV1(testKey, testID, testNowText, testBody))
	hub := http.Header{"X-Hub-Signature": {"sha1=" + macSHA1(intercomKey, testBody)}}
	tok := http.Header{seriesHeader: {seriesToken}}

	stop := make(chan struct{})
	var swaps sync.WaitGroup
	swaps.Add(1)
	go func() {
		defer swaps.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				require.NoError(t, v.SetSecrets(otherSecret, testSecret))
				require.NoError(t, iv.SetSecrets("rotated-client-secret-001", intercomKey))
				require.NoError(t, sv.SetTokens(seriesToken, "rotated-series-token-0001"))
			} else {
				require.NoError(t, v.SetSecrets(testSecret))
				require.NoError(t, iv.SetSecrets(intercomKey))
				require.NoError(t, sv.SetTokens(seriesToken))
			}
		}
	}()
	var workers sync.WaitGroup
	for range 8 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for range 500 {
				_, _, err := v.Verify(testBody, std)
				require.NoError(t, err)
				require.NoError(t, iv.Verify(testBody, hub))
				require.NoError(t, sv.Verify(tok))
			}
		}()
	}
	testwait.For(t, "the verifying goroutines to finish", workers.Wait)
	close(stop)
	testwait.For(t, "the swapping goroutine to stop", swaps.Wait)
}

// TestSentinelsMatchReference shows code written against the reference
// library's sentinels keeps working, and ours stay distinct from each other.
func TestSentinelsMatchReference(t *testing.T) {
	ours := []error{ErrRequiredHeaders, ErrInvalidHeaders, ErrNoMatchingSignature, ErrMessageTooOld, ErrMessageTooNew}
	for i, a := range ours {
		require.ErrorIs(t, a, referenceSentinel(a))
		for j, b := range ours {
			require.Equal(t, i == j, errors.Is(a, b))
			require.Equal(t, i == j, errors.Is(a, referenceSentinel(b)))
		}
	}
	require.NotErrorIs(t, ErrEmptySecret, ErrInvalidSecret)
}

func TestBase64Pairs(t *testing.T) {
	for v := range 4096 {
		want := base64Alphabet[v>>6:v>>6+1] + base64Alphabet[v&63:v&63+1]
		require.Equal(t, want, base64Pairs[2*v:2*v+2])
	}
	// encodeMAC agrees with encoding/base64 on many sums.
	for i := range 2000 {
		sum := sha256.Sum256([]byte(strconv.Itoa(i)))
		var text macText
		encodeMAC(&text, &sum)
		require.Equal(t, base64.StdEncoding.EncodeToString(sum[:]), string(text[:]))
		require.True(t, equalText(&text, string(text[:])))
		flipped := []byte(string(text[:]))
		flipped[i%44] ^= 1
		require.False(t, equalText(&text, string(flipped)))
	}
}

// FuzzDecodeBase64 checks decodeBase64 by a property independent of how
// it decodes: it accepts s into n bytes exactly when some n bytes encode
// to s (canonical base64, padding included), and then yields those bytes.
// It never panics, whatever the text and size: the seeds include texts
// that decode to more bytes than dst holds.
func FuzzDecodeBase64(f *testing.F) {
	f.Add("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", uint8(32))
	f.Add("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=", uint8(32))
	f.Add(strings.Repeat("A", 44), uint8(32))
	f.Add(strings.Repeat("A", 88), uint8(64))
	f.Add(strings.Repeat("A", 42)+"\r\n", uint8(32))
	f.Add("AA==", uint8(1))
	f.Add("AAA=", uint8(2))
	f.Add("AB==", uint8(1))
	f.Add("", uint8(0))
	f.Fuzz(func(t *testing.T, s string, n uint8) {
		dst := make([]byte, int(n)%70)
		ok := decodeBase64(dst, s)
		want, err := base64.StdEncoding.DecodeString(s) // lenient: skips CR and LF, ignores unused bits
		canonical := err == nil && len(want) == len(dst) && base64.StdEncoding.EncodeToString(want) == s
		if len(dst) > 64 {
			canonical = false // more than any signature; refused
		}
		require.Equal(t, canonical, ok, "%q into %d bytes", s, len(dst))
		if ok {
			require.Equal(t, want, dst)
		}
	})
}

func TestDecodeHex(t *testing.T) {
	sum := sha1.Sum([]byte("body"))
	lower := hex.EncodeToString(sum[:])
	cases := []struct {
		s  string
		ok bool
	}{
		{lower, true},
		{strings.ToUpper(lower), true},
		{lower[:39], false},
		{lower + "0", false},
		{lower[:38] + "g0", false},
		{lower[:38] + " 0", false},
		{"", false},
	}
	for _, c := range cases {
		var dst [sha1.Size]byte
		require.Equal(t, c.ok, decodeHex(dst[:], c.s), "%q", c.s)
		if c.ok {
			require.Equal(t, sum, dst)
		}
	}
}

// TestDecodeAllocs: the standard library's decoders, which replaced
// hand-written ones, allocate nothing here either (Go 1.26 keeps the
// []byte(s) conversion on the stack).
func TestDecodeAllocs(t *testing.T) {
	sig := base64.StdEncoding.EncodeToString(make([]byte, 64))
	mac := base64.StdEncoding.EncodeToString(make([]byte, 32))
	hexSig := strings.Repeat("0f", sha1.Size)
	var dst [64]byte
	require.Zero(t, testing.AllocsPerRun(100, func() {
		if !decodeBase64(dst[:], sig) || !decodeBase64(dst[:32], mac) || !decodeHex(dst[:sha1.Size], hexSig) {
			t.Fatal("decode failed")
		}
	}))
}

// TestMemBudgetRefusalTakesNothing: a charge the budget refuses never
// counts, even for a moment, against one that fits beside the bytes
// held: adding it and taking it back refused small bodies beside a large
// one (a spurious 503), and a request waiting for memory could read the
// moment's total, then miss the wake-up, since taking it back woke no
// one.
func TestMemBudgetRefusalTakesNothing(t *testing.T) {
	const limit, small, rounds = 1 << 20, 1 << 10, 200000
	b := &memBudget{limit: limit}
	b.held.Store(small) // so the large one never fits
	stop := make(chan struct{})
	var tries atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a large body, never fitting beside what is held
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if b.charge(limit - small/2) {
				b.release(limit - small/2)
			}
			tries.Add(1)
		}
	}()
	for tries.Load() == 0 {
		runtime.Gosched()
	}
	refused := 0
	for range rounds {
		if !b.charge(small) {
			refused++
			continue
		}
		b.release(small)
	}
	close(stop)
	testwait.For(t, "the charging goroutine to stop", wg.Wait)
	require.Zero(t, refused, "charges that fit beside the bytes held were refused")
}
