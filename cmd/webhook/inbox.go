package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/sqlitestore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const inboxUsage = `webhook inbox: look into and repair a SQLite inbox (serve --inbox, sqlitestore)
or the Redis inbox of a receiver's replicas (redisstore.Inbox).

Usage:
  webhook inbox list   [--state pending|leased|done|dead] [--order received|updated] [--limit 100] [--after CURSOR] [--json]
  webhook inbox show   KEY
  webhook inbox replay KEY... | --state dead [--limit 100]
  webhook inbox purge  [--state done|dead] [--older-than 72h]
  webhook inbox stats  [--json]
each with --inbox FILE | --redis URL [--redis-cluster] [--redis-prefix webhook:inbox:] [--redis-name default]

Every subcommand takes the inbox as --inbox FILE (or $WEBHOOK_INBOX), the
SQLite file of the receiver, or as --redis URL (or $WEBHOOK_REDIS_URL,
which keeps the password off the command line, out of ps and the shell's
history; --redis env reads it as serve does, whatever $WEBHOOK_INBOX says),
redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss:// for TLS or
unix://[USER:PASSWORD@]/PATH/TO/SOCKET[?db=N] for a unix socket, one
server, or with --redis-cluster nodes of a Redis Cluster,
redis://[USER:PASSWORD@]HOST[:PORT][?addr=HOST2:PORT2&addr=…] (not
Sentinel), with --redis-prefix and --redis-name as the replicas give them
to redisstore.WithInboxPrefix and WithInboxName. One of them: both flags, or without either flag both
variables, is a usage error, as is a flag given empty. The receiver may be
running: the file and the Redis are shared safely. A KEY is the
delivery's dedupe key, as list prints it (e.g. standard:msg_…, or
standard@acme:msg_… for tenant acme of a multi-tenant receiver).

No subcommand creates an inbox: a missing or empty file, or a Redis holding
no key of the prefix and name (a typo in either, the wrong database), is an
error (exit 1), not an empty list. Redis is given 2s a connection attempt
(unless the URL's ?dial_timeout= says otherwise) and up to 5s to answer,
and no error shows the URL's password. ` + redisTLSHelp + `

list prints the first --limit deliveries (of --state), the oldest received
first, or with --order updated (of --state done or dead) those done or dead
the longest first. When there are more it says on standard error how many
there are in all and the cursor of the next page: give it as --after CURSOR,
with the same --state and --order, for the deliveries after these. Paging
is stable while the receiver runs: every delivery that stays in the state
is listed once, on one page.

list, show and stats open a SQLite file read-only: they never create, write or
migrate it, so they cannot disturb a running receiver, whatever its
version. They refuse a file of another schema: a newer one needs a newer
webhook; an older one must first be opened read-write once, by a receiver
of this version or by replay or purge, which migrate it (once the older
receivers have stopped). Like any reader of SQLite's log, they need the
file's -wal and -shm beside it: on a file no receiver has open SQLite
creates them, so the directory must let this user do so.

show prints a delivery's fields, headers and body as stored; the values of
headers that may carry a signature or a credential are redacted. In the
text output of list and show, characters a terminal could act on (control
characters, escape sequences, bytes that are not UTF-8) in what a sender or
a callback chose are printed as Go escapes (\x1b, \r, \u202e, \xff); a body
that is not plain text (UTF-8 without control characters but tab, newline
and carriage return, and without bidirectional overrides or isolates) is
printed so, and the body: line says so.

replay returns a done or dead delivery to pending, due now, with its
attempts reset; the receiver's workers run it again. It tries every KEY,
and exits 1 if any failed. With --state dead it replays the --limit
deliveries dead the longest, as after an outage that killed many, reading
them a page at a time in update order (list --state dead --order updated),
without their bodies: run it again for the next ones (it says on standard
error how many are dead). Those that die again count as dead from then on,
so they come after the ones not yet replayed, and repeated runs go through
them all; one run replays each at most once.

purge deletes done deliveries not updated within --older-than, and with
--state dead dead ones instead: a dead delivery was never processed, so it
goes only when named. Pending and leased ones are never purged. Done
deliveries are the receiver's dedupe records: purged before its retention
(WithDedupeTimes, 72h by default), a sender's late retry of one is stored
and run again.

stats exits 0 whatever it counts, dead deliveries included (1 only when it
cannot read the inbox): an alert reads the count, as in
  webhook inbox stats --json | jq -e '.dead == 0'

` + exitHelp + "\n"

