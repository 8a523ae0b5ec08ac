// Package event holds the typed webhook events of Jam, Intercom and
// Intercom Series, and their decoding: the Event interface and its
// structs (JamCreated, RecorderRecorded, RecorderOptedOut,
// RecordingLinkCreated, IntercomNotification and the items it holds,
// SeriesWebhook, UnknownEvent), the scalars every body uses (Time, ID),
// and the decoders: Parse, ParseFrom, ParseAs, ParseSeries.
//
// Package github.com/inhook/webhook verifies deliveries and hands its
// callbacks these events; decode bytes verified elsewhere (a queue, a
// replay) with ParseFrom, which keeps each source to its own family of
// events. A field of unexpected JSON type never fails an event: it is
// left zero and reported by the event's FieldErrors method.
//
// The runnable examples show decoding by hand: ExampleParse (every
// family, by the body's shape), ExampleParseFrom (by the verifying
// source), ExampleParseAs (an endpoint pinned to one event type) and
// ExampleParseSeries (a Series block's JSON or form body, into a struct of
// your own).
package event

// The files of the package form layers, as package webhook's do (see its
// doc.go); package webhook's TestLayers checks them against this table.
//
//	base      doc.go source.go scalars.go prune.go
//	shapes    jam.go intercom.go series.go topics.go
//	table     events.go jamread.go
//
// base is the sources, the scalars every body uses (Time, ID, the
// unquoting and type-error helpers), the decode errors and the lenient
// decoder over internal/jsonread; shapes are the bodies, each beside its
// noun; table is the one table of events, with detection, Parse and its
// fast path for a flat jam.created.
