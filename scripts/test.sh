#!/usr/bin/env bash
# The test command from the README: every test of the core module, the CLI
# (cmd/webhook) and the SQLite inbox (sqlitestore), with the race detector.
# The last two are modules of their own, which the core's ./... does not
# reach. Fuzz targets run their seed corpora in testdata/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -race -count=1 ./...
(cd cmd/webhook && go test -race -count=1 ./...)
(cd sqlitestore && go test -race -count=1 ./...)
