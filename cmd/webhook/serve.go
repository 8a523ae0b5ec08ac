package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
)

const serveUsage = `
Usage: webhook serve [flags]

Runs a receiver on every path of --addr. Each dispatched event is printed on
standard output as one JSON object per line:

  {"source":"standard","type":"jam.created","id":"msg_…","event":{…}}

An Intercom notification's item is printed as its kind (a conversation's
fields only, say), or as sent for kinds without a typed accessor. With
--raw, "body" holds the verified body as received instead of "event": JSON
as JSON on one line, anything else as a string.

Rejections are logged to standard error with the status and the reason.
The listening address is printed to standard error once the server is
ready, so --addr 127.0.0.1:0 picks a free port. SIGINT, SIGTERM or SIGHUP
(the terminal closing; not when started with it ignored, as by nohup)
shuts the server down gracefully (exit 0): it takes no new connection, and
waits up to --shutdown-timeout for the requests in flight and, in inbox
mode, for the workers' callbacks; past it, it exits 1. A second SIGINT or
SIGTERM stops it at once, with nothing acknowledged lost: a request cut
short has not been answered 200, and the sender retries it. A second
SIGHUP, which a closing terminal may send, does not; nor does the reader
of its standard output going away meanwhile: a line it fails to print is
retried as a callback's error is.

With --inbox FILE the receiver runs in inbox mode: each verified delivery
is stored in the SQLite file (created if missing) and answered 200 once it
is on disk; workers in the same process then print it, retrying with
backoff if printing fails, and "webhook inbox" looks into the file. Once
serve is stopping its workers take no new delivery: what is stored
meanwhile, or was left unfinished, is printed by the next serve on the file.
With --redis URL instead (redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://
for TLS, unix://[USER:PASSWORD@]/PATH/TO/SOCKET[?db=N] for a unix socket;
--redis-prefix and --redis-name as redisstore.WithInboxPrefix and
WithInboxName; with --redis-cluster the URL names nodes of a Redis Cluster,
redis://[USER:PASSWORD@]HOST[:PORT][?addr=HOST2:PORT2&addr=…]) the inbox is
a redisstore one in that Redis, shared by every serve on it as by the
replicas of a receiver: a delivery any of them stored is printed by
whichever leases it. serve exits 1 at once if Redis does not
answer. --redis env takes the URL from $WEBHOOK_REDIS_URL, which keeps its
password out of ps; the variable alone does not make serve use Redis.
` + redisTLSHelp + `

With --inspect (or --inspect=ADDR) a page on 127.0.0.1:4040 lists every
request live, shows why each was rejected and its verdict step by step,
and replays, forwards (--forward-to) or saves one as a fixture
(--fixtures). It answers loopback Host names only, and of another site's
page's requests only a link to the page; its actions need the page's own
origin and per-run token. With --inspect-public (to bind another address)
every request needs an access token as well, and any Host name will do
(http://devbox.internal:8081/?token=…): open the address with ?token= that
serve prints, or set your own in WEBHOOK_INSPECT_TOKEN, which is then
never printed.

At least one key is needed: --secret, --intercom-secret, --series-token, the
environment variables, or --test-keys.
`

// checkListenAddr refuses an address that is none, before anything
// listens: one that is fine but cannot be listened on (in use, a port
// name unknown) is listen's run-time error.
func checkListenAddr(addr string) error {
	if strings.Contains(addr, "://") {
		// net's error would quote it, credentials and all.
		return errors.New("a URL (not shown) is no address: give HOST:PORT, e.g. 127.0.0.1:8080")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if n, err := strconv.ParseUint(port, 10, 64); (err == nil && n > 65535) || errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("port %s is out of range (0 to 65535)", port)
	}
	return nil
}

// Server timeouts. Senders give up well before these (Svix after about
// 15 s, Intercom after 5 s).
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	// shutdownTimeout is --shutdown-timeout's default: docker stop's
	// grace period before it kills.
	shutdownTimeout = 10 * time.Second
)

