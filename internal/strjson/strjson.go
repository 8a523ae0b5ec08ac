// Package strjson encodes the header and meta maps the durable inboxes
// (sqlitestore's columns, redisstore's hash fields) keep as JSON. JSON
// holds text: encoding/json writes each byte of a string that is not
// UTF-8 as U+FFFD, so a header value's obs-text bytes (which net/http
// passes on as they came) came back changed. A string that is not UTF-8
// is written instead with each such byte as the escape \udcXX (XX its
// hex): a lone low surrogate, which encoding/json never writes and no
// UTF-8 string holds. An older reader takes the escape for U+FFFD, as it
// took the byte before; this one reads the byte back. Strings that are
// UTF-8, nearly all, are written and read by encoding/json as before.
//
// It is one package for both stores, internal to the module tree, so that
// rows and hashes written by one version of either read back alike.
package strjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// MarshalHeader is json.Marshal(h), keeping bytes that are not UTF-8.
func MarshalHeader(h http.Header) ([]byte, error) {
	valid := true
	for k, vs := range h {
		valid = valid && utf8.ValidString(k)
		for _, v := range vs {
			valid = valid && utf8.ValidString(v)
		}
	}
	if valid {
		return json.Marshal(h)
	}
	b := []byte{'{'}
	for i, k := range slices.Sorted(maps.Keys(h)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, k), ':')
		if h[k] == nil {
			b = append(b, "null"...)
			continue
		}
		b = append(b, '[')
		for j, v := range h[k] {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, v)
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// MarshalMeta is json.Marshal(m), keeping bytes that are not UTF-8.
func MarshalMeta(m map[string]string) ([]byte, error) {
	valid := true
	for k, v := range m {
		valid = valid && utf8.ValidString(k) && utf8.ValidString(v)
	}
	if valid {
		return json.Marshal(m)
	}
	b := []byte{'{'}
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, k), ':')
		b = appendString(b, m[k])
	}
	return append(b, '}'), nil
}

// appendString appends s as a JSON string, as encoding/json writes it,
// but for each byte that is not UTF-8, written \udcXX.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for len(s) > 0 {
		i := 0
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		if i == 0 {
			b = append(b, '\\', 'u', 'd', 'c', hex[s[0]>>4], hex[s[0]&0xf])
			s = s[1:]
			continue
		}
		q, _ := json.Marshal(s[:i]) // valid UTF-8: cannot fail
		b = append(b, q[1:len(q)-1]...)
		s = s[i:]
	}
	return append(b, '"')
}

// UnmarshalHeader reads what MarshalHeader wrote (or json.Marshal, in
// rows written before it) into *h.
func UnmarshalHeader(data []byte, h *http.Header) error {
	if !bytes.Contains(data, []byte(`\udc`)) {
		return json.Unmarshal(data, h)
	}
	r := strReader{b: data}
	if r.null() {
		*h = nil
		return r.end()
	}
	out := http.Header{}
	err := r.object(func(k string) error {
		if r.null() {
			out[k] = nil
			return nil
		}
		vs := []string{}
		if err := r.array(func() error {
			v, err := r.str()
			vs = append(vs, v)
			return err
		}); err != nil {
			return err
		}
		out[k] = vs
		return nil
	})
	if err != nil {
		return err
	}
	*h = out
	return r.end()
}

// UnmarshalMeta reads what MarshalMeta wrote (or json.Marshal, in rows
// written before it) into *m.
func UnmarshalMeta(data []byte, m *map[string]string) error {
	if !bytes.Contains(data, []byte(`\udc`)) {
		return json.Unmarshal(data, m)
	}
	r := strReader{b: data}
	if r.null() {
		*m = nil
		return r.end()
	}
	out := map[string]string{}
	err := r.object(func(k string) error {
		v, err := r.str()
		out[k] = v
		return err
	})
	if err != nil {
		return err
	}
	*m = out
	return r.end()
}

