package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/redisstore"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// testRedisEnv names the disposable Redis the tests run on, as for
// redisstore's tests (scripts/test.sh and scripts/redis-test.sh start
// one): never envRedisURL, which an operator exports for webhook inbox
// with the receivers' Redis in it, where the tests would write and
// delete keys.
const testRedisEnv = "WEBHOOK_TEST_REDIS_URL"

// testRedisURL is the Redis the tests run on. TestMain takes both
// variables out of the environment: the commands under test read
// envRedisURL as the inbox to open.
var testRedisURL string

// testClusterEnv names the one-node Redis Cluster the --redis-cluster
// tests run on, as for redisstore's (scripts/redis-server.sh starts it).
const testClusterEnv = "WEBHOOK_REDIS_CLUSTER_ADDR"

// testClusterAddr is that cluster's HOST:PORT.
var testClusterAddr string

// testSocketEnv names the unix socket the test Redis also listens on
// (scripts/redis-server.sh's start_redis opens it), for --redis
// unix://PATH.
const testSocketEnv = "WEBHOOK_TEST_REDIS_SOCKET"

// testSocket is that socket's path.
var testSocket string

// testTLSURL and testTLSCA are the TLS Redis's URL and its authority's
// file (redis_tls_test.go).
var testTLSURL, testTLSCA string

func TestMain(m *testing.M) {
	// As main does: the tests call run, and without it go-redis logged
	// every failed dial of the commands on the tests' standard error
	// (TestFailedDialsQuiet), each also the command's own error.
	redis.SetLogger(quietRedis{})
	testRedisURL = os.Getenv(testRedisEnv)
	testClusterAddr = os.Getenv(testClusterEnv)
	testSocket = os.Getenv(testSocketEnv)
	testTLSURL = os.Getenv(testTLSEnv)
	testTLSCA = os.Getenv(testTLSCAEnv)
	os.Unsetenv(testRedisEnv)
	os.Unsetenv(testClusterEnv)
	os.Unsetenv(testSocketEnv)
	os.Unsetenv(testTLSEnv)
	os.Unsetenv(testTLSCAEnv)
	os.Unsetenv(envRedisURL)
	os.Exit(m.Run())
}

// redisURL is the test Redis's URL. CI must provide one, so there a
// missing URL fails the test instead of skipping it, as in redisstore.
func redisURL(tb testing.TB) string {
	tb.Helper()
	if testRedisURL == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal(testRedisEnv + " not set: CI must run these tests against a Redis (scripts/test.sh starts one)")
		}
		tb.Skip(testRedisEnv + " not set; run scripts/test.sh with redis-server installed, or point it at a disposable Redis, e.g. redis://127.0.0.1:6379/0")
	}
	return testRedisURL
}

// redisSocketURL is the test Redis's URL by its unix socket,
// unix://PATH?db=N, with the database of its redis:// URL. CI must
// provide the socket, as it does the Redis.
func redisSocketURL(tb testing.TB) string {
	tb.Helper()
	opts, err := redis.ParseURL(redisURL(tb))
	require.NoError(tb, err, "parse "+testRedisEnv)
	if testSocket == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal(testSocketEnv + " not set: CI must run these tests against a Redis on a unix socket (scripts/test.sh starts one)")
		}
		tb.Skip(testSocketEnv + " not set; run scripts/test.sh with redis-server installed, or name the unix socket of the Redis " + testRedisEnv + " names")
	}
	return fmt.Sprintf("unix://%s?db=%d", testSocket, opts.DB)
}

// redisClient connects to the test Redis and closes the client after the
// test.
func redisClient(tb testing.TB) *redis.Client {
	tb.Helper()
	opts, err := redis.ParseURL(redisURL(tb))
	require.NoError(tb, err, "parse "+testRedisEnv)
	client := redis.NewClient(opts)
	tb.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(tb, client.Ping(ctx).Err(), "ping "+testRedisEnv)
	return client
}

// redisPrefix returns a key prefix no other test or run uses, and
// deletes its keys after the test.
func redisPrefix(tb testing.TB, client *redis.Client) string {
	tb.Helper()
	prefix := fmt.Sprintf("webhookcli:%s:%d:", tb.Name(), time.Now().UnixNano())
	tb.Cleanup(func() {
		ctx := context.Background()
		if keys := redisKeys(tb, client, prefix); len(keys) > 0 {
			client.Del(ctx, keys...)
		}
	})
	return prefix
}

