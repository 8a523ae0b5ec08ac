package webhook

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"sync/atomic"

	"github.com/inhook/webhook/event"
)

// A SeriesVerifier checks Intercom Series and Workflow webhooks, which are
// unsigned: the admin adds a custom header holding a shared token. It is
// safe for concurrent use.
type SeriesVerifier struct {
	header string
	tokens atomic.Pointer[[][sha256.Size]byte]
}

// NewSeriesVerifier returns a SeriesVerifier that accepts a request whose
// header carries any of tokens. The header is a field name alone (a
// token of RFC 9110: letters, digits and !#$%&'*+-.^_`|~), and an error
// about it never shows it, since a header line given in its place holds
// the token. Tokens must be at least 16 bytes, with no
// whitespace around them: HTTP strips it from header values, so such a
// token could never match, and it is refused rather than trimmed. For the
// same reason tokens over 4096 bytes, or holding a control character other
// than tab, are refused.
func NewSeriesVerifier(header string, tokens ...string) (*SeriesVerifier, error) {
	if err := checkHeaderName(header); err != nil {
		return nil, err
	}
	v := &SeriesVerifier{header: textproto.CanonicalMIMEHeaderKey(header)}
	if err := v.SetTokens(tokens...); err != nil {
		return nil, err
	}
	return v, nil
}

// checkHeaderName refuses a Series header name that no request carries
// (a field name is a token, RFC 9110 5.1: net/http refuses a request
// holding another), which would refuse every delivery instead. The error
// says which character, never the name: given as a header line
// ("X-Token: value", as curl's -H takes it), the name holds the token.
func checkHeaderName(name string) error {
	if name == "" {
		return errors.New("webhook: Series header name is empty")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isTokenChar(c) {
			continue
		}
		if c == ':' {
			return errors.New("webhook: Series header name holds ':': give the header's name alone, not a header line with its value (the name is not shown: it may hold the token)")
		}
		what := fmt.Sprintf("byte 0x%02x", c)
		if ' ' <= c && c < 0x7f {
			what = "'" + string(rune(c)) + "'"
		}
		return fmt.Errorf("webhook: Series header name holds %s at byte %d, which no header name holds (the name is not shown: it may hold the token)", what, i)
	}
	return nil
}

// isTokenChar reports whether c may stand in an HTTP token, a field
// name: a letter, a digit or one of !#$%&'*+-.^_`|~.
func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// Header returns the canonical name of the header that carries the token.
func (v *SeriesVerifier) Header() string { return v.header }

// SetTokens replaces the accepted tokens. On error the old ones stay.
func (v *SeriesVerifier) SetTokens(tokens ...string) error {
	if len(tokens) == 0 {
		return fmt.Errorf("webhook: no %ss: %w", kindSeries, ErrEmptySecret)
	}
	sums := make([][sha256.Size]byte, len(tokens))
	for i, t := range tokens {
		if t != "" {
			if err := checkSecretText(kindSeries, i, t); err != nil {
				return err
			}
		}
		if err := checkSecretLen(kindSeries, i, []byte(t)); err != nil {
			return err
		}
		if err := checkTokenCarried(i, t); err != nil {
			return err
		}
		sums[i] = sha256.Sum256([]byte(t))
	}
	v.tokens.Store(&sums)
	return nil
}

// checkTokenCarried refuses a token no request can deliver, which would
// refuse every delivery instead: one longer than Verify reads, or one
// holding a control character other than tab, which net/http refuses in a
// header value. The error says what, never the token.
func checkTokenCarried(i int, t string) error {
	if len(t) > maxTokenLen {
		return fmt.Errorf("webhook: %s %d is %d bytes, want at most %d: %w", kindSeries, i, len(t), maxTokenLen, ErrInvalidSecret)
	}
	for j := 0; j < len(t); j++ {
		if c := t[j]; c < ' ' && c != '\t' || c == 0x7f {
			return fmt.Errorf("webhook: %s %d holds a control character, which no HTTP header carries: %w", kindSeries, i, ErrInvalidSecret)
		}
	}
	return nil
}

// Verify checks the token header in h. Tokens are compared as SHA-256
// digests in constant time, so neither their content nor their length
// leaks through timing. Errors wrap ErrRequiredHeaders, ErrInvalidHeaders
// or ErrNoMatchingSignature.
func (v *SeriesVerifier) Verify(h http.Header) error {
	tokens := v.tokens.Load()
	if tokens == nil {
		return errNoKeys(event.SourceSeries)
	}
	vs := h[v.header]
	switch {
	case len(vs) == 0 || vs[0] == "":
		return verifyErr(event.SourceSeries, ErrRequiredHeaders, "need the "+v.header+" header")
	case len(vs) > 1:
		return verifyErr(event.SourceSeries, ErrInvalidHeaders, v.header+" repeated")
	case len(vs[0]) > maxTokenLen:
		return verifyErr(event.SourceSeries, ErrInvalidHeaders, v.header+" too long")
	}
	got := sha256.Sum256([]byte(vs[0]))
	match := 0
	for _, want := range *tokens {
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	if match != 1 {
		return verifyErr(event.SourceSeries, ErrNoMatchingSignature, "")
	}
	return nil
}
