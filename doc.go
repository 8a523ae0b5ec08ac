package webhook

// The files of the package form layers. A file uses the names of its own
// layer and of the layers below it, never one above, so each layer can be
// read, tested and changed knowing only what is under it. TestLayers
// checks it, with this table as its source; a new file gets a line here.
//
//	base      webhook.go doc.go
//	keys      keys.go base64pairs.go
//	verify    verify.go verifier.go intercomverifier.go seriesverifier.go
//	dedupe    dedupe.go lease.go inbox.go memoryinbox.go
//	handler   handler.go source.go delivery.go errors.go option.go body.go reject.go registry.go callbacks.go serve.go observer.go reason.go inboxmode.go workerconfig.go worker.go drain.go diagnose.go diagnosis.go drops.go tenant.go
//
// Below them all is package event (the bodies, their decoding and the
// event table, with layers of its own) and internal/jsonread, the JSON
// reader both use. base is the errors; keys decodes secrets; verify checks
// signatures; dedupe and inbox keep state across deliveries; handler ties
// them together, decoding with package event.
