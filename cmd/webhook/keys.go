package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/webhooktest"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return fmt.Sprint(len(*l)) + " value(s)" }

func (l *listFlag) Set(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	*l = append(*l, v)
	return nil
}

// envList splits a comma-separated environment variable, dropping empty
// values. Nothing is trimmed: keys are used exactly as given, as the
// library takes them, so a value with whitespace around it (" b" in
// "a, b", a newline kept from a file) is refused with the library's
// message instead of working here and failing in a service.
func envList(name string) []string {
	var out []string
	for _, v := range strings.Split(os.Getenv(name), ",") {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// keyFlags are the key flags shared by serve, send, sign and verify.
type keyFlags struct {
	secrets, intercom, tokens listFlag
	seriesHeader              string
	// fromEnv names the variable each kind of key came from, by its
	// flag's name; a kind not in it came from its flags (or none).
	env map[string]string
}

// Environment variables holding keys, for serve and verify.
const (
	envSecret       = "WEBHOOK_SECRET"
	envIntercom     = "INTERCOM_CLIENT_SECRET"
	envSeriesToken  = "SERIES_TOKEN"
	envSeriesHeader = "SERIES_HEADER"
)

const defaultSeriesHeader = "X-Series-Token"

// prefixSigningKey marks a Standard Webhooks ed25519 signing key: the
// sender's, which signs v1a.
const prefixSigningKey = "whsk_"

func (k *keyFlags) register(fs *flag.FlagSet, env bool) {
	from := func(name string) string {
		if env {
			return " (or $" + name + ", comma-separated)"
		}
		return ""
	}
	fs.Var(&k.secrets, "secret", "Standard Webhooks secret, whsec_… (repeatable; send and sign also take a whsk_ signing key, for v1a)"+from(envSecret))
	fs.Var(&k.intercom, "intercom-secret", "Intercom app client secret (repeatable)"+from(envIntercom))
	fs.Var(&k.tokens, "series-token", "Intercom Series shared token (repeatable)"+from(envSeriesToken))
	headerEnv := ""
	if env {
		headerEnv = " (or $" + envSeriesHeader + ")"
	}
	fs.StringVar(&k.seriesHeader, "series-header", "", "header carrying the Series token (default "+defaultSeriesHeader+")"+headerEnv)
}

// fromEnv fills each kind of key that no flag gave from the environment.
func (k *keyFlags) fromEnv() {
	k.env = map[string]string{}
	take := func(l *listFlag, flag, name string) {
		if len(*l) == 0 {
			if *l = envList(name); len(*l) > 0 {
				k.env[flag] = name
			}
		}
	}
	take(&k.secrets, "secret", envSecret)
	take(&k.intercom, "intercom-secret", envIntercom)
	take(&k.tokens, "series-token", envSeriesToken)
	if k.seriesHeader == "" {
		if k.seriesHeader = os.Getenv(envSeriesHeader); k.seriesHeader != "" {
			k.env["series-header"] = envSeriesHeader
		}
	}
}

// from names where the keys of flag came from, for an error about them:
// the variable fromEnv read them from, or the flag.
func (k *keyFlags) from(flag string) string {
	if name, ok := k.env[flag]; ok {
		return "$" + name
	}
	return "--" + flag
}

func (k *keyFlags) header() string {
	if k.seriesHeader == "" {
		return defaultSeriesHeader
	}
	return k.seriesHeader
}

func (k *keyFlags) empty() bool {
	return len(k.secrets) == 0 && len(k.intercom) == 0 && len(k.tokens) == 0
}

// check applies the library's rules to every key given, so sign and send
// refuse what serve and verify refuse, with the same messages (which never
// hold the key), each after the flag or variable the key came from. The
// one difference, with signing, is the sender's own key: a whsk_ signing
// key signs v1a, which the verifiers refuse to hold; webhooktest's rules
// for it apply instead.
func (k *keyFlags) check(signing bool) error {
	if len(k.secrets) > 0 {
		// The test secret stands in for each whsk_ key, so that the
		// verifiers' messages count the others' positions among all
		// the --secret flags.
		verify := make([]string, len(k.secrets))
		for i, secret := range k.secrets {
			verify[i] = secret
			if signing && strings.HasPrefix(secret, prefixSigningKey) {
				if _, err := webhooktest.SignStandard(secret, "", time.Time{}, nil); err != nil {
					return fmt.Errorf("%s %d: %v: %w", k.from("secret"), i, err, webhook.ErrInvalidSecret)
				}
				verify[i] = webhooktest.Secret
			}
		}
		if _, err := webhook.NewVerifier(verify); err != nil {
			return fmt.Errorf("%s: %w", k.from("secret"), err)
		}
	}
	if len(k.intercom) > 0 {
		if _, err := webhook.NewIntercomVerifier(k.intercom...); err != nil {
			return fmt.Errorf("%s: %w", k.from("intercom-secret"), err)
		}
	}
	if len(k.tokens) > 0 {
		// The header first, with a token known good, so that each
		// error names what is wrong.
		if _, err := webhook.NewSeriesVerifier(k.header(), webhooktest.SeriesToken); err != nil {
			return fmt.Errorf("%s: %w", k.from("series-header"), err)
		}
		if _, err := webhook.NewSeriesVerifier(k.header(), k.tokens...); err != nil {
			return fmt.Errorf("%s: %w", k.from("series-token"), err)
		}
	}
	return nil
}
