package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/inhook/webhook/event"
	"github.com/stretchr/testify/require"
)

// TestBodyHint holds each hint to the evidence it names, and each body a
// sender sends to no hint but check_secret.
func TestBodyHint(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		declared int64 // -1: none
		encoding string
		want     Hint
	}{
		{"compact, as Jam sends", `{"jamId":"4f0c","jamUrl":"https://jam.dev/c/4f0c","teamId":"t","type":"video","createdAt":"2026-11-24T08:59:12Z"}`, -1, "", HintCheckSecret},
		{"tab-indented, as Intercom pings come", "{\n\t\"type\": \"notification_event\",\n\t\"app_id\": \"x\",\n\t\"id\": null,\n\t\"topic\": \"ping\"\n}", -1, "", HintCheckSecret},
		{"saved to a file: a line break after it", "{\"type\":\"notification_event\",\"topic\":\"ping\",\"app_id\":\"x\",\"id\":null}\n", -1, "", HintCheckSecret},
		{"three keys in order: too few to tell", `{"a":1,"b":2,"c":3}`, -1, "", HintCheckSecret},
		{"keys sorted: a map re-marshalled", `{"app_id":"x","created_at":1,"data":{},"id":"n","topic":"ping","type":"notification_event"}`, -1, "", HintReencoded},
		{"Go's escapes", `{"type":"notification_event","body":"\u003cp\u003eHi\u003c/p\u003e"}`, -1, "", HintReencoded},
		{"Python's spacing on one line, resized", `{"type": "notification_event", "topic": "ping", "app_id": "x"}`, 70, "", HintReencoded},
		{"Python's spacing on one line, as declared: a sender's own", `{"type": "notification_event", "topic": "ping", "app_id": "x"}`, 62, "", HintCheckSecret},
		{"Python's spacing on one line, no length declared", `{"jamId": "4f0c", "jamUrl": "https://jam.dev/c/4f0c", "teamId": "t"}`, -1, "", HintCheckSecret},
		{"re-encoded and shorter than declared", `{"app_id":"x","created_at":1,"data":{},"id":"n"}`, 90, "", HintReencoded},
		{"shorter than declared", `{"type":"video"}`, 90, "", HintLengthMismatch},
		{"not JSON", `<html>502 Bad Gateway</html>`, -1, "", HintNotJSON},
		{"Content-Encoding", `{"type":"video"}`, -1, "br", HintCompressed},
		{"Content-Encoding identity is none", `{"type":"video"}`, -1, "identity", HintCheckSecret},
		{"gzip bytes", "\x1f\x8b\x08\x00\x00\x00", -1, "", HintCompressed},
		{"zlib bytes", "\x78\x9c\x4b\x4c", -1, "", HintCompressed},
		{"empty", "", -1, "", HintEmptyBody},
		{"empty, Content-Length says otherwise", "", 120, "", HintEmptyBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dg := &Diagnosis{BodyLen: len(tt.body), ContentLength: tt.declared, ContentEncoding: tt.encoding}
			hint, evidence := bodyHint(dg, []byte(tt.body))
			require.Equal(t, tt.want, hint, evidence)
			require.NotEmpty(t, evidence)
		})
	}
}

// TestBodyHintFixtures checks that no fixture, each shaped as its sender
// sends it, shows a mark of a re-encoding, while its re-encoding through
// a map does.
func TestBodyHintFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("webhooktest", "testdata", "*", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		dg := &Diagnosis{BodyLen: len(b), ContentLength: int64(len(b))}
		hint, evidence := bodyHint(dg, b)
		require.Equal(t, HintCheckSecret, hint, "%s: %s", f, evidence)
		// Without the file's last line break, as the sender sends it,
		// and with no Content-Length, as in a test's httptest request.
		sent := bytes.TrimSuffix(b, []byte("\n"))
		for _, declared := range []int64{int64(len(sent)), -1} {
			hint, evidence = bodyHint(&Diagnosis{BodyLen: len(sent), ContentLength: declared}, sent)
			require.Equal(t, HintCheckSecret, hint, "%s as sent: %s", f, evidence)
		}

		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m), f)
		if len(m) < 4 {
			continue // too few keys for their order to tell
		}
		re, err := json.Marshal(m)
		require.NoError(t, err)
		hint, evidence = bodyHint(&Diagnosis{BodyLen: len(re), ContentLength: -1}, re)
		require.Equal(t, HintReencoded, hint, "%s re-encoded", f)
		require.True(t, strings.Contains(evidence, "sorted"), evidence)
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[string]string{"10m": "10m", "1h": "1h", "1h30m": "1h30m", "45s": "45s", "10m1s": "10m1s", "2h0m5s": "2h0m5s"} {
		dur, err := time.ParseDuration(d)
		require.NoError(t, err)
		require.Equal(t, want, shortDuration(dur))
	}
}

// TestSkewFarTimestamps: a timestamp as far from the clock as its twelve
// digits allow still has a skew of the right sign in whole seconds, whose
// words a reader can take as they are.
func TestSkewFarTimestamps(t *testing.T) {
	now := time.Unix(1795510800, 0)
	words := regexp.MustCompile(`^clock (\d+h)?(\d+m)?(\d+s)? (ahead of|behind) the sender$`)
	tests := []struct {
		ts     string
		behind bool
	}{
		{"999999999999", true},
		{"1", false},
		{"1795511400", true},
		{"1795510200", false},
	}
	for _, tt := range tests {
		t.Run(tt.ts, func(t *testing.T) {
			dg := &Diagnosis{}
			dg.diagnoseHeaders(event.SourceStandard, http.Header{"Webhook-Id": {"msg_1"}, "Webhook-Timestamp": {tt.ts}, "Webhook-Signature": {"v1,AAAA"}}, now)
			require.Equal(t, tt.behind, dg.Skew < 0, dg.Skew)
			require.Zero(t, dg.Skew%time.Second, dg.Skew)
			w := skewWords(dg.Skew)
			require.Regexp(t, words, w)
			require.Equal(t, tt.behind, strings.HasSuffix(w, "behind the sender"), w)
		})
	}
}