// redisKeys lists the keys under prefix.
func redisKeys(tb testing.TB, client *redis.Client, prefix string) []string {
	tb.Helper()
	ctx := context.Background()
	var keys []string
	iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	require.NoError(tb, iter.Err())
	return keys
}

// openTestRedisInbox opens the inbox under prefix on the test Redis, as a
// receiver would, with the options given.
func openTestRedisInbox(tb testing.TB, client redis.UniversalClient, prefix string, opts ...redisstore.InboxOption) *redisstore.Inbox {
	tb.Helper()
	ib, err := redisstore.NewInbox(client, append([]redisstore.InboxOption{redisstore.WithInboxPrefix(prefix)}, opts...)...)
	require.NoError(tb, err)
	return ib
}

// clusterClient is a cluster client of the test Redis Cluster, closed
// after the test. CI must provide the cluster, as in redisstore.
func clusterClient(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	if testClusterAddr == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal(testClusterEnv + " not set: CI must run these tests against a Redis Cluster (scripts/test.sh starts one)")
		}
		tb.Skip(testClusterEnv + " not set; run scripts/test.sh with redis-server installed")
	}
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{testClusterAddr}})
	tb.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(tb, client.Ping(ctx).Err(), "ping "+testClusterEnv)
	return client
}

// clusterPrefix returns a key prefix no other test or run uses on the
// test cluster, and deletes its keys after the test.
func clusterPrefix(tb testing.TB, client *redis.ClusterClient) string {
	tb.Helper()
	prefix := fmt.Sprintf("webhookcli:%s:%d:", tb.Name(), time.Now().UnixNano())
	tb.Cleanup(func() {
		ctx := context.Background()
		for _, k := range clusterKeys(tb, client, prefix) {
			client.Del(ctx, k)
		}
	})
	return prefix
}

