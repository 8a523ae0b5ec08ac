package webhook

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// minSecretLen is the shortest HMAC key or shared token accepted. Standard
// Webhooks senders issue 24 to 64 random bytes; anything under 16 is a
// configuration mistake, not a key.
const minSecretLen = 16

// Key prefixes used by Standard Webhooks senders.
const (
	prefixSecret     = "whsec_" // HMAC-SHA256 key for v1
	prefixPublicKey  = "whpk_"  // ed25519 public key for v1a
	prefixPrivateKey = "whsk_"  // ed25519 private key: the sender's, never the receiver's
)

// macState is one keyed HMAC with room for its sum and the signed
// content, so a verification allocates nothing.
type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
	// content holds "id.ts." and, when it fits, the body after it: a
	// small delivery then goes into the MAC in one Write, which costs less
	// than a second Write and a second call into the block function.
	content [1024]byte
}

// macKey hands out pre-keyed HMAC states for one secret. Keying an HMAC
// hashes the key into two blocks; pooling keyed states and resetting them
// skips that work on every request.
type macKey struct {
	pool sync.Pool
}

func newMACKey(newHash func() hash.Hash, key []byte) *macKey {
	key = append([]byte(nil), key...)
	k := &macKey{}
	k.pool.New = func() any { return &macState{h: hmac.New(newHash, key)} }
	return k
}

func (k *macKey) get() *macState {
	m := k.pool.Get().(*macState)
	m.h.Reset()
	return m
}

func (k *macKey) put(m *macState) { k.pool.Put(m) }

// keyring is an immutable set of keys; verifiers swap whole keyrings
// atomically so rotation never races with verification.
type keyring struct {
	macs []*macKey
	pubs []ed25519.PublicKey
	// edHook, when set (by tests only), replaces ed25519.Verify.
	edHook func(pub ed25519.PublicKey, msg, sig []byte) bool
}

// parseStandardSecrets parses whsec_/bare base64 HMAC keys and whpk_
// ed25519 public keys, base64 padded or not. Error messages name the key
// by position only.
func parseStandardSecrets(secrets []string) (*keyring, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("webhook: no secrets: %w", ErrEmptySecret)
	}
	kr := &keyring{}
	for i, s := range secrets {
		if s == "" {
			return nil, fmt.Errorf("webhook: secret %d: %w", i, ErrEmptySecret)
		}
		if err := checkSecretText(kindStandard, i, s); err != nil {
			return nil, err
		}
		if strings.ContainsFunc(s, unicode.IsSpace) {
			return nil, fmt.Errorf("webhook: secret %d contains whitespace, which base64 never does; remove it: %w", i, ErrInvalidSecret)
		}
		switch {
		case strings.HasPrefix(s, prefixPrivateKey):
			return nil, fmt.Errorf("webhook: secret %d is a whsk_ signing key; configure the sender's whpk_ public key: %w", i, ErrInvalidSecret)
		case strings.HasPrefix(s, prefixPublicKey):
			pub, err := decodeSecretBase64(s[len(prefixPublicKey):])
			if err != nil || len(pub) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("webhook: secret %d: whpk_ key is not base64 of %d bytes: %w", i, ed25519.PublicKeySize, ErrInvalidSecret)
			}
			kr.pubs = append(kr.pubs, ed25519.PublicKey(pub))
		default:
			b64, prefixed := strings.CutPrefix(s, prefixSecret)
			if b64 == "" {
				return nil, fmt.Errorf("webhook: secret %d: %w", i, ErrEmptySecret)
			}
			if !prefixed {
				if looks := notStandardSecret(b64); looks != "" {
					return nil, fmt.Errorf("webhook: secret %d %s, not a Standard Webhooks secret (whsec_ and base64): %w", i, looks, ErrInvalidSecret)
				}
			}
			key, err := decodeSecretBase64(b64)
			if err != nil {
				return nil, fmt.Errorf("webhook: secret %d is not valid base64: %w", i, ErrInvalidSecret)
			}
			if err := checkSecretLen(kindStandard, i, key); err != nil {
				return nil, err
			}
			kr.macs = append(kr.macs, newMACKey(sha256.New, key))
		}
	}
	return kr, nil
}

// decodeSecretBase64 decodes standard base64 with or without its padding:
// senders show secrets padded, but some tools and the Python reference
// library strip or add the padding.
func decodeSecretBase64(s string) ([]byte, error) {
	if len(s)%4 != 0 {
		return base64.RawStdEncoding.DecodeString(s)
	}
	return base64.StdEncoding.DecodeString(s)
}