// checkInboxFile refuses a URL given as the SQLite file (from, --inbox
// or $WEBHOOK_INBOX, for --redis or $WEBHOOK_REDIS_URL: an easy slip),
// without showing it: taken for a path, it was quoted in the error,
// password and all. One without the // after its scheme (redis:…, or
// any with an @ so written; see noSlashes) is refused too: serve made a
// SQLite file of that name.
func checkInboxFile(from, file string) error {
	if strings.Contains(file, "://") || noSlashes(file) {
		return fmt.Errorf("%s takes a SQLite file, not a URL (not shown): give a Redis URL with --redis, or in $%s", from, envRedisURL)
	}
	return nil
}

// envInbox names the SQLite inbox file when --inbox is not given.
const envInbox = "WEBHOOK_INBOX"

func runInbox(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, inboxUsage)
		return exitUsage
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "list", "show", "replay", "purge", "stats":
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, inboxUsage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "webhook inbox: unknown subcommand %q\n\n%s", sub, inboxUsage)
		return exitUsage
	}
	name := "inbox " + sub
	// The flag set's usage ends with the exit statuses itself.
	fs := newFlagSet(name, strings.TrimSuffix(inboxUsage, exitHelp+"\n"), stderr)
	file := fs.String("inbox", "", "the SQLite inbox file (or $"+envInbox+")")
	var rf redisFlags
	rf.register(fs, "the Redis of a redisstore inbox (or $"+envRedisURL+", which keeps the password off the command line)")
	state := fs.String("state", "", "list: only this state; purge: done (the default) or dead; replay: dead, for the deliveries dead the longest")
	limit := fs.Int("limit", webhook.DefaultListLimit, "list, replay --state dead: at most this many deliveries")
	order := fs.String("order", "received", "list: received (the oldest received first) or updated (with --state done or dead: those done or dead the longest first)")
	after := fs.String("after", "", "list: the page after this cursor, which list printed for its next page")
	asJSON := fs.Bool("json", false, "list, stats: one JSON object per line")
	olderThan := fs.Duration("older-than", 72*time.Hour, "purge: delete only deliveries last updated longer ago than this")
	// Every subcommand's flags are defined, so that another's is refused
	// by name below; the help lists only this one's.
	shown := newFlagSet(name, strings.TrimSuffix(inboxUsage, exitHelp+"\n"), stderr)
	fs.VisitAll(func(f *flag.Flag) {
		if slices.Contains(inboxFlags[sub], f.Name) {
			shown.Var(f.Value, f.Name, f.Usage)
		}
	})
	fs.Usage = shown.Usage
	pos, code, stop := parseFlags(fs, rest)
	if stop {
		return code
	}
	// A flag of another subcommand is an error, not ignored: "purge
	// --limit 1" would purge everything.
	var stray string
	fs.Visit(func(f *flag.Flag) {
		if stray == "" && !slices.Contains(inboxFlags[sub], f.Name) {
			stray = f.Name
		}
	})
	if stray != "" {
		return usageErr(stderr, name, "%s does not take --%s", sub, stray)
	}
	if (sub == "list" || sub == "replay") && *limit < 1 {
		return usageErr(stderr, name, "--limit must be at least 1")
	}
	// Exactly one inbox: --inbox or --redis, or without either the
	// variable of one. A flag given empty is a variable left unset
	// ("--inbox $FILE"), not a call for the environment.
	fileSet, redisSet := isSet(fs, "inbox"), isSet(fs, "redis")
	switch {
	case fileSet && redisSet:
		return usageErr(stderr, name, "give --inbox FILE or --redis URL, not both")
	case fileSet && *file == "":
		return usageErr(stderr, name, "--inbox needs a file name")
	case redisSet && *rf.url == "":
		return usageErr(stderr, name, "--redis needs a URL")
	case redisSet:
		if err := rf.fromEnv(); err != nil {
			return usageErr(stderr, name, "%s", strings.TrimPrefix(err.Error(), errFlag.Error()+": "))
		}
	case !fileSet && !redisSet:
		*file = strings.TrimSpace(os.Getenv(envInbox))
		*rf.url = strings.TrimSpace(os.Getenv(envRedisURL))
		if *file != "" && *rf.url != "" {
			return usageErr(stderr, name, "both %s and %s are set: give --inbox FILE or --redis URL", envInbox, envRedisURL)
		}
	}
	if *file == "" && *rf.url == "" {
		return usageErr(stderr, name, "no inbox: give --inbox FILE or --redis URL (or set %s or %s)", envInbox, envRedisURL)
	}
	if *file != "" {
		from := "--inbox"
		if !fileSet {
			from = "$" + envInbox
		}
		if err := checkInboxFile(from, *file); err != nil {
			return usageErr(stderr, name, "%v", err)
		}
		for _, f := range []string{"redis-prefix", "redis-name", "redis-cluster"} {
			if isSet(fs, f) {
				return usageErr(stderr, name, "--%s goes with --redis", f)
			}
		}
	}
	st := webhook.InboxState(*state)
	switch {
	case sub == "list" && st != "" && !knownState(st):
		return usageErr(stderr, name, "unknown state %q (pending, leased, done or dead)", *state)
	case sub == "list" && *order != "received" && *order != "updated":
		return usageErr(stderr, name, "unknown order %q (received or updated)", *order)
	case sub == "list" && *order == "updated" && st != webhook.InboxDone && st != webhook.InboxDead:
		return usageErr(stderr, name, "--order updated goes with --state done or dead")
	case sub == "purge" && st != "" && st != webhook.InboxDone && st != webhook.InboxDead:
		return usageErr(stderr, name, "purge takes --state done or dead, not %q", *state)
	case sub == "replay" && st != "" && st != webhook.InboxDead:
		return usageErr(stderr, name, "replay takes --state dead, not %q (a done delivery is replayed by its KEY)", *state)
	case sub == "replay" && st != "" && len(pos) > 0:
		return usageErr(stderr, name, "give KEYs or --state dead, not both")
	case sub == "replay" && st == "" && isSet(fs, "limit"):
		return usageErr(stderr, name, "--limit goes with --state dead")
	case sub == "purge" && *olderThan < 0:
		return usageErr(stderr, name, "--older-than must not be negative")
	case (sub == "show") && len(pos) != 1:
		return usageErr(stderr, name, "give one KEY")
	case sub == "replay" && st == "" && len(pos) == 0:
		return usageErr(stderr, name, "give at least one KEY, or --state dead")
	case sub != "show" && sub != "replay" && len(pos) > 0:
		return usageErr(stderr, name, "unexpected argument %s", argText(rest, pos[0]))
	}
	var ib interface {
		webhook.Inbox
		Close() error
	}
	var err error
	if *file != "" {
		// Not created: an operator's typo, or the wrong file, must not
		// become a new, empty inbox. Read-only for the commands that
		// only read: a read-write Open would migrate the file under a
		// running older receiver, and copy its log into it on Close.
		opts := []sqlitestore.Option{sqlitestore.WithCreate(false)}
		if sub == "list" || sub == "show" || sub == "stats" {
			opts = append(opts, sqlitestore.WithReadOnly())
		}
		ib, err = openInbox(*file, opts...)
	} else {
		ib, err = openRedisInbox(ctx, *rf.url, *rf.cluster, *rf.prefix, *rf.name)
	}
	if errors.Is(err, errFlag) {
		return usageErr(stderr, name, "%s", strings.TrimPrefix(err.Error(), errFlag.Error()+": "))
	}
	if err != nil {
		fmt.Fprintf(stderr, "webhook %s: %v\n", name, err)
		return exitFail
	}
	defer ib.Close()

	switch sub {
	case "list":
		q := webhook.InboxQuery{State: st, Limit: *limit, After: *after}
		if *order == "updated" {
			q.Order = webhook.InboxByUpdated
		}
		err = inboxList(ctx, ib, q, *asJSON, stdout, stderr)
		if errors.Is(err, webhook.ErrBadCursor) {
			return usageErr(stderr, name, "--after %s is not a cursor of this list: give the one list printed for its next page, with the same --state and --order", printable(*after))
		}
	case "show":
		err = inboxShow(ctx, ib, pos[0], stdout)
	case "replay":
		failed := false
		if st == webhook.InboxDead {
			failed = replayDead(ctx, ib, *limit, stdout, stderr)
		} else {
			for _, key := range pos {
				failed = !replayOne(ctx, ib, key, stdout, stderr) || failed
			}
		}
		if failed {
			return exitFail
		}
	case "purge":
		if st == "" {
			st = webhook.InboxDone // dead deliveries only by name
		}
		var n int
		n, err = ib.Purge(ctx, st, time.Now().Add(-*olderThan))
		switch {
		case err == nil && n == 0 && *olderThan > 0:
			fmt.Fprintf(stdout, "purged 0: no %s delivery was updated more than %s ago (--older-than)\n", st, *olderThan)
		case err == nil:
			fmt.Fprintf(stdout, "purged %d\n", n)
		}
	case "stats":
		err = inboxStats(ctx, ib, *asJSON, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "webhook %s: %v\n", name, err)
		return exitFail
	}
	return exitOK
}

