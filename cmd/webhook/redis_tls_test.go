package main

import (
	"context"
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// testTLSEnv and testTLSCAEnv name the disposable Redis speaking TLS only
// (rediss://) that the tests of --redis rediss:// run on, and the PEM file
// of the certificate authority that signed its certificate
// (scripts/redis-server.sh's start_redis_tls makes both).
const (
	testTLSEnv   = "WEBHOOK_TEST_REDIS_TLS_URL"
	testTLSCAEnv = "WEBHOOK_TEST_REDIS_TLS_CA"
)

// redisTLS is the TLS Redis's URL and its authority's file. CI must
// provide them, as it does the Redis.
func redisTLS(tb testing.TB) (url, ca string) {
	tb.Helper()
	if testTLSURL == "" || testTLSCA == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal(testTLSEnv + " or " + testTLSCAEnv + " not set: CI must run these tests against a Redis speaking TLS (scripts/test.sh starts one)")
		}
		tb.Skip(testTLSEnv + " or " + testTLSCAEnv + " not set; run scripts/test.sh with redis-server installed")
	}
	return testTLSURL, testTLSCA
}

// redisTLSClient connects to the TLS Redis, trusting its authority, and
// closes the client after the test.
func redisTLSClient(tb testing.TB) *redis.Client {
	tb.Helper()
	url, ca := redisTLS(tb)
	opts, err := redis.ParseURL(url)
	require.NoError(tb, err, "parse "+testTLSEnv)
	pem, err := os.ReadFile(ca)
	require.NoError(tb, err)
	roots := x509.NewCertPool()
	require.True(tb, roots.AppendCertsFromPEM(pem), "no certificate in %s", ca)
	require.NotNil(tb, opts.TLSConfig, "%s is not a rediss:// URL", testTLSEnv)
	opts.TLSConfig.RootCAs = roots
	client := redis.NewClient(opts)
	tb.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(tb, client.Ping(ctx).Err(), "ping "+testTLSEnv)
	return client
}

// TestRedisTLSClient: the test TLS Redis refuses a client that does not
// trust its authority, so that the tests below, where the binary is told
// of it by SSL_CERT_FILE, show the binary reads that file.
func TestRedisTLSClient(t *testing.T) {
	client := redisTLSClient(t)
	require.NoError(t, client.Set(context.Background(), "webhookcli:TestRedisTLSClient", "x", time.Minute).Err())
	url, _ := redisTLS(t)
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	pool := x509.NewCertPool() // trusts nothing
	opts.TLSConfig.RootCAs = pool
	untrusting := redis.NewClient(opts)
	defer untrusting.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var unknown x509.UnknownAuthorityError
	require.ErrorAs(t, untrusting.Ping(ctx).Err(), &unknown)
}
