#!/usr/bin/env bash
# The test command from the README: every test of the core module, the CLI
# (cmd/webhook) and the SQLite inbox (sqlitestore), with the race detector.
# The last two are modules of their own, which the core's ./... does not
# reach. Fuzz targets run their seed corpora in testdata/fuzz. The CLI's
# tests on a redisstore inbox run on a throwaway Redis started here
# (scripts/redis-server.sh) when redis-server is installed, and always in
# CI (CI=true), which installs it; or on the Redis WEBHOOK_TEST_REDIS_URL names
# (and by the unix socket WEBHOOK_TEST_REDIS_SOCKET names, for unix:// URLs).
# Those of --redis-cluster run on a one-node Redis Cluster started beside it,
# or on the one WEBHOOK_REDIS_CLUSTER_ADDR names (HOST:PORT). Those of
# rediss:// run on a Redis speaking TLS only started beside it, or on the
# one WEBHOOK_TEST_REDIS_TLS_URL names, whose certificate the authority in
# the PEM file WEBHOOK_TEST_REDIS_TLS_CA names signed.
# Without them they are skipped, as redisstore's are, and fail in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -race -count=1 ./...
if { [ -z "${WEBHOOK_TEST_REDIS_URL:-}" ] || [ -z "${WEBHOOK_REDIS_CLUSTER_ADDR:-}" ] ||
	[ -z "${WEBHOOK_TEST_REDIS_TLS_URL:-}" ] || [ -z "${WEBHOOK_TEST_REDIS_TLS_CA:-}" ]; } &&
	{ [ "${CI:-}" = true ] || command -v redis-server >/dev/null; }; then
	. scripts/redis-server.sh
	[ -n "${WEBHOOK_TEST_REDIS_URL:-}" ] || start_redis
	[ -n "${WEBHOOK_REDIS_CLUSTER_ADDR:-}" ] || start_redis_cluster
	{ [ -n "${WEBHOOK_TEST_REDIS_TLS_URL:-}" ] && [ -n "${WEBHOOK_TEST_REDIS_TLS_CA:-}" ]; } || start_redis_tls
fi
(cd cmd/webhook && go test -race -count=1 ./...)
(cd sqlitestore && go test -race -count=1 ./...)
