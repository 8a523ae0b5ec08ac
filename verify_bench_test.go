package webhook

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// benchDelivery is one Standard Webhooks delivery of size n, signed with key
// and carrying a wrong v1 signature before the right one, as a sender does
// during key rotation.
type benchDelivery struct {
	key     []byte
	id, ts  string
	body    []byte
	header  http.Header
	content []byte // id.ts.body, for the floor
	sig     []byte // the right MAC
}

func newBenchDelivery(n int) benchDelivery {
	d := benchDelivery{
		key:  []byte("bench-key-0123456789abcdef01234"),
		id:   "msg_2Lx9QbK7sVtR4mWc8NfJ1aYz",
		ts:   strconv.FormatInt(time.Unix(1767225600, 0).Unix(), 10),
		body: make([]byte, n),
	}
	for i := range d.body {
		d.body[i] = 'a' + byte(i%26)
	}
	d.content = []byte(d.id + "." + d.ts + "." + string(d.body))
	m := hmac.New(sha256.New, d.key)
	m.Write(d.content)
	d.sig = m.Sum(nil)
	wrong := make([]byte, len(d.sig))
	copy(wrong, d.sig)
	wrong[0] ^= 0xff
	d.header = http.Header{
		"Webhook-Id":        {d.id},
		"Webhook-Timestamp": {d.ts},
		"Webhook-Signature": {"v1," + base64.StdEncoding.EncodeToString(wrong) + " v1," + base64.StdEncoding.EncodeToString(d.sig)},
	}
	return d
}

var benchSizes = []struct {
	name string
	n    int
}{{"256", 256}, {"2048", 2048}, {"20480", 20480}}

func BenchmarkVerify(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			d := newBenchDelivery(s.n)
			v, err := NewVerifierRaw([][]byte{d.key}, WithClock(func() time.Time { return time.Unix(1767225600, 0) }))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := v.Verify(d.body, d.header); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyFloor is the least any verifier can do: one HMAC-SHA256
// over id.timestamp.body, already concatenated, with a reused keyed state,
// and one constant-time compare.
func BenchmarkVerifyFloor(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			d := newBenchDelivery(s.n)
			m := hmac.New(sha256.New, d.key)
			sum := make([]byte, 0, sha256.Size)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				m.Reset()
				m.Write(d.content)
				sum = m.Sum(sum[:0])
				if !hmac.Equal(sum, d.sig) {
					b.Fatal("floor MAC mismatch")
				}
			}
		})
	}
}

// BenchmarkVerifyPaired runs Verify and the floor's work in alternating
// blocks of 64 on the same delivery and reports the ratio of their
// totals. On a shared machine the speed of both drifts by a quarter
// within seconds; blocks a few tens of microseconds apart see the same
// machine, which BenchmarkVerify and BenchmarkVerifyFloor, run seconds
// apart, do not. One op is one block of each.
//
// A third block does the floor's work after reading the three headers
// from the http.Header map, and headers/floor is its ratio: the part of
// verify/floor that any Verify(body, http.Header) pays before it hashes.
func BenchmarkVerifyPaired(b *testing.B) {
	const block = 64
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			d := newBenchDelivery(s.n)
			v, err := NewVerifierRaw([][]byte{d.key}, WithClock(func() time.Time { return time.Unix(1767225600, 0) }))
			if err != nil {
				b.Fatal(err)
			}
			m := hmac.New(sha256.New, d.key)
			sum := make([]byte, 0, sha256.Size)
			var verify, floor, headers time.Duration
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				for range block {
					if _, _, err := v.Verify(d.body, d.header); err != nil {
						b.Fatal(err)
					}
				}
				t1 := time.Now()
				// Written out as in BenchmarkVerifyFloor: a helper would
				// not be inlined and would add a call to the floor.
				for range block {
					m.Reset()
					m.Write(d.content)
					sum = m.Sum(sum[:0])
					if !hmac.Equal(sum, d.sig) {
						b.Fatal("floor MAC mismatch")
					}
				}
				t2 := time.Now()
				for range block {
					id, ts, sig := d.header[headerWebhookID], d.header[headerWebhookTimestamp], d.header[headerWebhookSignature]
					if len(id) != 1 || len(ts) != 1 || len(sig) != 1 {
						b.Fatal("bench delivery lost a header")
					}
					m.Reset()
					m.Write(d.content)
					sum = m.Sum(sum[:0])
					if !hmac.Equal(sum, d.sig) {
						b.Fatal("floor MAC mismatch")
					}
				}
				verify += t1.Sub(t0)
				floor += t2.Sub(t1)
				headers += time.Since(t2)
			}
			b.ReportMetric(float64(verify)/float64(floor), "verify/floor")
			b.ReportMetric(float64(headers)/float64(floor), "headers/floor")
		})
	}
}

// BenchmarkVerifyIntercom verifies one Intercom delivery: the hex
// X-Hub-Signature decoded with encoding/hex, one HMAC-SHA1.
func BenchmarkVerifyIntercom(b *testing.B) {
	body := newBenchDelivery(2048).body
	secret := "3f9a1c7e-55b2-4d0e-a8c6-91e4b7d2f013"
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	h := http.Header{headerHubSignature: {"sha1=" + hex.EncodeToString(m.Sum(nil))}}
	v, err := NewIntercomVerifier(secret)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(body, h); err != nil {
			b.Fatal(err)
		}
	}
}
