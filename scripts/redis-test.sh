#!/usr/bin/env bash
# Tests of the redisstore module against a throwaway Redis: installs
# redis-server if missing, starts it on a free loopback port without
# persistence, and a one-node Redis Cluster beside it, runs vet,
# staticcheck and the race-enabled tests (and the loadgen's redis-inbox
# target's test), and stops both whatever happens.
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

# A free port: the first of a small range that nothing answers on, and
# that this script has not taken already.
free_port() {
	for p in $(seq 6391 6410); do
		if [ "$p" != "${port:-}" ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "no free port in 6391-6410 for redis-server" >&2
	exit 1
}
port=$(free_port)

dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
	--dir "$dir" --logfile "$dir/redis.log" --maxmemory-policy noeviction &
pid=$!
cport=$(free_port)
redis-server --port "$cport" --bind 127.0.0.1 --save '' --appendonly no \
	--cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
	--dir "$dir" --logfile "$dir/cluster.log" --maxmemory-policy noeviction &
cpid=$!
cleanup() {
	redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
	redis-cli -p "$cport" shutdown nosave >/dev/null 2>&1 || kill "$cpid" 2>/dev/null || true
	wait "$pid" "$cpid" 2>/dev/null || true
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

# The cluster node takes every slot, and is ready once it says so.
for _ in $(seq 100); do
	if [ "$(redis-cli -p "$cport" ping 2>/dev/null)" = PONG ]; then
		break
	fi
	sleep 0.1
done
redis-cli -p "$cport" cluster addslotsrange 0 16383 >/dev/null
for _ in $(seq 100); do
	if redis-cli -p "$cport" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; then
		break
	fi
	sleep 0.1
done
if ! redis-cli -p "$cport" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; then
	echo "redis-server (cluster) on port $cport did not reach cluster_state:ok within 10s" >&2
	cat "$dir/cluster.log" >&2
	exit 1
fi

export WEBHOOK_REDIS_URL="redis://127.0.0.1:$port/0"
export WEBHOOK_REDIS_CLUSTER_ADDR="127.0.0.1:$cport"
cd redisstore
go vet ./...
"$(go env GOPATH)/bin/staticcheck" ./...
go test -race -count=1 ./...
# The loadgen's redis-inbox target, which the bench module's own step
# cannot test without a Redis.
cd ../bench
go test -count=1 -run '^TestRedisInboxTarget$' ./load
