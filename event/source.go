package event

// Source names a sender scheme: the one a delivery was verified with, and
// so the family of events its body may decode into (see ParseFrom).
type Source string

// The sources package webhook verifies.
const (
	// SourceStandard is a Standard Webhooks delivery (Jam, through Svix).
	SourceStandard Source = "standard"
	// SourceIntercom is an Intercom app webhook signed with X-Hub-Signature.
	SourceIntercom Source = "intercom"
	// SourceSeries is an Intercom Series or Workflow webhook carrying a shared token.
	SourceSeries Source = "series"
)
