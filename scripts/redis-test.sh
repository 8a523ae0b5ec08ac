#!/usr/bin/env bash
# Tests of the redisstore module against a throwaway Redis: installs
# redis-server if missing, starts it on a free loopback port without
# persistence, a one-node Redis Cluster and a Redis speaking TLS only
# beside it (scripts/redis-server.sh), runs vet, staticcheck and the race-enabled
# tests (and the loadgen's redis-inbox target's test), and stops them
# whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/redis-server.sh
start_redis
start_redis_cluster
start_redis_tls

cd redisstore
go vet ./...
"$(go env GOPATH)/bin/staticcheck" ./...
go test -race -count=1 ./...
# The loadgen's redis-inbox target, which the bench module's own step
# cannot test without a Redis.
cd ../bench
go test -count=1 -run '^TestRedisInboxTarget$' ./load