// clusterKeys lists the keys under prefix on every master of the test
// cluster.
func clusterKeys(tb testing.TB, client *redis.ClusterClient, prefix string) []string {
	tb.Helper()
	var mu sync.Mutex
	var keys []string
	require.NoError(tb, client.ForEachMaster(context.Background(), func(ctx context.Context, node *redis.Client) error {
		iter := node.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			keys = append(keys, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}))
	return keys
}

// withPassword is the test Redis's URL with a user and a password, which
// no error may show.
func withPassword(t *testing.T, user, password string) string {
	t.Helper()
	u := redisURL(t)
	rest, ok := strings.CutPrefix(u, "redis://")
	require.True(t, ok, "%s is not a redis:// URL", testRedisEnv)
	if _, host, ok := strings.Cut(rest, "@"); ok {
		rest = host
	}
	return "redis://" + user + ":" + password + "@" + rest
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

const testPassword = "hunter2-s3cret-Pa55"

// TestInboxRedisFlags: which inbox a command opens, and the usage errors
// of naming one: exactly one of --inbox and --redis (or, without either,
// of WEBHOOK_INBOX and WEBHOOK_REDIS_URL), a URL go-redis parses, a
// prefix and a name redisstore takes. No output shows the URL's password.
// redisFlagCase is a webhook inbox command line on a Redis inbox and what
// it must print and exit with, never showing a password.
type redisFlagCase struct {
	name   string
	args   []string // after "inbox"
	env    map[string]string
	code   int
	stdout string
	stderr string
	fast   bool   // within a few seconds
	hidden string // a piece of a password, not shown either
}

// check runs the command line in a clean environment and holds it to tt.
func (tt redisFlagCase) check(t *testing.T) {
	t.Setenv(envInbox, "")
	t.Setenv(envRedisURL, "")
	for k, v := range tt.env {
		t.Setenv(k, v)
	}
	start := time.Now()
	code, stdout, stderr := runCLI(t, append([]string{"inbox"}, tt.args...)...)
	require.Equal(t, tt.code, code, "stdout: %s\nstderr: %s", stdout, stderr)
	require.Contains(t, stdout, tt.stdout)
	require.Contains(t, stderr, tt.stderr)
	require.NotContains(t, stdout+stderr, testPassword)
	require.NotContains(t, stdout+stderr, "s3cret")
	if tt.hidden != "" {
		require.NotContains(t, stdout+stderr, tt.hidden)
	}
	if tt.code == exitFail {
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %s", stderr)
	}
	if tt.fast {
		require.Less(t, time.Since(start), 5*time.Second)
	}
}

func TestInboxRedisFlags(t *testing.T) {
	client := redisClient(t)
	prefix := redisPrefix(t, client)
	ib := openTestRedisInbox(t, client, prefix)
	_, err := ib.Store(context.Background(), &webhook.InboxEntry{Key: "standard:msg_1", Source: "standard", ID: "msg_1", Body: []byte(`{}`)})
	require.NoError(t, err)
	file := inboxFixture(t)
	url := withPassword(t, "default", testPassword) // the test Redis takes any password for default
	closed := "redis://someone:" + testPassword + "@" + closedAddr(t) + "/0"

	for _, tt := range []redisFlagCase{
		{name: "help", args: []string{"--help"}, stdout: "or as --redis URL (or $WEBHOOK_REDIS_URL"},
		{name: "flags", args: []string{"replay", "--help"}, stderr: `-redis-prefix string
    	with --redis: the prefix of the inbox's keys, as redisstore.WithInboxPrefix (default "webhook:inbox:")`},
		{name: "redis", args: []string{"list", "--redis", url, "--redis-prefix", prefix}, stdout: "standard:msg_1"},
		{name: "redis=", args: []string{"stats", "--redis=" + url, "--redis-prefix=" + prefix}, stdout: "pending:"},
		{name: "redis from the environment", args: []string{"list", "--redis-prefix", prefix}, env: map[string]string{envRedisURL: url}, stdout: "standard:msg_1"},
		{name: "--redis env", args: []string{"list", "--redis", "env", "--redis-prefix", prefix}, env: map[string]string{envRedisURL: url, envInbox: file}, stdout: "standard:msg_1"},
		{name: "--redis env unset", args: []string{"list", "--redis", "env"}, env: map[string]string{envInbox: file}, code: exitUsage,
			stderr: "--redis env: WEBHOOK_REDIS_URL is not set"},
		{name: "the flag before the other variable", args: []string{"list", "--redis", url, "--redis-prefix", prefix},
			env: map[string]string{envInbox: file}, stdout: "standard:msg_1"},
		{name: "the file flag before the other variable", args: []string{"list", "--inbox", file},
			env: map[string]string{envRedisURL: url}, stdout: "standard:msg_dead"},
		{name: "both flags", args: []string{"list", "--inbox", file, "--redis", url}, code: exitUsage,
			stderr: "give --inbox FILE or --redis URL, not both"},
		{name: "both variables", args: []string{"list"}, env: map[string]string{envInbox: file, envRedisURL: url}, code: exitUsage,
			stderr: "both WEBHOOK_INBOX and WEBHOOK_REDIS_URL are set: give --inbox FILE or --redis URL"},
		{name: "neither", args: []string{"stats"}, code: exitUsage,
			stderr: "no inbox: give --inbox FILE or --redis URL (or set WEBHOOK_INBOX or WEBHOOK_REDIS_URL)"},
		{name: "empty URL", args: []string{"stats", "--redis", ""}, env: map[string]string{envRedisURL: url}, code: exitUsage,
			stderr: "--redis needs a URL"},
		{name: "empty file", args: []string{"stats", "--inbox", ""}, env: map[string]string{envInbox: file}, code: exitUsage,
			stderr: "--inbox needs a file name"},
		{name: "prefix with a file", args: []string{"stats", "--inbox", file, "--redis-prefix", "x:"}, code: exitUsage,
			stderr: "--redis-prefix goes with --redis"},
		{name: "name with a file", args: []string{"stats", "--redis-name", "x"}, env: map[string]string{envInbox: file}, code: exitUsage,
			stderr: "--redis-name goes with --redis"},
		{name: "empty name", args: []string{"stats", "--redis", url, "--redis-name", ""}, code: exitUsage,
			stderr: "--redis-name must not be empty"},
		{name: "braces", args: []string{"stats", "--redis", url, "--redis-prefix", "a{b}:"}, code: exitUsage,
			stderr: "--redis-prefix and --redis-name must not contain braces"},
		{name: "another scheme", args: []string{"stats", "--redis", "http://u:" + testPassword + "@127.0.0.1/"}, code: exitUsage,
			stderr: `--redis is not a Redis URL (redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://… for TLS, unix://[USER:PASSWORD@]/PATH/TO/SOCKET[?db=N]): redis: invalid URL scheme: http`},
		{name: "no URL", args: []string{"stats", "--redis", "127.0.0.1:6379"}, code: exitUsage, stderr: "--redis is not a Redis URL"},
		{name: "bad port", args: []string{"stats", "--redis", "redis://u:" + testPassword + "@127.0.0.1:x/0"}, code: exitUsage,
			stderr: "--redis is not a Redis URL"},
		{name: "bad userinfo", args: []string{"stats", "--redis", "redis://u:" + testPassword + "%zz@127.0.0.1/0"}, code: exitUsage,
			stderr: "--redis is not a Redis URL"},
		// The escape that does not parse is the password's: the
		// error quotes it.
		{name: "bad escape in the password", args: []string{"stats", "--redis", "redis://u:hunter2-%zz-Pa55@127.0.0.1/0"}, code: exitUsage,
			stderr: "--redis is not a Redis URL", hidden: "%zz"},
		// A / in the password ends the host there: url.Parse took its
		// start for a port, go-redis the rest for the path, and quoted
		// them.
		{name: "slash in the password", args: []string{"stats", "--redis", "redis://u:hunter2/x-Pa55@127.0.0.1/0"}, code: exitUsage,
			stderr: "its password does not parse: percent-encode", hidden: "hunter2"},
		{name: "slash in the password after digits", args: []string{"stats", "--redis", "redis://u:6379/Pa55/x@127.0.0.1/0"}, code: exitUsage,
			stderr: "its password does not parse: percent-encode", hidden: "Pa55"},
		{name: "query mark in the password", args: []string{"stats", "--redis", "redis://u:hunter2?x-Pa55@127.0.0.1/0"}, code: exitUsage,
			stderr: "its password does not parse: percent-encode", hidden: "hunter2"},
		{name: "bad database", args: []string{"stats", "--redis", "redis://u:" + testPassword + "@127.0.0.1/zero"}, code: exitUsage,
			stderr: `invalid database number: "zero"`},
		{name: "bad option", args: []string{"stats", "--redis", "redis://u:" + testPassword + "@127.0.0.1/0?dial_timeout=soon"}, code: exitUsage,
			stderr: "invalid dial_timeout duration"},
		// The URL given where a KEY or nothing goes (--redis forgotten).
		{name: "URL as an argument", args: []string{"stats", "--redis-name", "x", url}, env: map[string]string{envRedisURL: url}, code: exitUsage,
			stderr: "unexpected argument (not shown: it may hold a password"},
		{name: "flag of another subcommand", args: []string{"show", "--redis", url, "--state", "dead", "k"}, code: exitUsage,
			stderr: "show does not take --state"},
		{name: "nothing listening", args: []string{"stats", "--redis", closed}, code: exitFail, fast: true,
			stderr: "webhook inbox stats: --redis redis://someone:xxxxx@"},
		{name: "nothing listening, from the environment", args: []string{"list", "--state", "dead"}, env: map[string]string{envRedisURL: closed}, code: exitFail, fast: true,
			stderr: "connection refused"},
		{name: "wrong user", args: []string{"stats", "--redis", withPassword(t, "nobody", testPassword), "--redis-prefix", prefix}, code: exitFail, fast: true,
			stderr: "WRONGPASS"},
		// A password written without the colon before it is the URL's
		// user name to url.Parse and go-redis, but a password to whoever
		// wrote it: no error shows it either.
		{name: "password without its colon, nothing listening", args: []string{"stats", "--redis", "redis://" + testPassword + "@" + closedAddr(t) + "/0"}, code: exitFail, fast: true,
			stderr: "webhook inbox stats: --redis redis://xxxxx@"},
		{name: "password without its colon, no such database", args: []string{"stats", "--redis", "redis://" + testPassword + "@127.0.0.1/zero"}, code: exitUsage,
			stderr: `invalid database number: "zero"`},
	} {
		t.Run(tt.name, tt.check)
	}
}

// TestInboxRedisNoSuchInbox: on a prefix, a name or a database that holds
// no inbox, every subcommand says so and exits 1, rather than printing an
// empty list or zero counts that would hide the typo, and leaves no key
// behind: it never creates the inbox it looks for. An inbox a receiver's
// workers have leased on before anything arrived exists, empty.
func TestInboxRedisNoSuchInbox(t *testing.T) {
	client := redisClient(t)
	prefix := redisPrefix(t, client)
	ib := openTestRedisInbox(t, client, prefix) // the inbox "default" under prefix
	_, err := ib.Store(context.Background(), &webhook.InboxEntry{Key: "standard:msg_1", Source: "standard", ID: "msg_1", Body: []byte(`{}`)})
	require.NoError(t, err)
	empty := prefix + "empty:"
	_, err = openTestRedisInbox(t, client, empty).Lease(context.Background(), 1, time.Minute)
	require.NoError(t, err)
	url := redisURL(t)
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	otherDB := fmt.Sprintf("redis://%s/%d", opts.Addr, (opts.DB+1)%16)
	opts.DB = (opts.DB + 1) % 16
	other := redis.NewClient(opts)
	defer other.Close()
	// The keys the commands could create: under the test's prefix, under
	// the default prefix with the test's prefix as the name, and in the
	// other database.
	keys := func() []string {
		k := append(redisKeys(t, client, prefix), redisKeys(t, client, redisstore.DefaultInboxPrefix+"{"+prefix+"}")...)
		return append(k, redisKeys(t, other, prefix)...)
	}

	subs := [][]string{
		{"list"}, {"list", "--json"}, {"list", "--state", "dead", "--order", "updated"}, {"show", "standard:msg_1"},
		{"stats"}, {"stats", "--json"}, {"replay", "standard:msg_1"}, {"replay", "--state", "dead"},
		{"purge"}, {"purge", "--state", "dead", "--older-than", "0s"},
	}
	for _, where := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"another name", []string{"--redis", url, "--redis-prefix", prefix, "--redis-name", "defualt"},
			fmt.Sprintf(`no inbox "defualt" under prefix %q there (no key %s{defualt}:q, :meta or :all`, prefix, prefix)},
		{"another prefix", []string{"--redis", url, "--redis-prefix", prefix + "x:"}, `no inbox "default" under prefix`},
		{"the default prefix", []string{"--redis", url, "--redis-name", prefix}, `no inbox "` + prefix + `" under prefix "webhook:inbox:"`},
		{"another database", []string{"--redis", otherDB, "--redis-prefix", prefix}, "check --redis-prefix, --redis-name and the database in the URL"},
	} {
		for _, sub := range subs {
			t.Run(where.name+"/"+strings.Join(sub, " "), func(t *testing.T) {
				before := keys()
				code, stdout, stderr := runCLI(t, append(append([]string{"inbox"}, sub...), where.flags...)...)
				require.Equal(t, exitFail, code, "stdout: %s\nstderr: %s", stdout, stderr)
				require.Empty(t, stdout)
				require.Contains(t, stderr, "webhook inbox "+sub[0]+": --redis redis://")
				require.Contains(t, stderr, where.want)
				require.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
				require.ElementsMatch(t, before, keys(), "keys created or removed")
			})
		}
	}

	// Empty, but there: zero counts, an empty list.
	code, stdout, stderr := runCLI(t, "inbox", "stats", "--json", "--redis", url, "--redis-prefix", empty)
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, `{"pending":0,"retrying":0,"in_flight":0,"done":0,"dead":0,"oldest_pending_age_seconds":0}`+"\n", stdout)
	code, stdout, stderr = runCLI(t, "inbox", "list", "--redis", url, "--redis-prefix", empty)
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, 1, strings.Count(stdout, "\n"), "the header line only: %s", stdout)
}

