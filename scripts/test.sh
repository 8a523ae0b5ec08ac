#!/usr/bin/env bash
# The test command from the README: every test of the core module, with the
# race detector. Fuzz targets run their seed corpora in testdata/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -race -count=1 ./...
