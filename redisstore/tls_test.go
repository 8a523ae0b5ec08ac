package redisstore

import (
	"crypto/x509"
	"os"
	"testing"

	"github.com/inhook/webhook/inboxtest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// tlsClient connects to the Redis speaking TLS only (rediss://) named by
// WEBHOOK_TEST_REDIS_TLS_URL, trusting the certificate authority in the
// PEM file WEBHOOK_TEST_REDIS_TLS_CA names, as a user of managed Redis
// with a private authority does (scripts/redis-test.sh's
// start_redis_tls makes both), and closes the client after the test. CI
// must provide them, as it does the Redis.
func tlsClient(tb testing.TB) *redis.Client {
	tb.Helper()
	url, ca := os.Getenv("WEBHOOK_TEST_REDIS_TLS_URL"), os.Getenv("WEBHOOK_TEST_REDIS_TLS_CA")
	if url == "" || ca == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("WEBHOOK_TEST_REDIS_TLS_URL or WEBHOOK_TEST_REDIS_TLS_CA not set: CI must run these tests against a Redis speaking TLS (scripts/redis-test.sh starts one)")
		}
		tb.Skip("WEBHOOK_TEST_REDIS_TLS_URL or WEBHOOK_TEST_REDIS_TLS_CA not set; run scripts/redis-test.sh")
	}
	opts, err := redis.ParseURL(url)
	require.NoError(tb, err, "parse WEBHOOK_TEST_REDIS_TLS_URL")
	require.NotNil(tb, opts.TLSConfig, "WEBHOOK_TEST_REDIS_TLS_URL is not a rediss:// URL")
	pem, err := os.ReadFile(ca)
	require.NoError(tb, err)
	opts.TLSConfig.RootCAs = x509.NewCertPool()
	require.True(tb, opts.TLSConfig.RootCAs.AppendCertsFromPEM(pem), "no certificate in %s", ca)
	client := redis.NewClient(opts)
	ready(tb, client, "WEBHOOK_TEST_REDIS_TLS_URL")
	return client
}

// TestLifecycleTLS runs the Store's lifecycle table on a Redis speaking
// TLS only: the scripts and their replies are the same over TLS.
func TestLifecycleTLS(t *testing.T) {
	for _, tc := range lifecycle {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client := tlsClient(t)
			runLifecycle(t, New(client, WithPrefix(testPrefix(t, client))), "standard:msg_1", tc.steps)
		})
	}
}

// TestInboxConformanceTLS runs the webhook.Inbox conformance suite on a
// Redis speaking TLS only, each subtest under its own prefix.
func TestInboxConformanceTLS(t *testing.T) {
	inboxtest.Run(t, inboxOn(tlsClient))
}