// TestServeRedisFlags: serve --redis runs inbox mode on a redisstore
// inbox; its usage errors, and a Redis out of reach, fail at once with no
// password shown.
// serveFlagCase is a webhook serve command line naming a Redis inbox that
// must exit at once, as code, never showing a password.
type serveFlagCase struct {
	name   string
	args   []string // after "serve --test-keys --addr 127.0.0.1:0"
	env    string   // WEBHOOK_REDIS_URL
	code   int
	stderr string
}

// check runs the command line in a clean environment and holds it to tt;
// file is an inbox file it must not create.
func (tt serveFlagCase) check(t *testing.T, file string) {
	clearEnv(t)
	t.Setenv(envRedisURL, tt.env)
	start := time.Now()
	code, stdout, stderr := runCLI(t, append([]string{"serve", "--test-keys", "--addr", "127.0.0.1:0"}, tt.args...)...)
	require.Equal(t, tt.code, code, "stdout: %s\nstderr: %s", stdout, stderr)
	require.Contains(t, stderr, tt.stderr)
	require.NotContains(t, stdout+stderr, testPassword)
	require.Less(t, time.Since(start), 5*time.Second)
	if tt.code == exitFail {
		require.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
	}
	_, err := os.Stat(file)
	require.ErrorIs(t, err, os.ErrNotExist, "no inbox file made")
}

