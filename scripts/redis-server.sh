# Sourced by the test scripts (bash, set -euo pipefail) to run tests
# against a throwaway Redis. start_redis starts a redis-server on a free
# loopback port without persistence and exports WEBHOOK_TEST_REDIS_URL naming
# it, and WEBHOOK_TEST_REDIS_SOCKET naming the unix socket it also listens
# on (for unix:// URLs); start_redis_cluster starts a one-node Redis Cluster beside it and
# exports WEBHOOK_REDIS_CLUSTER_ADDR; start_redis_tls starts one speaking
# TLS only (rediss://), with a certificate authority and a server
# certificate for 127.0.0.1 made for it here, and exports
# WEBHOOK_TEST_REDIS_TLS_URL naming it and WEBHOOK_TEST_REDIS_TLS_CA naming
# the authority's certificate (PEM), which a client must trust. They install
# redis-server (and openssl) if missing, and whatever happens every server
# started is stopped, and the certificates deleted, when the script exits.

redis_dir=$(mktemp -d)
redis_pids=()
redis_ports=()
# By pid, not by port: a port this script probed free may have been taken
# meanwhile by another run's server, which is not ours to stop (without
# save points, SIGTERM stops redis-server without saving).
redis_cleanup() {
	local pid
	for pid in "${redis_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${redis_pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$redis_dir"
}
trap redis_cleanup EXIT

# redis_apt PACKAGE: installs the Debian package, as root or by sudo.
redis_apt() {
	if [ "$(id -u)" -eq 0 ]; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
	elif command -v sudo >/dev/null; then
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
	else
		echo "$1 is not installed and neither root nor sudo is available to install it" >&2
		exit 1
	fi
}

redis_install() {
	if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
		redis_apt redis-server
	fi
}

# A free port: the first of a small range that nothing answers on, and
# that this script has not taken already.
redis_free_port() {
	local p
	for p in $(seq 6391 6410); do
		if [[ " ${redis_ports[*]} " != *" $p "* ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "no free port in 6391-6410 for redis-server" >&2
	exit 1
}

# redis_start NAME ARGS...: a redis-server with ARGS on a free port,
# answering; sets redis_port. A port probed free can be taken before the
# server binds it, by another run's server probing at the same time: then
# this one exits (Address already in use) and the next free port is tried.
# The server named tls takes TLS connections only, on that port, with the
# certificates redis_tls_certs made.
redis_start() {
	local name=$1 pid info try listen cli
	shift
	redis_install
	for try in 1 2 3 4 5; do
		redis_port=$(redis_free_port)
		listen=(--port "$redis_port")
		cli=(redis-cli -p "$redis_port")
		if [ "$name" = tls ]; then
			listen=(--port 0 --tls-port "$redis_port" --tls-cert-file "$redis_dir/tls/server.crt"
				--tls-key-file "$redis_dir/tls/server.key" --tls-ca-cert-file "$redis_dir/tls/ca.crt"
				--tls-auth-clients no)
			cli+=(--tls --cacert "$redis_dir/tls/ca.crt")
		fi
		: >"$redis_dir/$name.log"
		redis-server "${listen[@]}" --bind 127.0.0.1 --save '' --appendonly no \
			--dir "$redis_dir" --logfile "$redis_dir/$name.log" --maxmemory-policy noeviction "$@" &
		pid=$!
		redis_pids+=("$pid")
		redis_ports+=("$redis_port")
		for _ in $(seq 100); do
			# Answered by this server, not by another run's that took the
			# port after it was probed free (this one then exits).
			info=$("${cli[@]}" info server 2>/dev/null || true)
			if [[ $info == *"process_id:$pid"$'\r'* ]]; then
				return
			fi
			if ! kill -0 "$pid" 2>/dev/null; then
				if [ "$try" -lt 5 ] && grep -q 'Address already in use' "$redis_dir/$name.log"; then
					continue 2
				fi
				echo "redis-server ($name) exited:" >&2; cat "$redis_dir/$name.log" >&2; exit 1
			fi
			sleep 0.1
		done
		if [ -n "$info" ]; then
			echo "redis-server ($name, pid $pid) on port $redis_port: INFO names another process within 10s" >&2
		else
			echo "redis-server ($name) on port $redis_port did not answer within 10s" >&2
		fi
		cat "$redis_dir/$name.log" >&2
		exit 1
	done
}

start_redis() {
	redis_start redis --unixsocket "$redis_dir/redis.sock" --unixsocketperm 700
	export WEBHOOK_TEST_REDIS_URL="redis://127.0.0.1:$redis_port/0"
	export WEBHOOK_TEST_REDIS_SOCKET="$redis_dir/redis.sock"
}

# The cluster node takes every slot, and is ready once it says so.
start_redis_cluster() {
	redis_start cluster --cluster-enabled yes --cluster-config-file "$redis_dir/nodes.conf"
	redis-cli -p "$redis_port" cluster addslotsrange 0 16383 >/dev/null
	for _ in $(seq 100); do
		if redis-cli -p "$redis_port" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; then
			export WEBHOOK_REDIS_CLUSTER_ADDR="127.0.0.1:$redis_port"
			return
		fi
		sleep 0.1
	done
	echo "redis-server (cluster) on port $redis_port did not reach cluster_state:ok within 10s" >&2
	cat "$redis_dir/cluster.log" >&2
	exit 1
}

# redis_tls_certs makes, in $redis_dir/tls, a certificate authority
# (ca.crt) and a certificate it signs for 127.0.0.1 and localhost
# (server.crt, server.key), valid for a day: made for this run, so that
# nothing secret is in the repository, and deleted with $redis_dir.
redis_tls_certs() {
	local d="$redis_dir/tls"
	# openssl's progress dots go to stderr: kept aside, and shown only
	# when it fails, so that a failure says why.
	redis_openssl() {
		if ! openssl "$@" 2>"$d/openssl.log"; then
			echo "redis-server.sh: openssl $1 failed:" >&2
			cat "$d/openssl.log" >&2
			return 1
		fi
	}
	command -v openssl >/dev/null || redis_apt openssl
	mkdir -p "$d"
	redis_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-subj "/CN=webhook test CA" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign -keyout "$d/ca.key" -out "$d/ca.crt"
	redis_openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-subj "/CN=127.0.0.1" -keyout "$d/server.key" -out "$d/server.csr"
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/server.ext"
	redis_openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -set_serial 2 -days 1 \
		-extfile "$d/server.ext" -out "$d/server.crt"
	rm -f "$d/ca.key" "$d/server.csr" "$d/server.ext" "$d/openssl.log"
}

# A Redis speaking TLS only, as managed Redis services do (rediss://).
start_redis_tls() {
	redis_tls_certs
	redis_start tls
	export WEBHOOK_TEST_REDIS_TLS_URL="rediss://127.0.0.1:$redis_port/0"
	export WEBHOOK_TEST_REDIS_TLS_CA="$redis_dir/tls/ca.crt"
}