var errStrJSON = errors.New("malformed JSON")

// strReader reads the JSON of MarshalHeader and MarshalMeta: objects,
// arrays and strings, and null.
type strReader struct {
	b []byte
	i int
}

func (r *strReader) ws() {
	for r.i < len(r.b) && (r.b[r.i] == ' ' || r.b[r.i] == '\t' || r.b[r.i] == '\n' || r.b[r.i] == '\r') {
		r.i++
	}
}

func (r *strReader) take(c byte) bool {
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

func (r *strReader) null() bool {
	r.ws()
	if bytes.HasPrefix(r.b[r.i:], []byte("null")) {
		r.i += 4
		return true
	}
	return false
}

func (r *strReader) end() error {
	r.ws()
	if r.i != len(r.b) {
		return errStrJSON
	}
	return nil
}

// object reads {"key": value, …}, calling value for each key.
func (r *strReader) object(value func(key string) error) error {
	if !r.take('{') {
		return errStrJSON
	}
	if r.take('}') {
		return nil
	}
	for {
		k, err := r.str()
		if err != nil {
			return err
		}
		if !r.take(':') {
			return errStrJSON
		}
		if err := value(k); err != nil {
			return err
		}
		if r.take('}') {
			return nil
		}
		if !r.take(',') {
			return errStrJSON
		}
	}
}

// array reads [elem, …], calling elem for each.
func (r *strReader) array(elem func() error) error {
	if !r.take('[') {
		return errStrJSON
	}
	if r.take(']') {
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		if r.take(']') {
			return nil
		}
		if !r.take(',') {
			return errStrJSON
		}
	}
}

// str reads a string as encoding/json does, but for the escapes
// \udc80 to \udcff, each the byte 80 to ff.
func (r *strReader) str() (string, error) {
	if !r.take('"') {
		return "", errStrJSON
	}
	var s []byte
	for r.i < len(r.b) {
		c := r.b[r.i]
		r.i++
		switch {
		case c == '"':
			return string(s), nil
		case c < ' ':
			return "", errStrJSON
		case c != '\\':
			s = append(s, c)
			continue
		}
		if r.i >= len(r.b) {
			return "", errStrJSON
		}
		c = r.b[r.i]
		r.i++
		switch c {
		case '"', '\\', '/':
			s = append(s, c)
		case 'b':
			s = append(s, '\b')
		case 'f':
			s = append(s, '\f')
		case 'n':
			s = append(s, '\n')
		case 'r':
			s = append(s, '\r')
		case 't':
			s = append(s, '\t')
		case 'u':
			u, ok := r.hex4()
			if !ok {
				return "", errStrJSON
			}
			switch {
			case u >= 0xdc80 && u <= 0xdcff:
				s = append(s, byte(u-0xdc00))
			case utf16.IsSurrogate(u) && u < 0xdc00:
				// A high surrogate: a pair with the low one that
				// follows, else U+FFFD, as encoding/json reads it.
				save := r.i
				if r.i+1 < len(r.b) && r.b[r.i] == '\\' && r.b[r.i+1] == 'u' {
					r.i += 2
					if lo, ok := r.hex4(); ok {
						if p := utf16.DecodeRune(u, lo); p != utf8.RuneError {
							s = utf8.AppendRune(s, p)
							break
						}
					}
				}
				r.i = save
				s = utf8.AppendRune(s, utf8.RuneError)
			default:
				s = utf8.AppendRune(s, u) // a lone low surrogate is U+FFFD
			}
		default:
			return "", errStrJSON
		}
	}
	return "", errStrJSON
}

func (r *strReader) hex4() (rune, bool) {
	if r.i+4 > len(r.b) {
		return 0, false
	}
	var u rune
	for _, c := range r.b[r.i : r.i+4] {
		switch {
		case c >= '0' && c <= '9':
			u = u<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			u = u<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			u = u<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	r.i += 4
	return u, true
}