func TestServeRedisFlags(t *testing.T) {
	closed := "redis://someone:" + testPassword + "@" + closedAddr(t) + "/0"
	file := filepath.Join(t.TempDir(), "inbox.db")
	for _, tt := range []serveFlagCase{
		{name: "both", args: []string{"--inbox", file, "--redis", closed}, code: exitUsage, stderr: "give --inbox FILE or --redis URL, not both"},
		{name: "empty URL", args: []string{"--redis", ""}, code: exitUsage, stderr: "--redis needs a URL"},
		{name: "prefix alone", args: []string{"--redis-prefix", "x:"}, code: exitUsage, stderr: "--redis-prefix and --redis-name go with --redis"},
		{name: "prefix with a file", args: []string{"--inbox", file, "--redis-name", "x"}, code: exitUsage, stderr: "--redis-prefix and --redis-name go with --redis"},
		{name: "braces", args: []string{"--redis", closed, "--redis-name", "{x}"}, code: exitUsage, stderr: "must not contain braces"},
		{name: "not a URL", args: []string{"--redis", "rediss://u:" + testPassword + "@h:port/0"}, code: exitUsage, stderr: "--redis is not a Redis URL"},
		{name: "nothing listening", args: []string{"--redis", closed}, code: exitFail, stderr: "webhook serve: --redis redis://someone:xxxxx@127.0.0.1:"},
		// --redis env: the URL, password and all, out of ps.
		{name: "env", args: []string{"--redis", "env"}, env: closed, code: exitFail, stderr: "webhook serve: --redis redis://someone:xxxxx@127.0.0.1:"},
		{name: "env unset", args: []string{"--redis", "env"}, code: exitUsage, stderr: "--redis env: WEBHOOK_REDIS_URL is not set"},
		{name: "env not a URL", args: []string{"--redis", "env"}, env: "rediss://u:" + testPassword + "@h:port/0", code: exitUsage, stderr: "--redis is not a Redis URL"},
		// Without the flag the variable changes nothing: serve is no
		// inbox-mode receiver because of it.
		{name: "variable alone", args: []string{"--redis-name", "x"}, env: closed, code: exitUsage, stderr: "--redis-prefix and --redis-name go with --redis"},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, file) })
	}
}

