package main

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/inhook/webhook/redisstore"
	"github.com/redis/go-redis/v9"
)

// envRedisURL names the Redis of a redisstore inbox when neither --inbox
// nor --redis is given, so that its password need not be on the command
// line, where ps and the shell's history show it.
const envRedisURL = "WEBHOOK_REDIS_URL"

// Timeouts for reaching Redis, unless the URL sets them
// (?dial_timeout=…): a command run by hand, or by an alert, must say at
// once that Redis is out of reach, not wait go-redis's 5 s a dial.
const (
	redisDialTimeout = 2 * time.Second
	// redisCheckTimeout bounds each of the first round trips, which say
	// whether Redis answers and holds the inbox.
	redisCheckTimeout = 5 * time.Second
)

// redisFromEnv, given as --redis, reads the URL from envRedisURL: the
// only way serve reads it, which the variable alone does not put in
// inbox mode.
const redisFromEnv = "env"

// fromEnv replaces --redis env by the URL envRedisURL holds, failing
// with a usage error when it holds none.
func (r *redisFlags) fromEnv() error {
	if *r.url != redisFromEnv {
		return nil
	}
	*r.url = strings.TrimSpace(os.Getenv(envRedisURL))
	if *r.url == "" {
		return fmt.Errorf("%w: --redis env: %s is not set", errFlag, envRedisURL)
	}
	return nil
}

// redisFlags are the flags naming a redisstore inbox.
type redisFlags struct {
	url, prefix, name *string
	cluster           *bool
}

// register adds the flags to fs, --redis described as what (for serve,
// the inbox it runs on; for inbox, the one it opens).
func (r *redisFlags) register(fs *flag.FlagSet, what string) {
	r.url = fs.String("redis", "", what+", as a URL: redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss:// for TLS, "+socketURLForm+" for a unix socket; env for the URL in $"+envRedisURL+", out of ps")
	r.prefix = fs.String("redis-prefix", redisstore.DefaultInboxPrefix, "with --redis: the prefix of the inbox's keys, as redisstore.WithInboxPrefix")
	r.name = fs.String("redis-name", redisstore.DefaultInboxName, "with --redis: the inbox's name, as redisstore.WithInboxName")
	r.cluster = fs.Bool("redis-cluster", false, "with --redis: the URL names nodes of a Redis Cluster: redis://[USER:PASSWORD@]HOST[:PORT][?addr=HOST2:PORT2&addr=…]")
}

// redisTLSHelp is what the help of serve and inbox say of rediss://: how
// to trust the private certificate authority of a managed Redis, which
// needs no flag where Go's crypto/x509 reads the variables (Linux and the
// other Unix systems but macOS).
const redisTLSHelp = `With rediss:// the server's certificate must be signed by an
authority the system trusts. For one of its own (a managed Redis's), on
Linux set $SSL_CERT_FILE to the authority's certificate, a PEM file read in
place of the system's bundle, or $SSL_CERT_DIR to a directory holding it,
read in place of the system's directories (colons between several).`

// socketURLForm is the form of a --redis URL naming a unix socket, as
// go-redis's ParseURL reads it: the path after unix://, the database as
// ?db=N (not as a /DB, which would be read as part of the path).
const socketURLForm = "unix://[USER:PASSWORD@]/PATH/TO/SOCKET[?db=N]"

// errFlag marks an error in what the flags say, a usage error.
var errFlag = errors.New("usage")

// redisInbox is a redisstore inbox opened by openRedisInbox, with the
// client it owns.
type redisInbox struct {
	*redisstore.Inbox
	client   redis.UniversalClient
	password string // the URL's, which no error shows
	// dialTimeout bounds a connection attempt, a TLS handshake included.
	dialTimeout time.Duration
}

func (r redisInbox) Close() error { return r.client.Close() }

