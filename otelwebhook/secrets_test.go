package otelwebhook_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestRejectedKeepsSecrets: the spans and metrics of a rejected request
// carry its reason, and none of the secret, the signature received, the
// MAC the handler computed or the body: not as an attribute, an event
// (a recorded error), a status description or a metric attribute.
func TestRejectedKeepsSecrets(t *testing.T) {
	forged := "whsec_" + strings.Repeat("QUJD", 8)
	stale := webhooktest.Time().Add(-time.Hour)
	tests := []struct {
		name   string
		req    *http.Request
		signed *http.Request // the genuine request of the same id and time: its signature is the MAC the handler computes
		reason string
	}{
		{"forged", webhooktest.NewStandardRequest(forged, jamBody), webhooktest.NewStandardRequest(webhooktest.Secret, jamBody), "signature"},
		{"stale", webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithTime(stale)),
			webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithTime(stale)), "too_old"},
		{"undecodable", webhooktest.NewStandardRequest(webhooktest.Secret, []byte(`[1, "Dana Okafor"]`)),
			webhooktest.NewStandardRequest(webhooktest.Secret, []byte(`[1, "Dana Okafor"]`)), "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secrets := []string{
				strings.TrimPrefix(webhooktest.Secret, "whsec_"), strings.TrimPrefix(forged, "whsec_"),
				"Dana Okafor", // in both bodies
			}
			for _, r := range []*http.Request{tt.req, tt.signed} {
				for _, sig := range strings.Fields(r.Header.Get("Webhook-Signature")) {
					_, mac, _ := strings.Cut(sig, ",")
					secrets = append(secrets, mac)
				}
			}
			tel := newTelemetry(t)
			srv := server(t, tel, nil)
			require.NotEqual(t, http.StatusOK, serve(srv, tt.req))

			var texts []string
			kvs := func(kvs []attribute.KeyValue) {
				for _, kv := range kvs {
					texts = append(texts, string(kv.Key)+"="+kv.Value.String())
				}
			}
			spans := tel.spans.Ended()
			require.NotEmpty(t, spans)
			for _, s := range spans {
				kvs(s.Attributes())
				for _, e := range s.Events() {
					texts = append(texts, e.Name)
					kvs(e.Attributes)
				}
				texts = append(texts, s.Status().Description)
			}
			require.Contains(t, texts, "webhook.reason="+tt.reason)
			var rm metricdata.ResourceMetrics
			require.NoError(t, tel.reader.Collect(context.Background(), &rm))
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					texts = append(texts, attributeSets(m)...)
				}
			}
			for _, text := range texts {
				for _, secret := range secrets {
					require.NotContains(t, text, secret)
				}
			}
		})
	}
}

// attributeSets gives the attribute sets of a metric's points, written
// "k=v,k=v", whatever its kind.
func attributeSets(m metricdata.Metrics) []string {
	var sets []attribute.Set
	switch data := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range data.DataPoints {
			sets = append(sets, p.Attributes)
		}
	case metricdata.Sum[float64]:
		for _, p := range data.DataPoints {
			sets = append(sets, p.Attributes)
		}
	case metricdata.Gauge[int64]:
		for _, p := range data.DataPoints {
			sets = append(sets, p.Attributes)
		}
	case metricdata.Gauge[float64]:
		for _, p := range data.DataPoints {
			sets = append(sets, p.Attributes)
		}
	case metricdata.Histogram[int64]:
		for _, p := range data.DataPoints {
			sets = append(sets, p.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, p := range data.DataPoints {
			sets = append(sets, p.Attributes)
		}
	}
	var out []string
	for _, s := range sets {
		out = append(out, m.Name+":"+s.Encoded(attribute.DefaultEncoder()))
	}
	return out
}
