// Command webhook is the developer tool of github.com/inhook/webhook: it
// runs a receiver that prints what it receives (optionally through a
// durable inbox, a SQLite file or Redis), with a local inspector page,
// sends signed test deliveries, signs bodies, explains why a captured
// delivery does or does not verify, and looks into and repairs a SQLite
// inbox or a Redis one.
//
// Usage:
//
//	webhook serve  [--addr 127.0.0.1:8080] [--secret whsec_…] [--intercom-secret …] [--series-token …] [--inbox FILE | --redis URL] [--inspect[=ADDR]] [--shutdown-timeout 10s]
//	webhook send   [--url http://127.0.0.1:8080/] (--all | --file body.json --source standard | fixture…)
//	webhook sign   [--source standard] [--curl --url URL] [file]
//	webhook verify (--body body.json --headers headers.txt | --request dump.http) [--test-keys] [--now T | --skip-timestamp] [--intercom-max-age 72h]
//	webhook version
//	webhook inbox  (list [--state S] [--order updated] [--after CURSOR] | show KEY | replay KEY… | purge [--older-than 72h] | stats) (--inbox FILE | --redis URL)
//
// serve and verify take their keys from flags, each repeatable, or from
// the environment: WEBHOOK_SECRET (Standard Webhooks secrets, as Jam shows
// them: whsec_…), INTERCOM_CLIENT_SECRET (Intercom app client secrets) and
// SERIES_TOKEN (Series tokens, in the header SERIES_HEADER, default
// X-Series-Token); each variable may hold several values separated by
// commas. Keys are used exactly as given, as the library takes them: one
// with whitespace around it (a space after a comma, a newline kept from a
// file) is refused, not trimmed. send and sign use the public test keys of
// package webhooktest unless flags say otherwise, so "webhook serve
// --test-keys" and "webhook send --all" work together out of the box.
//
// serve prints one JSON object per dispatched event on standard output:
//
//	{"source":"standard","type":"jam.created","id":"msg_…","event":{…}}
//
// source is standard, intercom or series; type is the event type (the
// topic for Intercom); id is the message or notification id, "" when the
// sender gives none; event is the decoded event (an Intercom item as its
// kind), or with --raw, body is the body as received. Rejections are
// logged to standard error with their reason; bodies, secrets and
// signatures never are.
//
// Exit status: 0 on success; 1 when a delivery failed verification, a
// response was not 2xx, or the command failed at run time; 2 for a usage
// error.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/redis/go-redis/v9"
)

const topUsage = `webhook: a developer tool for github.com/inhook/webhook.

Usage:
  webhook serve   run a receiver that prints every event as a JSON line
  webhook send    sign embedded fixtures or a file and POST them to a receiver
  webhook sign    print the signature headers, or a curl command, for a body
  webhook verify  check a captured body and headers and say why they pass or fail
  webhook inbox   list, show, replay, purge and count the deliveries of a SQLite or Redis inbox
  webhook version print the module version of this build

Run "webhook <command> --help" (or "webhook help <command>") for a command's flags.

serve and verify take keys from flags or from WEBHOOK_SECRET,
INTERCOM_CLIENT_SECRET and SERIES_TOKEN (comma-separated, no spaces: keys
are used exactly as given) and SERIES_HEADER. send and sign take them from
flags only, and default to the public test keys of package webhooktest.

` + exitHelp + "\n"

func main() {
	// go-redis logs each failed dial on standard error, four times for
	// one command against a Redis that is down, before the command's own
	// one-line error says it; a command-line tool says it once.
	redis.SetLogger(quietRedis{})
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole program, so tests can drive it without a process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "send":
		return runSend(ctx, rest, stdout, stderr)
	case "sign":
		return runSign(rest, stdin, stdout, stderr)
	case "verify":
		return runVerify(rest, stdin, stdout, stderr)
	case "inbox":
		return runInbox(ctx, rest, stdout, stderr)
	case "version", "-version", "--version":
		return runVersion(rest, stdout, stderr)
	case "help":
		if len(rest) > 0 {
			// "webhook help serve" is "webhook serve --help", as go help
			// has it: an operator types either.
			return run(ctx, append(rest, "--help"), stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, topUsage)
		return exitOK
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, topUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "webhook: unknown command %q\n\n%s", cmd, topUsage)
	return exitUsage
}

// quietRedis is a go-redis logger that prints nothing: every error it
// would log reaches the command as an error too.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}
