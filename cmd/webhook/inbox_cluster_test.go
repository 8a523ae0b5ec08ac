package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/inhook/webhook"
	"github.com/stretchr/testify/require"
)

// TestInboxRedisClusterFlags: --redis-cluster opens the inbox on Redis
// Cluster, the URL's other nodes in its query, with the same checks and
// errors as on one server: an inbox that is not there is an error that
// creates no key, the URL's password never shows, and the flag without
// --redis (or its variable) is a usage error.
func TestInboxRedisClusterFlags(t *testing.T) {
	client := clusterClient(t)
	prefix := clusterPrefix(t, client)
	ib := openTestRedisInbox(t, client, prefix)
	_, err := ib.Store(context.Background(), &webhook.InboxEntry{Key: "standard:msg_1", Source: "standard", ID: "msg_1", Body: []byte(`{}`)})
	require.NoError(t, err)
	file := inboxFixture(t)
	url := "redis://default:" + testPassword + "@" + testClusterAddr // the test cluster takes any password for default
	closed := "redis://someone:" + testPassword + "@" + closedAddr(t)

	for _, tt := range []redisFlagCase{
		{name: "help", args: []string{"list", "--help"}, stderr: "-redis-cluster"},
		{name: "cluster", args: []string{"list", "--redis", url, "--redis-cluster", "--redis-prefix", prefix}, stdout: "standard:msg_1"},
		{name: "other nodes", args: []string{"stats", "--redis", url + "?addr=" + testClusterAddr, "--redis-cluster=true", "--redis-prefix", prefix}, stdout: "pending:         1\n"},
		{name: "from the environment", args: []string{"show", "--redis-cluster", "--redis-prefix", prefix, "standard:msg_1"}, env: map[string]string{envRedisURL: url}, stdout: "standard:msg_1"},
		{name: "--redis env", args: []string{"list", "--redis", "env", "--redis-cluster", "--redis-prefix", prefix}, env: map[string]string{envRedisURL: url, envInbox: file}, stdout: "standard:msg_1"},
		{name: "no such inbox", args: []string{"stats", "--redis", url, "--redis-cluster", "--redis-prefix", prefix, "--redis-name", "defualt"}, code: exitFail, fast: true,
			stderr: `webhook inbox stats: --redis redis://default:xxxxx@` + testClusterAddr + `: no inbox "defualt" under prefix`},
		{name: "no such prefix", args: []string{"replay", "--state", "dead", "--redis", url, "--redis-cluster", "--redis-prefix", prefix + "x:"}, code: exitFail, fast: true,
			stderr: `: no inbox "default" under prefix`},
		{name: "with a file", args: []string{"stats", "--inbox", file, "--redis-cluster"}, code: exitUsage, stderr: "--redis-cluster goes with --redis"},
		{name: "with the file's variable", args: []string{"stats", "--redis-cluster"}, env: map[string]string{envInbox: file}, code: exitUsage, stderr: "--redis-cluster goes with --redis"},
		{name: "alone", args: []string{"stats", "--redis-cluster"}, code: exitUsage, stderr: "no inbox: give --inbox FILE or --redis URL"},
		{name: "a database", args: []string{"stats", "--redis", url + "/3", "--redis-cluster"}, code: exitUsage,
			stderr: "--redis-cluster: Redis Cluster has database 0 only: drop the /3 from the URL"},
		{name: "bad addr", args: []string{"stats", "--redis", url + "?addr=nohost", "--redis-cluster"}, code: exitUsage,
			stderr: "--redis is not a Redis Cluster URL (redis://[USER:PASSWORD@]HOST[:PORT][?addr=HOST2:PORT2&addr=…], rediss://… for TLS): redis: unable to parse addr param: nohost"},
		{name: "slash in the password", args: []string{"stats", "--redis", "redis://u:hunter2/x-Pa55@127.0.0.1", "--redis-cluster"}, code: exitUsage,
			stderr: "its password does not parse: percent-encode", hidden: "hunter2"},
		{name: "bad escape in the password", args: []string{"stats", "--redis", "redis://u:hunter2-%zz-Pa55@127.0.0.1", "--redis-cluster"}, code: exitUsage,
			stderr: "--redis is not a Redis Cluster URL", hidden: "%zz"},
		{name: "nothing listening", args: []string{"stats", "--redis", closed, "--redis-cluster"}, code: exitFail, fast: true,
			stderr: "webhook inbox stats: --redis redis://someone:xxxxx@"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := clusterKeys(t, client, prefix)
			tt.check(t)
			require.ElementsMatch(t, before, clusterKeys(t, client, prefix), "keys created or removed")
		})
	}
}

// TestServeRedisClusterFlags: serve --redis-cluster's usage errors, and a
// cluster out of reach, fail at once with no password shown.
func TestServeRedisClusterFlags(t *testing.T) {
	closed := "redis://someone:" + testPassword + "@" + closedAddr(t)
	file := filepath.Join(t.TempDir(), "inbox.db")
	for _, tt := range []serveFlagCase{
		{name: "alone", args: []string{"--redis-cluster"}, code: exitUsage, stderr: "--redis-cluster goes with --redis"},
		{name: "with a file", args: []string{"--inbox", file, "--redis-cluster"}, code: exitUsage, stderr: "--redis-cluster goes with --redis"},
		{name: "variable alone", args: []string{"--redis-cluster"}, env: closed, code: exitUsage, stderr: "--redis-cluster goes with --redis"},
		{name: "a database", args: []string{"--redis", closed + "/1", "--redis-cluster"}, code: exitUsage, stderr: "Redis Cluster has database 0 only"},
		{name: "not a URL", args: []string{"--redis", "rediss://u:" + testPassword + "@h:port", "--redis-cluster"}, code: exitUsage, stderr: "--redis is not a Redis Cluster URL"},
		{name: "nothing listening", args: []string{"--redis", closed, "--redis-cluster"}, code: exitFail, stderr: "webhook serve: --redis redis://someone:xxxxx@127.0.0.1:"},
		{name: "env", args: []string{"--redis", "env", "--redis-cluster"}, env: closed, code: exitFail, stderr: "webhook serve: --redis redis://someone:xxxxx@127.0.0.1:"},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, file) })
	}
}
