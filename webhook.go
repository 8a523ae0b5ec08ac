// Package webhook receives webhooks from Jam (Standard Webhooks, through Svix),
// Intercom app webhooks and Intercom Series webhook blocks.
//
// Every delivery is verified against the exact bytes read from the wire,
// before anything is decoded: Standard Webhooks v1 (HMAC-SHA256) and v1a
// (ed25519) signatures over id.timestamp.body, Intercom's X-Hub-Signature
// (HMAC-SHA1 over the body), or a shared token in a header for Series.
//
// Threat model in brief: an attacker can reach the endpoint and send any
// bytes, replay captured deliveries, and send bodies of any size. The
// verifiers reject anything not signed with a configured key; the Standard
// Webhooks timestamp window bounds replay in time, and the message id (the
// Intercom notification id) is the key for deduplication, which is the only
// replay protection Intercom's scheme allows. Never re-encode a body before
// verifying it, and never log bodies, secrets or signatures.
package webhook

// Source names the sender scheme that a delivery was verified with.
type Source string

// The sources this package verifies.
const (
	// SourceStandard is a Standard Webhooks delivery (Jam, through Svix).
	SourceStandard Source = "standard"
	// SourceIntercom is an Intercom app webhook signed with X-Hub-Signature.
	SourceIntercom Source = "intercom"
	// SourceSeries is an Intercom Series or Workflow webhook carrying a shared token.
	SourceSeries Source = "series"
)
