package webhook

import (
	"net/http"
	"strings"

	"github.com/inhook/webhook/event"
)

// pickSource chooses the verifier by the headers present, before the body
// is read: the first configured source whose headers appear.
func (h *Handler) pickSource(hd http.Header) event.Source {
	if (h.std != nil || h.keyFunc != nil) && hasAny(hd, headerWebhookID, headerWebhookTimestamp, headerWebhookSignature, headerSvixID, headerSvixTimestamp, headerSvixSignature) {
		return event.SourceStandard
	}
	if (h.intercom != nil || h.keyFunc != nil) && hasAny(hd, headerHubSignature) {
		return event.SourceIntercom
	}
	if h.series != nil && hasAny(hd, h.series.Header()) {
		return event.SourceSeries
	}
	return ""
}

// acceptsMediaType reports whether ct, with any parameters such as
// charset, suits src. It is checked before the body is read, and parsed
// by hand because mime.ParseMediaType allocates on every request.
func acceptsMediaType(src event.Source, ct string) bool {
	if ct == "" {
		return true
	}
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	switch {
	case strings.EqualFold(ct, "application/json"):
		return true
	case len(ct) > len("application/+json") && strings.EqualFold(ct[:len("application/")], "application/") &&
		strings.EqualFold(ct[len(ct)-len("+json"):], "+json"):
		return true
	case src == event.SourceSeries:
		return strings.EqualFold(ct, "application/x-www-form-urlencoded")
	}
	return false
}

func hasAny(h http.Header, keys ...string) bool {
	for _, k := range keys {
		if _, ok := h[k]; ok {
			return true
		}
	}
	return false
}

func isSignatureHeader(k string) bool {
	switch k {
	case headerWebhookID, headerWebhookTimestamp, headerWebhookSignature, headerSvixID, headerSvixTimestamp, headerSvixSignature, headerHubSignature:
		return true
	}
	return false
}

// noSource is the error and diagnosis for a request without the headers
// of any configured source: saying which source's headers it does carry
// tells a delivery sent to the wrong handler from a stray request.
func (h *Handler) noSource(r *http.Request) (*Diagnosis, error) {
	hd := r.Header
	dg := &Diagnosis{BodyLen: -1, ContentLength: r.ContentLength}
	reason := "no signature headers of a configured source"
	switch {
	case hasAny(hd, headerWebhookID, headerWebhookTimestamp, headerWebhookSignature, headerSvixID, headerSvixTimestamp, headerSvixSignature):
		reason = "Standard Webhooks (Jam) headers, but the handler has no Standard Webhooks keys (WithSecrets)"
		dg.diagnoseHeaders(event.SourceStandard, hd, h.now())
		dg.Hint, dg.Evidence = HintSourceNotConfigured, "webhook-*/svix-* headers at a handler for "+h.sourceNames()
	case hasAny(hd, headerHubSignature):
		reason = "an Intercom X-Hub-Signature, but the handler has no Intercom client secrets (WithIntercomSecrets)"
		dg.diagnoseHeaders(event.SourceIntercom, hd, h.now())
		dg.Hint, dg.Evidence = HintSourceNotConfigured, "X-Hub-Signature at a handler for "+h.sourceNames()
	}
	dg.ContentEncoding = clip(hd.Get("Content-Encoding"))
	return dg, verifyErr("", ErrRequiredHeaders, reason)
}

// sourceNames lists the configured sources, for a diagnosis.
func (h *Handler) sourceNames() string {
	var names []string
	if h.std != nil || h.keyFunc != nil {
		names = append(names, string(event.SourceStandard))
	}
	if h.intercom != nil || h.keyFunc != nil {
		names = append(names, string(event.SourceIntercom))
	}
	if h.series != nil {
		names = append(names, string(event.SourceSeries))
	}
	return strings.Join(names, ", ") + " only"
}