// maxHeaderBytes bounds a request's header block. Signature headers take
// well under 1 KiB each (ten v1a entries are 920 bytes), so 16 KiB fits
// both Standard Webhooks sets and what proxies add, while net/http's
// default of 1 MiB would let each connection sending an unfinished header
// block hold a MiB of buffer.
const maxHeaderBytes = 16 << 10

// eventLine is what serve prints for each dispatched event: the decoded
// event, or with --raw the body as received.
type eventLine struct {
	Source string          `json:"source"`
	Type   string          `json:"type"`
	ID     string          `json:"id"`
	Event  json.RawMessage `json:"event,omitempty"`
	Body   json.RawMessage `json:"body,omitempty"`
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", serveUsage, stderr)
	var keys keyFlags
	keys.register(fs, true)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	testKeys := testKeysFlag(fs)
	tolerance := fs.Duration("tolerance", webhook.DefaultTolerance, "Standard Webhooks timestamp window, each way")
	maxBody := fs.Int64("max-body", webhook.DefaultMaxBodySize, "largest body accepted, in bytes")
	maxAge := intercomMaxAgeFlag(fs)
	debug := fs.Bool("debug", false, "also log the library's DEBUG lines: a GET refused (someone opened the URL in a browser); every other rejection is logged without it")
	raw := fs.Bool("raw", false, `print each verified body as received ("body") instead of the decoded event`)
	inboxFile := fs.String("inbox", "", "inbox mode: store deliveries in this SQLite file, print them from workers")
	var rf redisFlags
	rf.register(fs, "inbox mode on Redis: store deliveries in the redisstore inbox of this Redis, shared with every serve on it")
	stopWithin := fs.Duration("shutdown-timeout", shutdownTimeout, "on SIGINT, SIGTERM or SIGHUP, how long to wait for requests in flight and the inbox's workers")
	var insp inspectFlags
	insp.register(fs)
	given := args
	args, code, stop := parseFlags(fs, args)
	if stop {
		return code
	}
	if len(args) > 0 {
		// --inspect may stand alone, as a boolean flag, so "--inspect
		// ADDR" leaves ADDR an argument.
		if i := slices.Index(given, args[0]); i > 0 && (given[i-1] == "--inspect" || given[i-1] == "-inspect") {
			if _, _, err := net.SplitHostPort(args[0]); err == nil {
				return usageErr(stderr, "serve", "--inspect takes its address after \"=\": --inspect=%s", args[0])
			}
		}
		return usageErr(stderr, "serve", "unexpected argument %s", argText(given, args[0]))
	}
	keys.fromEnv()
	if *testKeys {
		keys.addTestKeys()
	}
	insp.token = os.Getenv(envInspectToken)
	if !insp.addr.set {
		// The inspector's own flags without it: serve would run without
		// an inspector, saying nothing of them.
		for _, name := range []string{"inspect-public", "inspect-keep", "inspect-keep-bytes"} {
			if isSet(fs, name) {
				return usageErr(stderr, "serve", "--%s needs --inspect", name)
			}
		}
	}
	if err := insp.check(); err != nil {
		return usageErr(stderr, "serve", "%v", err)
	}
	// The library's messages name its options, not these flags.
	if *tolerance <= 0 {
		return usageErr(stderr, "serve", "--tolerance must be positive")
	}
	if *maxBody <= 0 {
		return usageErr(stderr, "serve", "--max-body must be positive")
	}
	if *stopWithin <= 0 {
		return usageErr(stderr, "serve", "--shutdown-timeout must be positive")
	}
	if err := checkListenAddr(*addr); err != nil {
		return usageErr(stderr, "serve", "--addr: %v", err)
	}
	if err := checkIntercomMaxAge(*maxAge); err != nil {
		return usageErr(stderr, "serve", "%v", err)
	}
	if *inboxFile == "" && isSet(fs, "inbox") {
		// --inbox "$FILE" with FILE unset: not a receiver without its
		// inbox, which would answer 200 with nothing stored.
		return usageErr(stderr, "serve", "--inbox needs a file name")
	}
	if err := checkInboxFile("--inbox", *inboxFile); err != nil {
		return usageErr(stderr, "serve", "%v", err)
	}
	switch {
	case isSet(fs, "inbox") && isSet(fs, "redis"):
		return usageErr(stderr, "serve", "give --inbox FILE or --redis URL, not both")
	case *rf.url == "" && isSet(fs, "redis"):
		return usageErr(stderr, "serve", "--redis needs a URL")
	case *rf.url == "" && (isSet(fs, "redis-prefix") || isSet(fs, "redis-name")):
		return usageErr(stderr, "serve", "--redis-prefix and --redis-name go with --redis")
	case *rf.url == "" && isSet(fs, "redis-cluster"):
		return usageErr(stderr, "serve", "--redis-cluster goes with --redis")
	}
	if err := rf.fromEnv(); err != nil {
		return usageErr(stderr, "serve", "%s", strings.TrimPrefix(err.Error(), errFlag.Error()+": "))
	}
	if keys.empty() {
		return usageErr(stderr, "serve", "no keys: give --secret, --intercom-secret or --series-token, set %s, %s or %s, or use --test-keys",
			envSecret, envIntercom, envSeriesToken)
	}
	if err := keys.check(false); err != nil {
		return usageErr(stderr, "serve", "%v", err)
	}

	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts := []webhook.Option{webhook.WithLogger(logger), webhook.WithTolerance(*tolerance), webhook.WithMaxBodySize(*maxBody),
		webhook.WithMaxBodyMemory(bodyMemory(*maxBody)), webhook.WithIntercomMaxAge(*maxAge)}
	if len(keys.secrets) > 0 {
		opts = append(opts, webhook.WithSecrets(keys.secrets...))
	}
	if len(keys.intercom) > 0 {
		opts = append(opts, webhook.WithIntercomSecrets(keys.intercom...))
	}
	if len(keys.tokens) > 0 {
		opts = append(opts, webhook.WithSeries(keys.header(), keys.tokens...))
	}
	var ib interface {
		webhook.Inbox
		Close() error
	}
	if *inboxFile != "" || *rf.url != "" {
		var err error
		if *inboxFile != "" {
			ib, err = openInbox(*inboxFile)
		} else {
			// Created by the first delivery or worker, as by any
			// replica: only unreachable is an error here.
			ib, err = dialRedisInbox(ctx, *rf.url, *rf.cluster, *rf.prefix, *rf.name)
		}
		if errors.Is(err, errFlag) {
			return usageErr(stderr, "serve", "%s", strings.TrimPrefix(err.Error(), errFlag.Error()+": "))
		}
		if err != nil {
			fmt.Fprintf(stderr, "webhook serve: %v\n", err)
			return exitFail
		}
		defer ib.Close()
		// The workers' callbacks get the server's shutdown timeout, not
		// the library's longer default: both run from the signal on, so
		// serve stops within the one timeout it documents.
		opts = append(opts, webhook.WithInbox(ib), webhook.WithWorkers(webhook.WorkerConfig{ShutdownTimeout: *stopWithin}))
	}
	in := insp.inspector(&keys, receiverLimits{tolerance: *tolerance, maxBody: *maxBody, intercomMaxAge: *maxAge}, ib, logger)
	opts = append(opts, in.options()...)
	h, err := webhook.NewHandler(opts...)
	if err != nil {
		// Constructor errors name the problem, never the secret.
		return usageErr(stderr, "serve", "%v", err)
	}
	h.OnAny(printEvents(stdout, logger, *raw))
	var workers func(context.Context) error
	if ib != nil {
		workers = h.Run
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "webhook serve: --addr %s: %v\n", *addr, err)
		return exitFail
	}
	srv := &http.Server{
		Handler:           in.receiver(h),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	var stopInspector func(context.Context)
	if in != nil {
		stop, err := startInspector(in, insp.addr.addr, ln.Addr().String(), logger, stderr)
		if err != nil {
			ln.Close()
			fmt.Fprintf(stderr, "webhook serve: --inspect %s: %v\n", insp.addr.addr, err)
			return exitFail
		}
		stopInspector = stop
		defer func() { // after an early return; else stopped already
			sctx, cancel := context.WithTimeout(context.Background(), *stopWithin)
			defer cancel()
			stop(sctx)
		}()
	}
	return serveUntilDone(ctx, srv, ln, sources(&keys), workers, stopInspector, *stopWithin, stderr)
}

