package bench

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/inhook/webhook"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
	svix "github.com/svix/svix-webhooks/go"
)

var benchKey = []byte("bench-key-0123456789abcdef01234")

// delivery is one Standard Webhooks delivery with a wrong v1 signature
// before the right one, as during a sender's key rotation, signed now so
// every library's fixed 5-minute window accepts it for the whole run.
type delivery struct {
	body   []byte
	std    http.Header // webhook-* set
	svix   http.Header // svix-* set
	secret string
}

func newDelivery(n int) delivery {
	body := make([]byte, n)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	id := "msg_2Lx9QbK7sVtR4mWc8NfJ1aYz"
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	m := hmac.New(sha256.New, benchKey)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	sum := m.Sum(nil)
	wrong := append([]byte(nil), sum...)
	wrong[0] ^= 0xff
	sig := "v1," + base64.StdEncoding.EncodeToString(wrong) + " v1," + base64.StdEncoding.EncodeToString(sum)
	return delivery{
		body:   body,
		std:    http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {sig}},
		svix:   http.Header{"Svix-Id": {id}, "Svix-Timestamp": {ts}, "Svix-Signature": {sig}},
		secret: "whsec_" + base64.StdEncoding.EncodeToString(benchKey),
	}
}

var sizes = []struct {
	name string
	n    int
}{{"256", 256}, {"2048", 2048}, {"20480", 20480}}

// verifiers returns each library's verify function for d's secret.
func verifiers(tb testing.TB, d delivery) []struct {
	name   string
	verify func() error
} {
	ours, err := webhook.NewVerifier([]string{d.secret})
	require.NoError(tb, err)
	ref, err := standardwebhooks.NewWebhook(d.secret)
	require.NoError(tb, err)
	sv, err := svix.NewWebhook(d.secret)
	require.NoError(tb, err)
	return []struct {
		name   string
		verify func() error
	}{
		{"ours", func() error { _, _, err := ours.Verify(d.body, d.std); return err }},
		{"ours_svix_headers", func() error { _, _, err := ours.Verify(d.body, d.svix); return err }},
		{"reference", func() error { return ref.Verify(d.body, d.std) }},
		{"svix", func() error { return sv.Verify(d.body, d.svix) }},
	}
}

// TestSameVerdicts makes sure the benchmark compares like with like: every
// library accepts the benchmark deliveries, and rejects them when the body
// changes.
func TestSameVerdicts(t *testing.T) {
	for _, s := range sizes {
		d := newDelivery(s.n)
		for _, v := range verifiers(t, d) {
			require.NoError(t, v.verify(), v.name)
		}
		d.body[0] ^= 1
		for _, v := range verifiers(t, d) {
			require.Error(t, v.verify(), v.name)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, s := range sizes {
		d := newDelivery(s.n)
		for _, v := range verifiers(b, d) {
			b.Run(v.name+"/"+s.name, func(b *testing.B) {
				b.SetBytes(int64(s.n))
				b.ReportAllocs()
				for b.Loop() {
					if err := v.verify(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