// FuzzRedisParseError: why a --redis URL does not parse is told the same
// whatever its password, so that no piece of it shows: as for the URL
// with a password that parses, or, when that URL parses, as the password's
// fault.
func FuzzRedisParseError(f *testing.F) {
	for _, seed := range [][3]string{
		{"u", "hunter2-%zz-Pa55", "127.0.0.1/0"},
		{"u", "hunter2/x-Pa55", "127.0.0.1/0"},
		{"u", "6379/Pa55/x", "127.0.0.1/0"},
		{"", "hunter2?x#y", "127.0.0.1:6379/0"},
		{"u", "Pa55", "127.0.0.1:x/0"},
		{"u", "Pa55", "127.0.0.1/zero"},
		{"u", "Pa55", "127.0.0.1/0?dial_timeout=soon"},
		{"u v", "Pa55", "127.0.0.1/0"},
		{"u", "Pa55", "127.0.0.1:7000?addr=127.0.0.1"},
		{"u", "hunter2/x-Pa55", "127.0.0.1:7000?addr=127.0.0.1:7001"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, user, password, host string) {
		if password == "" || strings.ContainsAny(user, ":") || strings.Contains(host, "@") {
			return // the password is whatever lies between user: and the last @
		}
		raw := "redis://" + user + ":" + password + "@" + host
		plain := "redis://" + user + ":pw@" + host
		for _, cluster := range []bool{false, true} {
			err := parseRedisURL(raw, cluster)
			if err == nil {
				continue
			}
			want := "its password does not parse: percent-encode it (%25 for %, %2F for /, %3F for ?, %23 for #, %40 for @)"
			if perr := parseRedisURL(plain, cluster); perr != nil {
				want = parseError(plain, cluster, perr)
			}
			require.Equal(t, want, parseError(raw, cluster, err), "cluster: %v", cluster)
		}
	})
}