// receiverLimits are the flags serve builds its handler's checks from,
// which the inspector's verdict checks again.
type receiverLimits struct {
	tolerance      time.Duration // --tolerance
	maxBody        int64         // --max-body
	intercomMaxAge time.Duration // --intercom-max-age
}

// bodyMemory is the body memory budget for --max-body: the library's
// default, or three times the largest body when that is more, which a
// body of that size needs with whpk_ keys (its buffers, and ed25519's
// copy of the message). serve has no flag for it, so without this a
// --max-body past the default's share could not start.
func bodyMemory(maxBody int64) int64 {
	if maxBody > 0 && maxBody <= math.MaxInt64/3 && 3*maxBody > webhook.DefaultMaxBodyMemory {
		return 3 * maxBody
	}
	return webhook.DefaultMaxBodyMemory
}

// serveUntilDone serves on ln until ctx is done or one of stopSignals
// arrives, then shuts srv down gracefully, waiting up to timeout for the
// requests in flight. workers, when not nil, runs the inbox's workers
// until then; they finish their callbacks (within their own shutdown
// timeout) while the server finishes its requests. also, when not nil,
// stops something else (the inspector) beside the server, by the same
// deadline.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener, sources []string, workers func(context.Context) error, also func(context.Context), timeout time.Duration, stderr io.Writer) int {
	parent := ctx
	sigctx, stop := signal.NotifyContext(ctx, stopSignals()...)
	defer stop()
	ctx = sigctx
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	stopWorkers := func() error { return nil }
	if workers != nil {
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- workers(wctx) }()
		var once sync.Once
		var werr error
		stopWorkers = func() error {
			once.Do(func() { cancel(); werr = <-done })
			return werr
		}
		defer func() { _ = stopWorkers() }() // early returns; the normal path reports its error
	}
	fmt.Fprintf(stderr, "webhook serve: listening on http://%s (sources: %v)\n", ln.Addr(), sources)

	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "webhook serve: %v\n", err)
		return exitFail
	case <-ctx.Done():
	}
	// The signals' own behaviour again: a second one ends the process
	// at once. Nothing answered 200 is lost by it: the inbox
	// has it on disk, and a request cut short was not answered.
	stop()
	if parent.Err() == nil { // a signal, not the caller, stops serve
		// But for what the terminal closing sends on: a SIGHUP again
		// (the shell passes its own on to its jobs, and the kernel
		// sends the foreground group one as the shell exits), which is
		// no operator's second signal; and SIGPIPE, with which Go ends
		// a process whose standard output is a pipe whose reader has
		// gone (serve | jq, the reader gone with the terminal): the
		// line fails instead, and its delivery is retried.
		signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	}
	fmt.Fprintf(stderr, "webhook serve: stopping: waiting up to %v for requests in flight; a second SIGINT or SIGTERM stops at once\n", timeout)
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if also != nil {
		stopped := make(chan struct{})
		go func() { defer close(stopped); also(sctx) }()
		defer func() { <-stopped }()
	}
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "webhook serve: shutdown: %v\n", err)
		return exitFail
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "webhook serve: %v\n", err)
		return exitFail
	}
	if err := stopWorkers(); err != nil {
		fmt.Fprintf(stderr, "webhook serve: workers: %v\n", err)
		return exitFail
	}
	fmt.Fprintln(stderr, "webhook serve: stopped")
	return exitOK
}

