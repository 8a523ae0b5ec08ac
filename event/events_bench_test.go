package event

import (
	"encoding/json"
	"os"
	"path"
	"testing"
	"time"
)

// benchFixtures are the bodies the decoding benchmarks use: a maximal
// jam.created (~1.4 KB) and a realistic conversation.user.replied (~3.9 KB).
func benchFixtures() []benchFixture {
	return []benchFixture{
		{"jam_created", "jam/jam.created.maximal.json", func() any { return new(JamCreated) }},
		{"intercom_conversation", "intercom/conversation.user.replied.json", func() any { return new(IntercomNotification) }},
	}
}

type benchFixture struct {
	name, file string
	floor      func() any // a fresh value of the type Parse returns
}

// forBenchFixtures runs fn as a sub-benchmark for each bench fixture.
func forBenchFixtures(b *testing.B, fn func(b *testing.B, bf benchFixture, body []byte)) {
	for _, bf := range benchFixtures() {
		body, err := os.ReadFile(path.Join(fixtureDir, bf.file))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bf.name, func(b *testing.B) { fn(b, bf, body) })
	}
}

// BenchmarkParse measures Parse: detection plus typed decoding in one pass.
// Compare with BenchmarkUnmarshalFloor, measured in the same run.
func BenchmarkParse(b *testing.B) {
	forBenchFixtures(b, func(b *testing.B, _ benchFixture, body []byte) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUnmarshalFloor is the floor for Parse: one plain json.Unmarshal
// of the same bytes into the struct Parse returns, with no detection.
func BenchmarkUnmarshalFloor(b *testing.B) {
	forBenchFixtures(b, func(b *testing.B, bf benchFixture, body []byte) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if err := json.Unmarshal(body, bf.floor()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeOverhead times Parse and the floor's json.Unmarshal
// alternately on the same bytes and reports the ratio of their totals.
// Pairing them in one loop cancels most of the drift of a shared machine,
// which separate benchmarks cannot.
func BenchmarkDecodeOverhead(b *testing.B) {
	forBenchFixtures(b, func(b *testing.B, bf benchFixture, body []byte) {
		var parse, floor time.Duration
		for b.Loop() {
			t0 := time.Now()
			if _, err := Parse(body); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := json.Unmarshal(body, bf.floor()); err != nil {
				b.Fatal(err)
			}
			parse += t1.Sub(t0)
			floor += time.Since(t1)
		}
		b.ReportMetric(float64(parse)/float64(floor), "parse/floor")
	})
}
