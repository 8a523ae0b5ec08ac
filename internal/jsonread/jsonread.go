// Package jsonread is the fast JSON reader under the event decoders and
// the handler's few looks into unverified bodies (the tenant's app_id,
// the diagnosis of a rejected body).
package jsonread

import (
	"encoding/binary"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A Reader reads one JSON document in a single forward pass, for the
// decoders of the common body shapes, which skip encoding/json's separate
// validation pass and its reflection. It reports only success or failure:
// on failure the caller falls back to encoding/json, which then gives the
// authoritative result and error message. So the reader must never accept
// what encoding/json rejects, and whatever it accepts it must decode as
// encoding/json would.
//
// What pays for it (BENCHMARKS.md, "What pays for the fast reader"): on a
// flat jam.created, the commonest body, event.Parse through readFlatJam takes
// 0.26 × the time of json.Unmarshal into JamCreated, paired in one loop
// (event.BenchmarkDecodeOverhead, Go 1.26), with 4 allocations against 26.
// What retires it: encoding/json/v2 becoming the default. Built with
// GOEXPERIMENT=jsonv2, json.Unmarshal makes 2 allocations and the same
// pairing reads 0.70: a lead of a few microseconds a delivery, which would
// no longer pay for this reader, readFlatJam and their fuzz targets. When
// v2 is the default encoding/json, rerun the pairing; at 0.7 or above,
// delete them and let Parse decode with encoding/json alone.
type Reader struct {
	B []byte // the document
	I int    // the offset of the next byte to read
	// S, when set, is string(B): plain strings are then cut from it, one
	// allocation for the whole document rather than one per string.
	S string
}

// MaxDepth bounds the nesting the reader follows, so hostile input cannot
// exhaust the stack; deeper documents go to encoding/json, which has its
// own limit.
const MaxDepth = 64

// WS moves past white space.
func (r *Reader) WS() {
	for r.I < len(r.B) {
		switch r.B[r.I] {
		case ' ', '\t', '\n', '\r':
			r.I++
		default:
			return
		}
	}
}

// Peek returns the next non-space byte, or 0 at the end.
func (r *Reader) Peek() byte {
	r.WS()
	if r.I < len(r.B) {
		return r.B[r.I]
	}
	return 0
}

// End reports whether only white space is left.
func (r *Reader) End() bool {
	r.WS()
	return r.I == len(r.B)
}

// Object reads an object, calling field with each key; field must read
// the value (or skip it) and report success. Keys are compared as raw
// bytes: a key holding an escape is passed as written, so it matches no
// known name and the caller treats it as unknown.
func (r *Reader) Object(field func(key []byte) bool) bool {
	if r.Peek() != '{' {
		return false
	}
	r.I++
	if r.Peek() == '}' {
		r.I++
		return true
	}
	for {
		if r.Peek() != '"' {
			return false
		}
		key, _, ok := r.rawString()
		if !ok || r.Peek() != ':' {
			return false
		}
		r.I++
		if !field(key) {
			return false
		}
		switch r.Peek() {
		case ',':
			r.I++
		case '}':
			r.I++
			return true
		default:
			return false
		}
	}
}

// rawString reads a string and returns its bytes between the quotes,
// undecoded, after checking that they are valid, and whether they need
// decoding (an escape, or a byte outside ASCII).
func (r *Reader) rawString() (raw []byte, decode, ok bool) {
	start := r.I + 1
	decode, ok = r.scanString()
	if !ok {
		return nil, false, false
	}
	return r.B[start : r.I-1], decode, true
}

// SkipString moves past a string starting at the opening quote.
func (r *Reader) SkipString() bool {
	_, ok := r.scanString()
	return ok
}

// SWAR masks: a byte of each, and the high bit of each, in a word.
const (
	bytesOf1  = 0x0101010101010101
	highBits  = 0x8080808080808080
	quotes    = '"' * bytesOf1
	slashes   = '\\' * bytesOf1
	controlLT = 0x20 * bytesOf1
)

// scanString moves past a string starting at the opening quote, checking
// escapes and control characters, and reports whether its contents need
// decoding. Runs of plain ASCII, nearly all of a webhook's strings, are
// crossed eight bytes at a time.
func (r *Reader) scanString() (decode, ok bool) {
	b, i := r.B, r.I+1
	for {
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			q, s := w^quotes, w^slashes
			// Any byte that is '"', '\\', below 0x20 or above 0x7f.
			if ((q-bytesOf1)&^q|(s-bytesOf1)&^s|(w-controlLT)&^w|w)&highBits != 0 {
				break
			}
			i += 8
		}
		if i >= len(b) {
			return false, false
		}
		switch c := b[i]; {
		case c == '"':
			r.I = i + 1
			return decode, true
		case c == '\\':
			decode = true
			if i+1 >= len(b) {
				return false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return false, false
				}
				for _, h := range b[i+2 : i+6] {
					if HexValue(h) == 0xff {
						return false, false
					}
				}
				i += 6
			default:
				return false, false
			}
		case c < 0x20:
			return false, false
		default:
			if c >= utf8.RuneSelf {
				decode = true
			}
			i++
		}
	}
}