// stopSignals are the signals that stop serve gracefully: SIGINT,
// SIGTERM, and SIGHUP, which the terminal sends as it closes (an ssh
// session ending) and whose default action cut the requests in flight
// and the workers' callbacks. SIGHUP is left alone when it is ignored,
// as nohup starts serve: handling it would stop a serve meant to outlive
// the terminal.
func stopSignals() []os.Signal {
	sigs := []os.Signal{syscall.SIGINT, syscall.SIGTERM}
	if !signal.Ignored(syscall.SIGHUP) {
		sigs = append(sigs, syscall.SIGHUP)
	}
	return sigs
}

func sources(k *keyFlags) []string {
	var s []string
	if len(k.secrets) > 0 {
		s = append(s, string(event.SourceStandard))
	}
	if len(k.intercom) > 0 {
		s = append(s, string(event.SourceIntercom))
	}
	if len(k.tokens) > 0 {
		s = append(s, string(event.SourceSeries)+" in "+k.header())
	}
	return s
}

// printEvents returns an OnAny callback that writes one eventLine per
// event to w. Lines are written whole, one request at a time.
func printEvents(w io.Writer, logger *slog.Logger, raw bool) func(context.Context, *webhook.Delivery, event.Event) error {
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return func(ctx context.Context, d *webhook.Delivery, e event.Event) error {
		line := eventLine{Source: string(d.Source), Type: e.EventType(), ID: d.ID}
		if raw {
			line.Body = rawBody(d.Body)
		} else {
			ev, err := marshalEvent(e)
			if err != nil {
				// Still print the line; the event is what failed, not the delivery.
				logger.LogAttrs(ctx, slog.LevelWarn, "webhook serve: event not marshalable",
					slog.String("type", event.SafeName(e.EventType())), slog.String("error", err.Error()))
				ev = []byte("null")
			}
			line.Event = ev
		}
		for _, ferr := range fieldErrors(e) {
			logger.LogAttrs(ctx, slog.LevelWarn, "webhook serve: field left zero",
				slog.String("type", event.SafeName(e.EventType())), slog.String("id", d.ID), slog.String("error", ferr.Error()))
		}
		mu.Lock()
		defer mu.Unlock()
		return enc.Encode(line)
	}
}