// openInbox opens the SQLite inbox of --inbox path, with an error that
// names the flag and says what is wrong with the path where SQLite would
// only say it is "unable to open database file" (a directory, a missing
// directory, a file this user may not read) or "attempt to write a
// readonly database" (a directory this user may not create files in).
func openInbox(path string, opts ...sqlitestore.Option) (*sqlitestore.Inbox, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("--inbox %s is a directory, not a SQLite file", path)
	} else if errors.Is(err, fs.ErrNotExist) {
		if _, derr := os.Stat(filepath.Dir(path)); errors.Is(derr, fs.ErrNotExist) {
			return nil, fmt.Errorf("--inbox %s: directory %s does not exist", path, filepath.Dir(path))
		}
	}
	if f, err := os.Open(path); errors.Is(err, fs.ErrPermission) {
		// SQLite says only that it is "unable to open database file".
		return nil, fmt.Errorf("--inbox %s: %w", path, err)
	} else if err == nil {
		f.Close()
	}
	ib, err := sqlitestore.Open(path, opts...)
	var se *sqlite.Error
	switch {
	// A directory it may not create them in is READONLY_DIRECTORY, which
	// SQLite words "attempt to write a readonly database", even to read
	// a file no receiver has open (WithReadOnly).
	case errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_CANTOPEN || se.Code() == sqlite3.SQLITE_READONLY_DIRECTORY || se.Code() == sqlite3.SQLITE_READONLY_CANTINIT):
		return nil, fmt.Errorf("--inbox %s: %w: SQLite opens the file and creates %s-wal and %s-shm beside it: are they and their directory writable?",
			path, err, filepath.Base(path), filepath.Base(path))
	case err != nil:
		return nil, fmt.Errorf("--inbox %s: %w", path, err)
	}
	return ib, nil
}

