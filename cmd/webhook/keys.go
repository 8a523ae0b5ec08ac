package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/inhook/webhook"
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
}

// Environment variables holding keys, for serve and verify.
const (
	envSecret       = "WEBHOOK_SECRET"
	envIntercom     = "INTERCOM_CLIENT_SECRET"
	envSeriesToken  = "SERIES_TOKEN"
	envSeriesHeader = "SERIES_HEADER"
)

const defaultSeriesHeader = "X-Series-Token"

func (k *keyFlags) register(fs *flag.FlagSet, env bool) {
	from := func(name string) string {
		if env {
			return " (or $" + name + ", comma-separated)"
		}
		return ""
	}
	fs.Var(&k.secrets, "secret", "Standard Webhooks secret, whsec_… (repeatable)"+from(envSecret))
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
	if len(k.secrets) == 0 {
		k.secrets = envList(envSecret)
	}
	if len(k.intercom) == 0 {
		k.intercom = envList(envIntercom)
	}
	if len(k.tokens) == 0 {
		k.tokens = envList(envSeriesToken)
	}
	if k.seriesHeader == "" {
		k.seriesHeader = os.Getenv(envSeriesHeader)
	}
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
// hold the key).
func (k *keyFlags) check() error {
	if len(k.secrets) > 0 {
		if _, err := webhook.NewVerifier(k.secrets); err != nil {
			return err
		}
	}
	if len(k.intercom) > 0 {
		if _, err := webhook.NewIntercomVerifier(k.intercom...); err != nil {
			return err
		}
	}
	if len(k.tokens) > 0 {
		if _, err := webhook.NewSeriesVerifier(k.header(), k.tokens...); err != nil {
			return err
		}
	}
	return nil
}