// openRedisInbox opens the redisstore inbox that raw (a --redis URL),
// prefix and name select, once Redis has answered that it holds it:
// commands that only look must not pass an inbox that is not there (a
// typo in the name or the prefix, the wrong database) for an empty one,
// and the others have nothing to repair in it. Its errors never hold the
// URL's password; those wrapping errFlag are usage errors. With cluster,
// raw names nodes of a Redis Cluster.
func openRedisInbox(ctx context.Context, raw string, cluster bool, prefix, name string) (redisInbox, error) {
	ib, err := dialRedisInbox(ctx, raw, cluster, prefix, name)
	if err != nil {
		return redisInbox{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, redisCheckTimeout)
	defer cancel()
	ok, err := ib.Exists(cctx)
	if err != nil {
		ib.Close()
		if u := errors.Unwrap(err); u != nil {
			err = u // redisstore's "inbox: exists" says nothing here
		}
		return redisInbox{}, ib.failed(raw, err, redisCheckTimeout)
	}
	if !ok {
		ib.Close()
		check := "--redis-prefix, --redis-name and the database in the URL"
		if cluster {
			check = "--redis-prefix and --redis-name"
		}
		return redisInbox{}, fmt.Errorf("--redis %s: no inbox %q under prefix %q there (no key %s{%s}:q, :meta or :all, which a receiver's first delivery or worker creates): check %s",
			redisShown(raw), name, prefix, prefix, name, check)
	}
	return ib, nil
}

// failed is err, from a first call to Redis that gave up after waited,
// as an error naming --redis, with what to check.
func (r redisInbox) failed(raw string, err error, waited time.Duration) error {
	msg := hidePassword(err.Error(), r.password)
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		// What took the connection never answered: "context deadline
		// exceeded" says neither what waited nor what to check. Short of
		// the call's timeout, it was the dial's, which a TLS handshake
		// (rediss:// to a Redis speaking none) is part of.
		timeout := redisCheckTimeout
		if waited < redisCheckTimeout {
			timeout = r.dialTimeout
		}
		msg = fmt.Sprintf("no answer within %v (%s): is Redis there, and does it speak TLS as the URL says (rediss://) or not (redis://)?", timeout, msg)
	case errors.As(err, &unknown):
		// Managed Redis often has a certificate of the provider's own
		// authority, which the system's do not hold.
		msg += ": to trust the authority that signed the server's certificate, set SSL_CERT_FILE to its certificate (a PEM file) or SSL_CERT_DIR to a directory holding it"
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
		// What a Redis speaking TLS only does to a client speaking none.
		msg = fmt.Sprintf("the connection was closed without an answer (%s): does Redis speak TLS (rediss://) where the URL does not (redis://), or refuse this client?", msg)
	}
	return fmt.Errorf("--redis %s: %v", redisShown(raw), msg)
}

// dialRedisInbox returns the redisstore inbox that raw (a --redis URL,
// of Redis Cluster nodes with cluster), prefix and name select, on a
// client with short timeouts, once Redis has answered a PING. Its errors
// never hold the URL's password; those wrapping errFlag are usage errors.
func dialRedisInbox(ctx context.Context, raw string, cluster bool, prefix, name string) (redisInbox, error) {
	// Parse, then check the names, then dial: a usage error is told
	// before any connection is made.
	// The password no error shows, or the user name when there is no
	// password: most often a password written without its colon.
	var dial func() (client redis.UniversalClient, password string)
	var dialTimeout time.Duration
	if noSlashes(raw) {
		return redisInbox{}, fmt.Errorf("%w: --redis (not shown) needs // after its scheme: redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://… for TLS, %s", errFlag, socketURLForm)
	}
	if userInfoCut(raw) {
		return redisInbox{}, fmt.Errorf("%w: --redis: an @ after a /, ? or # is read as a password written without the : before it, cut short there: percent-encode it (%%25 for %%, %%2F for /, %%3F for ?, %%23 for #, %%40 for @) and put the : before it", errFlag)
	}
	if cluster {
		opts, err := redis.ParseClusterURL(raw)
		if err != nil {
			return redisInbox{}, fmt.Errorf("%w: --redis is not a Redis Cluster URL (redis://[USER:PASSWORD@]HOST[:PORT][?addr=HOST2:PORT2&addr=…], rediss://… for TLS): %s", errFlag, parseError(raw, cluster, err))
		}
		// ParseClusterURL ignores the path: a /DB there would be
		// database 0, another inbox than the one asked for.
		if u, err := url.Parse(raw); err == nil && u.Path != "" && u.Path != "/" && u.Path != "/0" {
			return redisInbox{}, fmt.Errorf("%w: --redis-cluster: Redis Cluster has database 0 only: drop the %s from the URL", errFlag, u.Path)
		}
		dial = func() (redis.UniversalClient, string) {
			shortDial(&opts.DialTimeout, &opts.DialerRetries)
			dialTimeout = opts.DialTimeout
			return redis.NewClusterClient(opts), cmp.Or(opts.Password, opts.Username)
		}
	} else {
		opts, err := redis.ParseURL(raw)
		if err != nil {
			return redisInbox{}, fmt.Errorf("%w: --redis is not a Redis URL (redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://… for TLS, %s): %s", errFlag, socketURLForm, parseError(raw, cluster, err))
		}
		dial = func() (redis.UniversalClient, string) {
			shortDial(&opts.DialTimeout, &opts.DialerRetries)
			dialTimeout = opts.DialTimeout
			return redis.NewClient(opts), cmp.Or(opts.Password, opts.Username)
		}
	}
	if err := checkInboxNames(prefix, name); err != nil {
		return redisInbox{}, err
	}
	client, password := dial()
	ib, err := redisstore.NewInbox(client, redisstore.WithInboxPrefix(prefix), redisstore.WithInboxName(name))
	if err != nil {
		client.Close()
		return redisInbox{}, fmt.Errorf("%w: %v", errFlag, err)
	}
	r := redisInbox{Inbox: ib, client: client, password: password, dialTimeout: dialTimeout}
	cctx, cancel := context.WithTimeout(ctx, redisCheckTimeout)
	defer cancel()
	start := time.Now()
	if err := client.Ping(cctx).Err(); err != nil {
		client.Close()
		return redisInbox{}, r.failed(raw, err, time.Since(start))
	}
	return r, nil
}

