package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
)

// signing holds what a signature depends on besides the body: the keys
// of send and sign, and the flags that shape a Standard Webhooks one.
type signing struct {
	keys keyFlags
	id   string    // Standard Webhooks message id; random when ""
	ts   time.Time // Standard Webhooks timestamp; an Intercom body's for send
	svix bool      // svix-* instead of webhook-* headers
}

// registerSigning registers the flags of send and sign that shape a
// signature.
func registerSigning(s *signing, fs *flag.FlagSet) (when *string) {
	fs.StringVar(&s.id, "id", "", "Standard Webhooks message id (default: a new random msg_… id)")
	fs.BoolVar(&s.svix, "svix", false, "send svix-* headers instead of webhook-* (as Jam does)")
	var t string
	fs.StringVar(&t, "timestamp", "", "sign at this time, unix seconds or RFC 3339 (default: now)")
	return &t
}

// testKeysFlag registers --test-keys, with which serve and verify accept
// the test keys sign and send sign with by default.
func testKeysFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("test-keys", false, "accept the PUBLIC test keys of package webhooktest, beside any others (never in production)")
}

// addTestKeys adds webhooktest's keys to those given, for --test-keys:
// the Series token only for webhooktest's header, the one it is sent in.
func (k *keyFlags) addTestKeys() {
	k.secrets = append(k.secrets, webhooktest.Secret)
	k.intercom = append(k.intercom, webhooktest.IntercomSecret)
	if k.seriesHeader == "" || k.header() == webhooktest.SeriesHeader {
		k.tokens = append(k.tokens, webhooktest.SeriesToken)
	}
}

// withTestKeys fills every kind of key left empty with webhooktest's.
func (k *keyFlags) withTestKeys() {
	if len(k.secrets) == 0 {
		k.secrets = listFlag{webhooktest.Secret}
	}
	if len(k.intercom) == 0 {
		k.intercom = listFlag{webhooktest.IntercomSecret}
	}
	if len(k.tokens) == 0 {
		k.tokens = listFlag{webhooktest.SeriesToken}
	}
	if k.seriesHeader == "" {
		k.seriesHeader = webhooktest.SeriesHeader
	}
}

// newMessageID returns a fresh message id, so each send is a new message
// rather than a duplicate the receiver acknowledges without running
// callbacks.
func newMessageID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "msg_" + hex.EncodeToString(b[:])
}

func parseSource(s string) (event.Source, error) {
	switch src := event.Source(s); src {
	case event.SourceStandard, event.SourceIntercom, event.SourceSeries:
		return src, nil
	}
	return "", fmt.Errorf("source %q is not standard, intercom or series", s)
}

// contentType guesses the Content-Type for body: JSON unless a Series
// body does not look like a JSON object.
func contentType(src event.Source, body []byte) string {
	if src == event.SourceSeries && !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		return "application/x-www-form-urlencoded"
	}
	return "application/json"
}

// delivery is one body to sign.
type delivery struct {
	label  string // the fixture name or the file
	source event.Source
	ctype  string
	body   []byte
}

// fixtureDelivery loads an embedded fixture, with the sender and
// Content-Type webhooktest.NewFixtureRequest sends it with.
func fixtureDelivery(name string) (delivery, error) {
	src, ct, ok := webhooktest.FixtureSource(name)
	if !ok {
		return delivery{}, fmt.Errorf("no fixture %q", name)
	}
	return delivery{label: name, source: src, ctype: ct, body: webhooktest.Fixture(name)}, nil
}

// errSecret is the error for a --secret that verifies but cannot sign (a
// whpk_ public key).
var errSecret = errors.New("a --secret is a whpk_ public key, which cannot sign: give its whsk_ signing key")

// sign returns the headers d's sender sends with it, Content-Type
// included, and the body they sign, from webhooktest's builders. stamp
// sets an Intercom body's created_at and first_sent_at to s.ts first, as
// Intercom stamps what it sends. Every key must have passed keys.check,
// and the secrets SignStandard.
func (s *signing) sign(d delivery, stamp bool) (http.Header, []byte) {
	opts := []webhooktest.RequestOption{webhooktest.WithContentType(d.ctype)}
	var r *http.Request
	switch d.source {
	case event.SourceStandard:
		id := s.id
		if id == "" {
			id = newMessageID()
		}
		opts = append(opts, webhooktest.WithID(id), webhooktest.WithTime(s.ts), webhooktest.WithExtraSecrets(s.keys.secrets[1:]...))
		if s.svix {
			opts = append(opts, webhooktest.WithSvixHeaders())
		}
		r = webhooktest.NewStandardRequest(s.keys.secrets[0], d.body, opts...)
	case event.SourceIntercom:
		if stamp {
			opts = append(opts, webhooktest.WithTime(s.ts))
		}
		r = webhooktest.NewIntercomRequest(s.keys.intercom[0], d.body, opts...)
	default:
		r = webhooktest.NewSeriesRequest(s.keys.header(), s.keys.tokens[0], d.body, opts...)
	}
	body, _ := io.ReadAll(r.Body) // a bytes.Reader: no error
	return r.Header, body
}

// canSign reports errSecret for a Standard Webhooks secret SignStandard
// refuses, so sign never reaches a builder's panic.
func (s *signing) canSign(src event.Source) error {
	if src != event.SourceStandard {
		return nil
	}
	for _, secret := range s.keys.secrets {
		if _, err := webhooktest.SignStandard(secret, "", s.ts, nil); err != nil {
			return errSecret
		}
	}
	return nil
}
