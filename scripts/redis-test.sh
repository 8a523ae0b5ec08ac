#!/usr/bin/env bash
# Tests of the redisstore module against a throwaway Redis: installs
# redis-server if missing, starts it on a free loopback port without
# persistence, runs vet, staticcheck and the race-enabled tests, and stops
# it whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	if [ "$(id -u)" -eq 0 ]; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
	elif command -v sudo >/dev/null; then
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
	else
		echo "redis-server is not installed and neither root nor sudo is available to install it" >&2
		exit 1
	fi
fi

# A free port: the first of a small range that nothing answers on.
port=""
for p in $(seq 6391 6410); do
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		port=$p
		break
	fi
done
if [ -z "$port" ]; then
	echo "no free port in 6391-6410 for redis-server" >&2
	exit 1
fi

dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
	--dir "$dir" --logfile "$dir/redis.log" --maxmemory-policy noeviction &
pid=$!
cleanup() {
	redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

for _ in $(seq 100); do
	if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; then
		break
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "redis-server exited:" >&2; cat "$dir/redis.log" >&2; exit 1
	fi
	sleep 0.1
done
if [ "$(redis-cli -p "$port" ping 2>/dev/null)" != PONG ]; then
	echo "redis-server on port $port did not answer PING within 10s" >&2
	cat "$dir/redis.log" >&2
	exit 1
fi

export WEBHOOK_REDIS_URL="redis://127.0.0.1:$port/0"
cd redisstore
go vet ./...
"$(go env GOPATH)/bin/staticcheck" ./...
go test -race -count=1 ./...