// Str reads a string value and decodes it as encoding/json does: escapes
// resolved, invalid UTF-8 and unpaired surrogates replaced by U+FFFD.
func (r *Reader) Str() (string, bool) {
	if r.Peek() != '"' {
		return "", false
	}
	start := r.I + 1
	raw, decode, ok := r.rawString()
	switch {
	case !ok:
		return "", false
	case decode:
		return DecodeString(raw), true
	case len(r.S) == len(r.B):
		return r.S[start : r.I-1], true
	}
	return string(raw), true
}

// DecodeString decodes the validated contents of a string.
func DecodeString(raw []byte) string {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c >= utf8.RuneSelf {
			rn, size := utf8.DecodeRune(raw[i:])
			out = utf8.AppendRune(out, rn) // RuneError for invalid bytes, as encoding/json
			i += size
			continue
		}
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch raw[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			rn := hex4(raw[i+2:])
			i += 6
			if utf16.IsSurrogate(rn) {
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if pair := utf16.DecodeRune(rn, hex4(raw[i+2:])); pair != utf8.RuneError {
						out = utf8.AppendRune(out, pair)
						i += 6
						continue
					}
				}
				rn = utf8.RuneError
			}
			out = utf8.AppendRune(out, rn)
			continue
		default: // '"', '\\', '/'
			out = append(out, raw[i+1])
		}
		i += 2
	}
	return string(out)
}

func hex4(b []byte) rune {
	return rune(HexValue(b[0]))<<12 | rune(HexValue(b[1]))<<8 | rune(HexValue(b[2]))<<4 | rune(HexValue(b[3]))
}

// Number reads a number and returns its text, checking the grammar.
func (r *Reader) Number() ([]byte, bool) {
	r.WS()
	start := r.I
	if r.I < len(r.B) && r.B[r.I] == '-' {
		r.I++
	}
	switch {
	case r.I < len(r.B) && r.B[r.I] == '0':
		r.I++
	case r.I < len(r.B) && r.B[r.I] >= '1' && r.B[r.I] <= '9':
		r.digits()
	default:
		return nil, false
	}
	if r.I < len(r.B) && r.B[r.I] == '.' {
		r.I++
		if r.digits() == 0 {
			return nil, false
		}
	}
	if r.I < len(r.B) && (r.B[r.I] == 'e' || r.B[r.I] == 'E') {
		r.I++
		if r.I < len(r.B) && (r.B[r.I] == '+' || r.B[r.I] == '-') {
			r.I++
		}
		if r.digits() == 0 {
			return nil, false
		}
	}
	return r.B[start:r.I], true
}

func (r *Reader) digits() int {
	n := 0
	for r.I < len(r.B) && r.B[r.I] >= '0' && r.B[r.I] <= '9' {
		r.I++
		n++
	}
	return n
}

// Integer reads a number that encoding/json would store in an int.
func (r *Reader) Integer() (int, bool) {
	t, ok := r.Number()
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(string(t)) // rejects fractions and exponents, as encoding/json does for int
	return n, err == nil
}

// Boolean reads true or false.
func (r *Reader) Boolean() (bool, bool) {
	switch r.Peek() {
	case 't':
		return true, r.literal("true")
	case 'f':
		return false, r.literal("false")
	}
	return false, false
}

// Null reads null if it is next, and reports whether it was.
func (r *Reader) Null() bool {
	return r.Peek() == 'n' && r.literal("null")
}

func (r *Reader) literal(s string) bool {
	if len(r.B)-r.I < len(s) || string(r.B[r.I:r.I+len(s)]) != s {
		return false
	}
	r.I += len(s)
	return true
}

// Skip reads any value, checking it, to at most MaxDepth levels.
func (r *Reader) Skip(depth int) bool {
	if depth > MaxDepth {
		return false
	}
	switch r.Peek() {
	case '{':
		return r.Object(func([]byte) bool { return r.Skip(depth + 1) })
	case '[':
		r.I++
		if r.Peek() == ']' {
			r.I++
			return true
		}
		for {
			if !r.Skip(depth + 1) {
				return false
			}
			switch r.Peek() {
			case ',':
				r.I++
			case ']':
				r.I++
				return true
			default:
				return false
			}
		}
	case '"':
		return r.SkipString()
	case 't':
		return r.literal("true")
	case 'f':
		return r.literal("false")
	case 'n':
		return r.literal("null")
	}
	_, ok := r.Number()
	return ok
}

// HexValue returns the value of the hex digit c, or 0xff.
func HexValue(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0xff
}
