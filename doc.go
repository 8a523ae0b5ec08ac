package webhook

// The files of the package form layers. A file uses the names of its own
// layer and of the layers below it, never one above, so each layer can be
// read, tested and changed knowing only what is under it. TestLayers
// checks it, with this table as its source; a new file gets a line here.
//
//	base      webhook.go doc.go jsonread.go scalars.go prune.go
//	keys      keys.go base64pairs.go
//	shapes    jam.go intercom.go series.go topics.go
//	table     events.go jamread.go
//	verify    verify.go
//	dedupe    dedupe.go lease.go inbox.go memoryinbox.go
//	handler   handler.go serve.go observer.go inboxmode.go diagnose.go drops.go tenant.go
//
// base is the JSON reader and the scalars every body uses (Time, ID, the
// unquoting and type-error helpers), with Source and the errors; keys
// decodes secrets; shapes are the bodies, each beside its noun; table is
// the one table of events, with detection, Parse and its fast path for
// a flat jam.created; verify checks
// signatures; dedupe and inbox keep state across deliveries; handler ties
// them together.