// parseIntercomSecrets builds HMAC-SHA1 keys from Intercom client secrets,
// refusing the shapes of other credentials.
func parseIntercomSecrets(secrets []string) (*keyring, error) {
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		if s == "" {
			return nil, fmt.Errorf("webhook: %s %d: %w", kindIntercom, i, ErrEmptySecret)
		}
		if err := checkSecretText(kindIntercom, i, s); err != nil {
			return nil, err
		}
		if looks := notIntercomSecret(s); looks != "" {
			return nil, fmt.Errorf("webhook: %s %d %s, not an Intercom client secret: %w", kindIntercom, i, looks, ErrInvalidSecret)
		}
		keys[i] = []byte(s)
	}
	return parseRawSecrets(kindIntercom, sha1.New, keys)
}

// parseRawSecrets builds HMAC keys from raw bytes, for any hash.
func parseRawSecrets(kind string, newHash func() hash.Hash, keys [][]byte) (*keyring, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("webhook: no %ss: %w", kind, ErrEmptySecret)
	}
	kr := &keyring{}
	for i, key := range keys {
		if err := checkSecretLen(kind, i, key); err != nil {
			return nil, err
		}
		kr.macs = append(kr.macs, newMACKey(newHash, key))
	}
	return kr, nil
}

// What a key is called in errors, by source.
const (
	kindStandard = "secret"
	kindIntercom = "Intercom client secret"
	kindSeries   = "Series token"
)

func checkSecretLen(kind string, i int, key []byte) error {
	if len(key) == 0 {
		return fmt.Errorf("webhook: %s %d: %w", kind, i, ErrEmptySecret)
	}
	if len(key) < minSecretLen {
		return fmt.Errorf("webhook: %s %d is %d bytes, want at least %d: %w", kind, i, len(key), minSecretLen, ErrInvalidSecret)
	}
	return nil
}

// checkSecretText applies the one rule for secrets and tokens given as
// text, whatever the source: they are used exactly as given, and one that
// starts or ends with whitespace is refused, never trimmed. Such a value
// is nearly always a newline kept from a file or an echo, and trimming
// would make this library disagree with every other consumer of the same
// variable; Intercom's and Series' keys are compared byte for byte, so a
// kept newline would otherwise reject every delivery. The error says
// where the whitespace is, never what the secret holds.
func checkSecretText(kind string, i int, s string) error {
	where := ""
	switch last, _ := utf8.DecodeLastRuneInString(s); {
	case last == '\n' || last == '\r':
		where = "ends with a line break (kept from a file or an echo?)"
	case unicode.IsSpace(last):
		where = "ends with whitespace"
	default:
		if first, _ := utf8.DecodeRuneInString(s); unicode.IsSpace(first) {
			where = "starts with whitespace"
		}
	}
	if where == "" {
		return nil
	}
	return fmt.Errorf("webhook: %s %d %s; secrets are used exactly as given, never trimmed: %w", kind, i, where, ErrInvalidSecret)
}

// notStandardSecret says what a bare (unprefixed) Standard Webhooks
// secret looks like when it has the shape of another credential, or "".
// Each shape is one that random base64 of 16 or more bytes practically
// never has: a UUID holds dashes, which base64 does not; 32 or more
// characters that are all hex digits come from base64 with a probability
// under (22/64)^32, about 10^-15.
func notStandardSecret(s string) string {
	switch {
	case uuidShaped(s):
		return "looks like a UUID, the form of an Intercom client secret (give those to WithIntercomSecrets)"
	case isIntercomAccessToken(s):
		return `looks like an Intercom access token (base64 of "tok:…")`
	case len(s) >= 32 && isHex(s):
		return "is all hex digits, the form of a hex-encoded key (an Intercom client secret belongs in WithIntercomSecrets)"
	}
	return ""
}

// notIntercomSecret says what an Intercom client secret looks like when it
// has the shape of another credential, or "".
func notIntercomSecret(s string) string {
	switch {
	case strings.HasPrefix(s, prefixSecret):
		return "looks like a Standard Webhooks (Jam) signing secret, whsec_… (give those to WithSecrets)"
	case strings.HasPrefix(s, prefixPublicKey), strings.HasPrefix(s, prefixPrivateKey):
		return "looks like a Standard Webhooks (Jam) ed25519 key, whpk_/whsk_…"
	case isIntercomAccessToken(s):
		return `looks like an Intercom access token (base64 of "tok:…"); the app's client secret signs webhooks`
	}
	return ""
}

// isIntercomAccessToken reports whether s starts as the base64 of "tok:",
// as Intercom access tokens do.
func isIntercomAccessToken(s string) bool {
	if len(s) < 8 {
		return false
	}
	var b [6]byte
	n, err := base64.StdEncoding.Decode(b[:], []byte(s[:8]))
	return err == nil && n == 6 && string(b[:4]) == "tok:"
}

