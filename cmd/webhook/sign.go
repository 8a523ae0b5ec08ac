package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"
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
	given := args
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
	if !*curl && (isSet(fs, "url") || isSet(fs, "method")) {
		// The headers are the same whatever the URL: ignored, they
		// would hide that no curl command is printed.
		return usageErr(stderr, "sign", "--url and --method go with --curl")
	}
	if *curl {
		if err := checkHTTPURL("--url", *url); err != nil {
			return usageErr(stderr, "sign", "%v", err)
		}
		if err := checkMethod(*method); err != nil {
			return usageErr(stderr, "sign", "%v", err)
		}
	}
	s.ts = time.Now()
	if *when != "" {
		if s.ts, err = parseWhen(*when); err != nil {
			return usageErr(stderr, "sign", "%v", err)
		}
	}
	s.keys.withTestKeys()
	if err := s.keys.check(true); err != nil {
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
		var pe *os.PathError
		if errors.As(err, &pe) && mayBeKey(given, file) {
			err = fmt.Errorf("the body file %s: %w", argText(given, file), pe.Err)
		}
		fmt.Fprintf(stderr, "webhook sign: %v\n", err)
		return exitFail
	}
	if err := s.canSign(src); err != nil {
		return usageErr(stderr, "sign", "%v", err)
	}
	if *ctype == "" {
		*ctype = contentType(src, body)
	}
	// Not stamped: the body is sent as it is in file (--data-binary).
	h, _ := s.sign(delivery{source: src, ctype: *ctype, body: body}, false)

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