// rawBody returns body as a JSON value: itself when it is JSON (the
// encoder puts it on one line), else a JSON string of its bytes, as for a
// form-encoded Series body.
func rawBody(body []byte) json.RawMessage {
	if json.Valid(body) {
		return body
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as the line's encoder: & stays &
	_ = enc.Encode(string(body))
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// marshalEvent encodes e with encoding/json. An unknown event's raw bytes
// are shown as the JSON they are, not as base64. An Intercom
// notification's item is shown as its kind, so the fields the package's
// item model holds for other kinds (a contact's plan in a conversation,
// say) do not appear as zeros.
func marshalEvent(e event.Event) ([]byte, error) {
	switch e := e.(type) {
	case *event.UnknownEvent:
		if json.Valid(e.Raw) {
			return json.Marshal(struct {
				Type string
				Raw  json.RawMessage
			}{e.Type, e.Raw})
		}
	case *event.IntercomNotification:
		return json.Marshal(intercomEvent{e, intercomEventData{Type: e.Data.Type, Item: intercomItem(e)}})
	}
	return json.Marshal(e)
}

// intercomEvent is a notification with its data.item replaced: the
// outer Data hides the embedded one for encoding/json.
type intercomEvent struct {
	*event.IntercomNotification
	Data intercomEventData `json:"data"`
}

type intercomEventData struct {
	Type string `json:"type,omitempty"`
	Item any    `json:"item"`
}

// intercomItem returns n's item as its typed kind, or as the raw JSON the
// sender sent for a kind without a typed accessor, or nil.
func intercomItem(n *event.IntercomNotification) any {
	if v := n.Conversation(); v != nil {
		return v
	}
	if v := n.Contact(); v != nil {
		return v
	}
	if v := n.Ticket(); v != nil {
		return v
	}
	if v := n.Company(); v != nil {
		return v
	}
	if v := n.Admin(); v != nil {
		return v
	}
	if v := n.ContactTag(); v != nil {
		return v
	}
	if v := n.DataEvent(); v != nil {
		return v
	}
	if v := n.Ping(); v != nil {
		return v
	}
	if raw := n.Item(); raw != nil {
		return raw
	}
	return nil
}