// uuidShaped reports whether s is a UUID in its 8-4-4-4-12 hex text.
func uuidShaped(s string) bool {
	return len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' &&
		isHex(s[:8]) && isHex(s[9:13]) && isHex(s[14:18]) && isHex(s[19:23]) && isHex(s[24:])
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// strictBase64 decodes signatures: standard alphabet, padding required,
// unused low bits zero, so each byte string has one accepted text.
var strictBase64 = base64.StdEncoding.Strict()

// decodeBase64 decodes s into dst, at most 64 bytes, and reports whether s
// is exactly the canonical encoding of len(dst) bytes. On Go 1.26 the
// []byte(s) conversion of a short value that does not escape stays on the
// stack, so this allocates nothing. The decoder may write
// DecodedLen(len(s)) bytes, one or two more than a canonical text decodes
// to, so it decodes into a buffer with that room: a 44-character text
// without padding would otherwise overrun a 32-byte dst and panic.
func decodeBase64(dst []byte, s string) bool {
	var buf [ed25519.SignatureSize + 2]byte
	if len(dst) > ed25519.SignatureSize || len(s) != base64.StdEncoding.EncodedLen(len(dst)) {
		return false
	}
	n, err := strictBase64.Decode(buf[:], []byte(s))
	if err != nil || n != len(dst) {
		return false
	}
	copy(dst, buf[:n])
	return true
}

// base64Alphabet is the standard base64 alphabet.
const base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// macText is the canonical base64 text of a SHA-256 MAC: 44 characters,
// the last one padding.
type macText [44]byte

// encodeMAC writes the canonical, padded base64 text of sum to dst. Six
// bytes at a time become eight characters: one 64-bit load, four lookups
// of a character pair and one 64-bit store.
func encodeMAC(dst *macText, sum *[sha256.Size]byte) {
	// 32 = 5*6 + 2. Each load reads eight bytes and encodes the first
	// six, so the fifth stays inside sum and leaves bytes 30 and 31 for
	// the tail.
	for i := 0; i < 5; i++ {
		x := binary.BigEndian.Uint64(sum[6*i:])
		binary.LittleEndian.PutUint64(dst[8*i:],
			uint64(base64Pair(x>>52))|uint64(base64Pair(x>>40&0xfff))<<16|
				uint64(base64Pair(x>>28&0xfff))<<32|uint64(base64Pair(x>>16&0xfff))<<48)
	}
	// Two bytes left: three characters and one pad.
	n := uint64(sum[30])<<10 | uint64(sum[31])<<2
	binary.LittleEndian.PutUint32(dst[40:], uint32(base64Pair(n>>6))|uint32(base64Alphabet[n&0x3f])<<16|'='<<24)
}

// base64Pair returns the two characters encoding the 12-bit value v, the
// first in the low byte. The 8 KiB table it reads pays for itself against
// base64.StdEncoding.Encode: paired verify/floor at 256 bytes 1.24 with
// it, 1.28 without (BENCHMARKS.md, "The base64 pair table").
//
//go:generate go run gen_base64pairs.go
func base64Pair(v uint64) uint16 {
	i := 2 * (v & 0xfff)
	return uint16(base64Pairs[i]) | uint16(base64Pairs[i+1])<<8
}

// equalText reports whether s is exactly the text t, in time that depends
// only on len(s): word XORs with no branch on content, like
// crypto/subtle.ConstantTimeCompare specialised to a size known at compile
// time. Because t is canonical base64 and canonical base64 is one-to-one,
// this accepts exactly what strict decoding and a byte compare would.
func equalText(t *macText, s string) bool {
	if len(s) != len(t) {
		return false
	}
	x := load64(t[0:], s[0:]) | load64(t[8:], s[8:]) | load64(t[16:], s[16:]) |
		load64(t[24:], s[24:]) | load64(t[32:], s[32:]) |
		uint64(binary.LittleEndian.Uint32(t[40:])^
			(uint32(s[40])|uint32(s[41])<<8|uint32(s[42])<<16|uint32(s[43])<<24))
	return x == 0
}

// load64 XORs the first 8 bytes of b and s, read as little-endian words.
func load64(b []byte, s string) uint64 {
	_ = s[7]
	return binary.LittleEndian.Uint64(b) ^
		(uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56)
}

// decodeHex decodes s, lower- or upper-case, into dst and reports whether s
// is exactly 2*len(dst) hex digits. Like decodeBase64 it allocates nothing.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	n, err := hex.Decode(dst, []byte(s))
	return err == nil && n == len(dst)
}
