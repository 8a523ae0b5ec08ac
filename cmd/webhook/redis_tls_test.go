package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
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

// withTLSPassword is the TLS Redis's URL with a user and a password,
// which no error may show (it takes none, but the handshake fails first).
func withTLSPassword(t *testing.T, user, password string) string {
	t.Helper()
	url, _ := redisTLS(t)
	rest, ok := strings.CutPrefix(url, "rediss://")
	require.True(t, ok, "%s is not a rediss:// URL", testTLSEnv)
	return "rediss://" + user + ":" + password + "@" + rest
}

// otherCA writes the certificate of a certificate authority that signed
// nothing the tests' Redis holds, as a PEM file, and returns its path.
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "another CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return path
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

// TestRedisTLSUnknownAuthority: serve --redis and inbox --redis on a
// rediss:// URL whose server's certificate no authority the binary trusts
// signed (neither the system's nor the one SSL_CERT_FILE names) fail in
// one line, quickly, exit 1, saying so and how to trust a private
// authority, without the URL's password.
func TestRedisTLSUnknownAuthority(t *testing.T) {
	bin := buildCLI(t)
	url := withTLSPassword(t, "ops", testPassword)
	other := otherCA(t)
	for _, tc := range []struct {
		name string
		args []string
		env  []string
	}{
		{"serve, system authorities", []string{"serve", "--test-keys", "--addr", "127.0.0.1:0", "--redis", url}, nil},
		{"serve, another authority", []string{"serve", "--test-keys", "--addr", "127.0.0.1:0", "--redis", "env"},
			[]string{envRedisURL + "=" + url, "SSL_CERT_FILE=" + other}},
		{"inbox, system authorities", []string{"inbox", "stats", "--redis", url}, nil},
		{"inbox, another authority", []string{"inbox", "list", "--redis", url}, []string{"SSL_CERT_FILE=" + other}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr := failsFast(t, bin, 5*time.Second,
				append([]string{envInbox + "=", envRedisURL + "=", "SSL_CERT_FILE=", "SSL_CERT_DIR="}, tc.env...), tc.args...)
			require.Regexp(t, `^webhook (serve|inbox stats|inbox list): --redis rediss://ops:xxxxx@127\.0\.0\.1:\d+/0: .*certificate signed by unknown authority.*\n$`, stderr)
			require.Contains(t, stderr, "SSL_CERT_FILE")
			require.NotContains(t, stderr, testPassword)
		})
	}
}

// TestRedisTLSMismatch: a redis:// URL naming a Redis that speaks TLS
// only, and a rediss:// one naming a Redis that does not speak it, fail
// in one line, quickly, exit 1, with an error that points at the scheme,
// without the URL's password.
func TestRedisTLSMismatch(t *testing.T) {
	bin := buildCLI(t)
	tlsURL := withTLSPassword(t, "ops", testPassword)
	plainToTLS := "redis://" + strings.TrimPrefix(tlsURL, "rediss://")
	tlsToPlain := "rediss://" + strings.TrimPrefix(withPassword(t, "ops", testPassword), "redis://")
	for _, tc := range []struct {
		name, url, want string
	}{
		// The server closes the connection, which gave "EOF" alone.
		{"redis:// to TLS", plainToTLS, `^webhook inbox stats: --redis redis://ops:xxxxx@127\.0\.0\.1:\d+/0: the connection was closed without an answer \(.+\): does Redis speak TLS \(rediss://\) where the URL does not \(redis://\), or refuse this client\?\n$`},
		// The server waits for the rest of a command that never comes:
		// the handshake is part of the dial, whose 2 s ran out, not the
		// 5 s of the first command, which the error said.
		{"rediss:// to plain", tlsToPlain, `^webhook inbox stats: --redis rediss://ops:xxxxx@127\.0\.0\.1:\d+/0: no answer within 2s \(context deadline exceeded\): is Redis there, and does it speak TLS as the URL says \(rediss://\) or not \(redis://\)\?\n$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr := failsFast(t, bin, 8*time.Second, []string{envInbox + "=", envRedisURL + "="}, "inbox", "stats", "--redis", tc.url)
			require.Regexp(t, tc.want, stderr)
			require.NotContains(t, stderr, testPassword)
		})
	}
}