// inboxFlags are the flags each subcommand takes.
var inboxFlags = map[string][]string{
	"list":   {"inbox", "redis", "redis-prefix", "redis-name", "redis-cluster", "state", "order", "limit", "after", "json"},
	"show":   {"inbox", "redis", "redis-prefix", "redis-name", "redis-cluster"},
	"replay": {"inbox", "redis", "redis-prefix", "redis-name", "redis-cluster", "state", "limit"},
	"purge":  {"inbox", "redis", "redis-prefix", "redis-name", "redis-cluster", "state", "older-than"},
	"stats":  {"inbox", "redis", "redis-prefix", "redis-name", "redis-cluster", "json"},
}

func knownState(s webhook.InboxState) bool {
	switch s {
	case webhook.InboxPending, webhook.InboxLeased, webhook.InboxDone, webhook.InboxDead:
		return true
	}
	return false
}

// entryLine is a delivery as list --json prints it: everything but the
// headers, the body and the annotations, which show prints.
type entryLine struct {
	Key         string    `json:"key"`
	Source      string    `json:"source"`
	ID          string    `json:"id"`
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	ReceivedAt  time.Time `json:"received_at"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LeaseUntil  time.Time `json:"lease_until,omitzero"`
	UpdatedAt   time.Time `json:"updated_at"`
	LastError   string    `json:"last_error,omitempty"`
	Bytes       int       `json:"bytes"`
}

func lineOf(e *webhook.InboxEntry) entryLine {
	l := entryLine{
		Key: e.Key, Source: string(e.Source), ID: e.ID, State: string(e.State), Attempts: e.Attempts,
		ReceivedAt: e.ReceivedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(), LastError: e.LastError, Bytes: len(e.Body),
	}
	switch e.State {
	case webhook.InboxPending:
		l.NextAttempt = e.NextAttempt.UTC()
	case webhook.InboxLeased:
		l.LeaseUntil = e.LeaseUntil.UTC()
	}
	return l
}

// inboxList prints the page of deliveries q selects, and on errw, when
// there are more, how many there are and the cursor of the next page:
// without it, the first page of a backlog reads as the whole of it.
func inboxList(ctx context.Context, ib webhook.Inbox, q webhook.InboxQuery, asJSON bool, w, errw io.Writer) error {
	page, err := ib.List(ctx, q)
	if err != nil {
		return err
	}
	entries := page.Entries
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for i := range entries {
			if err := enc.Encode(lineOf(&entries[i])); err != nil {
				return err
			}
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tSTATE\tATTEMPTS\tRECEIVED\tUPDATED\tLAST ERROR")
		for i := range entries {
			e := &entries[i]
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", printable(e.Key), printable(string(e.State)), e.Attempts,
				inboxTime(e.ReceivedAt), inboxTime(e.UpdatedAt), oneLine(e.LastError, 60))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if !page.More {
		return nil
	}
	st, err := ib.Stats(ctx)
	if err != nil {
		return err
	}
	// The count is read after the page: writers may have moved it.
	n, what := stateCount(st, q.State)
	fmt.Fprintf(errw, "webhook inbox list: %d shown of %d %s; the next page: --after %s\n", len(entries), max(n, len(entries)+1), what, page.Next)
	return nil
}

// stateCount is how many deliveries st counts in state ("" for all), and
// what they are called.
func stateCount(st webhook.InboxStats, state webhook.InboxState) (int, string) {
	n := map[webhook.InboxState]int{
		webhook.InboxPending: st.Pending + st.Retrying,
		webhook.InboxLeased:  st.InFlight,
		webhook.InboxDone:    st.Done,
		webhook.InboxDead:    st.Dead,
		"":                   st.Pending + st.Retrying + st.InFlight + st.Done + st.Dead,
	}[state]
	if state == "" {
		return n, "deliveries"
	}
	return n, string(state) + " deliveries"
}

// replayPage is how many dead deliveries replay --state dead reads at a
// time.
const replayPage = 100

// replayDead replays the limit deliveries dead the longest (oldest
// UpdatedAt, the time they died), reading them a page at a time by
// update order, and says on errw how many are dead when it leaves some.
// Not the oldest received: a delivery replayed that dies again keeps its
// ReceivedAt, and every next run would take it again and never reach the
// others. Ordered by death, it comes after every delivery dead before
// it, so repeated runs go through all of them. One that dies again
// while the run goes on comes again in its pages: it is replayed once.
// It reports whether anything failed.
func replayDead(ctx context.Context, ib webhook.Inbox, limit int, w, errw io.Writer) (failed bool) {
	st, err := ib.Stats(ctx)
	if err != nil {
		fmt.Fprintf(errw, "webhook inbox replay: %v\n", err)
		return true
	}
	if st.Dead == 0 {
		fmt.Fprintln(errw, "webhook inbox replay: no dead deliveries")
		return false
	}
	q := webhook.InboxQuery{State: webhook.InboxDead, Order: webhook.InboxByUpdated, OmitBody: true}
	tried := map[string]bool{}
	more := false
	for len(tried) < limit {
		q.Limit = min(limit-len(tried), replayPage)
		page, err := ib.List(ctx, q)
		if err != nil {
			fmt.Fprintf(errw, "webhook inbox replay: %v\n", err)
			return true
		}
		for _, e := range page.Entries {
			if tried[e.Key] || len(tried) == limit {
				continue
			}
			tried[e.Key] = true
			failed = !replayOne(ctx, ib, e.Key, w, errw) || failed
		}
		q.After, more = page.Next, page.More
		if !more {
			break
		}
	}
	if more {
		fmt.Fprintf(errw, "webhook inbox replay: %d of %d dead deliveries, those dead the longest; run it again for the next ones (any that die again come after them)\n", len(tried), max(st.Dead, len(tried)+1))
	}
	return failed
}

// replayOne replays one delivery, saying so on w, or why not on errw,
// and reports whether it did. Every key is tried: one already replayed
// and leased, or a typo, does not hold back the others.
func replayOne(ctx context.Context, ib webhook.Inbox, key string, w, errw io.Writer) bool {
	if err := ib.Replay(ctx, key); err != nil {
		fmt.Fprintf(errw, "webhook inbox replay: %v%s\n", err, keyForm(err))
		return false
	}
	fmt.Fprintf(w, "replayed %s\n", printable(key)) // --state dead's keys are the senders' ids
	return true
}

// keyForm is what a "no such delivery" adds: what a key is. A message id
// given alone, or a tenant's key without its tenant, is no key.
func keyForm(err error) string {
	if !errors.Is(err, webhook.ErrNotFound) {
		return ""
	}
	return "; a KEY is as list prints it: SOURCE:ID, or SOURCE@TENANT:ID for a tenant of a multi-tenant receiver"
}

// inboxShow prints one delivery: its fields, headers, annotations and
// body, as stored but escaped where a terminal could act on them (see
// printable; the body as it is when it is text), and without the values
// of headers that may carry a signature or a credential.
func inboxShow(ctx context.Context, ib webhook.Inbox, key string, w io.Writer) error {
	e, err := ib.Get(ctx, key)
	if err != nil {
		if f := keyForm(err); f != "" {
			return fmt.Errorf("%w%s", err, f)
		}
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("key:", printable(e.Key))
	row("source:", printable(string(e.Source)))
	row("id:", printable(e.ID))
	row("state:", printable(string(e.State)))
	row("attempts:", strconv.Itoa(e.Attempts))
	if !e.Timestamp.IsZero() {
		row("signed at:", inboxTime(e.Timestamp))
	}
	row("received:", inboxTime(e.ReceivedAt))
	row("updated:", inboxTime(e.UpdatedAt))
	switch e.State {
	case webhook.InboxPending:
		row("next attempt:", inboxTime(e.NextAttempt))
	case webhook.InboxLeased:
		row("lease until:", inboxTime(e.LeaseUntil))
	}
	if e.LastError != "" {
		row("last error:", printable(e.LastError))
	}
	for _, k := range sortedKeys(e.Header) {
		for _, v := range e.Header[k] {
			if credentialHeader(k) {
				v = "[redacted]"
			}
			row("header:", printable(k)+": "+printable(v))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(e.Meta)) {
		row("meta:", printable(k)+"="+printable(e.Meta[k]))
	}
	body := e.Body
	if plainText(body) {
		row("body:", strconv.Itoa(len(e.Body))+" bytes")
	} else {
		row("body:", strconv.Itoa(len(e.Body))+" bytes, shown escaped: it holds control characters, bidirectional controls or bytes that are not UTF-8")
		body = []byte(escapeExcept(string(body), "\n"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	if len(body) > 0 && body[len(body)-1] != '\n' {
		_, err = io.WriteString(w, "\n")
	}
	return err
}

// credentialHeader reports whether a header may carry a signature or a
// credential. The handler stores none of them, but other code writing a
// sqlitestore file may, and show must not print them: its output ends up
// in terminals, tickets and chat. A Series token's header has a name of
// the user's choosing, hence the words rather than a list of names.
func credentialHeader(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"signature", "token", "secret", "auth", "cookie", "key", "password", "credential"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func inboxStats(ctx context.Context, ib webhook.Inbox, asJSON bool, w io.Writer) error {
	st, err := ib.Stats(ctx)
	if err != nil {
		return err
	}
	var age time.Duration
	if !st.OldestPending.IsZero() {
		age = time.Since(st.OldestPending).Round(time.Second)
	}
	if asJSON {
		return json.NewEncoder(w).Encode(struct {
			Pending          int     `json:"pending"`
			Retrying         int     `json:"retrying"`
			InFlight         int     `json:"in_flight"`
			Done             int     `json:"done"`
			Dead             int     `json:"dead"`
			OldestPendingAge float64 `json:"oldest_pending_age_seconds"`
		}{st.Pending, st.Retrying, st.InFlight, st.Done, st.Dead, age.Seconds()})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "pending:\t%d\nretrying:\t%d\nin flight:\t%d\ndone:\t%d\ndead:\t%d\n",
		st.Pending, st.Retrying, st.InFlight, st.Done, st.Dead)
	if !st.OldestPending.IsZero() {
		fmt.Fprintf(tw, "oldest pending:\t%s (%s ago)\n", inboxTime(st.OldestPending), age)
	}
	return tw.Flush()
}

func inboxTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// oneLine keeps a message on one table row, printable, cut to n runes.
func oneLine(s string, n int) string {
	s = printable(strings.Join(strings.Fields(s), " "))
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// printable returns s with each character a terminal could act on written
// as a Go escape (\x1b, \r, \u202e; \xff for a byte that is not UTF-8):
// control characters, which move the cursor, recolour the screen or
// break the table, format characters such as bidirectional overrides,
// which reorder what is shown, and spaces other than ' '. Backslashes
// are kept, so an escape may have been typed: doubling them would make
// every JSON body and many errors harder to read, and what matters is
// that no stored byte reaches the terminal unescaped.
func printable(s string) string { return escapeExcept(s, "") }

// escapeExcept is printable leaving the characters of keep as they are.
func escapeExcept(s, keep string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r) || strings.ContainsRune(keep, r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// plainText reports whether show may print body as stored: UTF-8 with no
// control characters but tab, newline and carriage return, and no
// bidirectional controls. Those are no control characters, but a JSON
// string may hold them as they are, and a Jam title is anyone's text:
// an override would reorder what the screen shows around it.
func plainText(body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	for _, r := range string(body) {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' || unicode.Is(unicode.Bidi_Control, r) {
			return false
		}
	}
	return true
}