// shortDial sets the timeout and retries of a dial that the URL left
// unset: one retry, redisDialTimeout each.
func shortDial(timeout *time.Duration, retries *int) {
	if *timeout == 0 {
		*timeout = redisDialTimeout
	}
	if *retries == 0 {
		*retries = 1
	}
}

// checkInboxNames is why --redis-prefix and --redis-name cannot name an
// inbox, a usage error, or nil.
func checkInboxNames(prefix, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: --redis-name must not be empty", errFlag)
	case strings.ContainsAny(prefix+name, "{}"):
		return fmt.Errorf("%w: --redis-prefix and --redis-name must not contain braces: the inbox's keys are PREFIX{NAME}:…", errFlag)
	}
	return nil
}

// parseRedisURL is why raw does not parse as a --redis URL, of Redis
// Cluster nodes with cluster, or nil.
func parseRedisURL(raw string, cluster bool) error {
	var err error
	if cluster {
		_, err = redis.ParseClusterURL(raw)
	} else {
		_, err = redis.ParseURL(raw)
	}
	return err
}

// redisShown is the --redis URL as errors show it: with its password
// (see redacted) and its query, whatever that holds, left out.
func redisShown(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(not shown)"
	}
	return shownURL(u)
}

// parseError is why raw, a --redis URL (of Redis Cluster nodes with
// cluster), does not parse (err), told
// without a piece of its password: the error of the URL with the
// password replaced. The parse errors quote what they could not read,
// which may be the password's: a bad escape ("%zz"), its start taken
// for a port or the rest for the path when it holds a / ? or #.
func parseError(raw string, cluster bool, err error) string {
	if red, ok := redactPassword(raw); ok {
		if err = parseRedisURL(red, cluster); err == nil {
			return "its password does not parse: percent-encode it (%25 for %, %2F for /, %3F for ?, %23 for #, %40 for @)"
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the parse error without the URL it quotes whole
	}
	return err.Error()
}

// userInfoCut reports whether raw holds user information without a
// colon (a password written without the one before it) that a /, ? or #
// cuts short: URL parsers end the host there, so the password's first
// piece reads as the host and the rest as the path, query or fragment,
// which errors and the URL as shown then hold. (One with a colon the
// parser refuses, and parseError hides.)
func userInfoCut(raw string) bool {
	_, rest, ok := strings.Cut(raw, "://")
	at := strings.LastIndex(rest, "@")
	return ok && at >= 0 && !strings.Contains(rest[:at], ":") && strings.ContainsAny(rest[:at], "/?#")
}

// noSlashes reports whether raw is a redis: or rediss: URL without the
// // after its scheme, or any URL so written with an @ in it. go-redis
// reads such a redis: URL as localhost:6379 with no password, whatever
// follows, and it has no user information to url.Parse, which reads the
// password as part of the opaque part or of the path (unix:/PATH, with
// no @, is a socket's path).
func noSlashes(raw string) bool {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || strings.HasPrefix(rest, "//") || strings.ContainsAny(scheme, "/?#@") {
		return false
	}
	scheme = strings.ToLower(scheme)
	return scheme == "redis" || scheme == "rediss" || strings.Contains(rest, "@")
}

// redactPassword is the URL raw with its password replaced by xxxxx,
// found without parsing it (a URL that does not parse has no other), and
// whether it has one: whatever lies between the first : after the
// scheme's :// and the last @.
func redactPassword(raw string) (string, bool) {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw, false
	}
	i += len("://")
	at := strings.LastIndex(raw[i:], "@")
	if at < 0 {
		return raw, false
	}
	at += i
	colon := strings.Index(raw[i:at], ":")
	if colon < 0 || i+colon+1 == at {
		return raw, false
	}
	return raw[:i+colon+1] + "xxxxx" + raw[at:], true
}

// hidePassword is msg with every copy of the password pw replaced.
func hidePassword(msg, pw string) string {
	if pw == "" {
		return msg
	}
	return strings.ReplaceAll(msg, pw, "xxxxx")
}

// mayHoldPassword reports whether a command-line argument may be a URL
// with a password, which no error may show.
func mayHoldPassword(a string) bool {
	return strings.Contains(a, "://") && strings.Contains(a, "@")
}
