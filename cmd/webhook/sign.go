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
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/webhooktest"
)

const signUsage = `
Usage: webhook sign [flags] [file]

Prints the headers a sender would send with the body in file (or standard
input), one "Name: value" line each, ready for "webhook verify --headers".
With --curl, prints a curl command that POSTs the body to --url instead.

Keys default to the public test keys of package webhooktest; --secret,
--intercom-secret, --series-header and --series-token override them. Several
--secret values sign with each (as a sender does while rotating keys).
`

// signing holds what a signature depends on besides the body.
type signing struct {
	keys keyFlags
	id   string    // Standard Webhooks message id; random when ""
	ts   time.Time // Standard Webhooks timestamp
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

// parseWhen parses unix seconds or an RFC 3339 time.
func parseWhen(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q is neither unix seconds nor RFC 3339", s)
	}
	return t, nil
}

// newMessageID returns a fresh message id, so each send is a new message
// rather than a duplicate the receiver acknowledges without running
// callbacks.
func newMessageID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "msg_" + hex.EncodeToString(b[:])
}

func parseSource(s string) (webhook.Source, error) {
	switch src := webhook.Source(s); src {
	case webhook.SourceStandard, webhook.SourceIntercom, webhook.SourceSeries:
		return src, nil
	}
	return "", fmt.Errorf("source %q is not standard, intercom or series", s)
}

// contentType guesses the Content-Type for body: JSON unless a Series
// body does not look like a JSON object.
func contentType(src webhook.Source, body []byte) string {
	if src == webhook.SourceSeries && !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		return "application/x-www-form-urlencoded"
	}
	return "application/json"
}

// signHeaders returns the headers a sender of src sends with body.
func signHeaders(src webhook.Source, body []byte, s *signing) (http.Header, error) {
	h := http.Header{}
	switch src {
	case webhook.SourceStandard:
		id := s.id
		if id == "" {
			id = newMessageID()
		}
		sigs := make([]string, 0, len(s.keys.secrets))
		for _, secret := range s.keys.secrets {
			sig, err := webhooktest.SignStandard(secret, id, s.ts, body)
			if err != nil {
				return nil, errors.New("a --secret is not whsec_ and base64")
			}
			sigs = append(sigs, sig)
		}
		prefix := "Webhook-"
		if s.svix {
			prefix = "Svix-"
		}
		h.Set(prefix+"Id", id)
		h.Set(prefix+"Timestamp", strconv.FormatInt(s.ts.Unix(), 10))
		h.Set(prefix+"Signature", strings.Join(sigs, " "))
	case webhook.SourceIntercom:
		h.Set("User-Agent", "intercom-parrot-service-client/1.0")
		h.Set("X-Hub-Signature", webhooktest.SignIntercom(s.keys.intercom[0], body))
	case webhook.SourceSeries:
		h.Set(s.keys.header(), s.keys.tokens[0])
	default:
		return nil, fmt.Errorf("unknown source %q", src)
	}
	return h, nil
}

func runSign(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("sign", signUsage, stderr)
	var s signing
	s.keys.register(fs, false)
	when := registerSigning(&s, fs)
	source := fs.String("source", "standard", "sender: standard (Jam), intercom or series")
	ctype := fs.String("content-type", "", "Content-Type (default: JSON, or form-encoded for a Series body that is not a JSON object)")
	curl := fs.Bool("curl", false, "print a curl command instead of headers")
	url := fs.String("url", "http://127.0.0.1:8080/", "URL for --curl")
	method := fs.String("method", http.MethodPost, "method for --curl (Series blocks may PUT)")
	args, code, stop := parseFlags(fs, args)
	if stop {
		return code
	}
	src, err := parseSource(*source)
	if err != nil {
		return usageErr(stderr, "sign", "%v", err)
	}
	if len(args) > 1 {
		return usageErr(stderr, "sign", "one body file at most")
	}
	s.ts = time.Now()
	if *when != "" {
		if s.ts, err = parseWhen(*when); err != nil {
			return usageErr(stderr, "sign", "%v", err)
		}
	}
	s.keys.withTestKeys()
	if err := s.keys.check(); err != nil {
		return usageErr(stderr, "sign", "%v", err)
	}

	file := ""
	if len(args) == 1 {
		file = args[0]
	}
	var body []byte
	if file == "" || file == "-" {
		body, err = io.ReadAll(stdin)
		file = ""
	} else {
		body, err = os.ReadFile(file)
	}
	if err != nil {
		fmt.Fprintf(stderr, "webhook sign: %v\n", err)
		return exitFail
	}
	h, err := signHeaders(src, body, &s)
	if err != nil {
		return usageErr(stderr, "sign", "%v", err)
	}
	if *ctype == "" {
		*ctype = contentType(src, body)
	}
	h.Set("Content-Type", *ctype)

	if *curl {
		fmt.Fprintln(stdout, curlCommand(*method, *url, h, file, body))
		return exitOK
	}
	for _, k := range sortedKeys(h) {
		for _, v := range h[k] {
			fmt.Fprintf(stdout, "%s: %s\n", k, v)
		}
	}
	return exitOK
}

func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// curlCommand returns a shell command that sends body with h. A body from
// a file is sent with --data-binary @file, so its bytes go out unchanged.
func curlCommand(method, url string, h http.Header, file string, body []byte) string {
	var b strings.Builder
	b.WriteString("curl -sS -i")
	if method != http.MethodPost {
		b.WriteString(" -X " + shellQuote(method))
	}
	b.WriteString(" " + shellQuote(url))
	for _, k := range sortedKeys(h) {
		for _, v := range h[k] {
			b.WriteString(" \\\n  -H " + shellQuote(k+": "+v))
		}
	}
	if file != "" {
		b.WriteString(" \\\n  --data-binary " + shellQuote("@"+file))
	} else {
		// --data-raw sends the text as is, even one starting with @.
		b.WriteString(" \\\n  --data-raw " + shellQuote(string(body)))
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
