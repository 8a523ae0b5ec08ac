package event

import (
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/inhook/webhook/internal/jsonread"
)

// pruneJSON returns a copy of data, a valid JSON document, without the
// values that would not decode into type t, and reports each one it left
// out as a *json.UnmarshalTypeError. The copy keeps every other value as
// written and in document order, so that encoding/json decodes it exactly
// as it decodes data, only with the ill-typed values absent: keys match
// fields as encoding/json matches them (escapes decoded, exactly, else
// ignoring case), duplicate keys keep their order, and later duplicates
// still win. An ill-typed object member is dropped, which leaves the field
// as the members before it set it (zero if none did), as encoding/json
// leaves it; an ill-typed array element becomes null, which keeps the
// positions of the others.
func pruneJSON(t reflect.Type, data []byte) ([]byte, []error) {
	p := pruner{r: jsonReader{jsonread.Reader{B: data}}, out: make([]byte, 0, len(data)), fields: map[reflect.Type][]jsonField{}}
	p.value(t, "")
	return p.out, p.errs
}

type pruner struct {
	r      jsonReader // over a document encoding/json has validated
	out    []byte
	errs   []error
	fields map[reflect.Type][]jsonField
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// value reads the next value and appends it, pruned, to p.out when it fits
// t; when it does not, it appends nothing, records why and reports false.
func (p *pruner) value(t reflect.Type, path string) bool {
	r := &p.r
	c := r.Peek()
	start := r.I
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	bad := func() bool {
		p.skip()
		p.errs = append(p.errs, &json.UnmarshalTypeError{Value: valueKind(r.B[start:r.I]), Type: t,
			Offset: int64(start), Struct: "body", Field: path})
		return false
	}
	// Types with their own decoding see the value whole, as they do under
	// encoding/json, and so does null for every type.
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		p.skip()
		if err := reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(r.B[start:r.I]); err != nil {
			r.I = start
			return bad()
		}
		p.out = append(p.out, r.B[start:r.I]...)
		return true
	}
	if c == 'n' {
		p.skip()
		p.out = append(p.out, "null"...)
		return true
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		if c != '"' {
			return bad()
		}
		s, _ := r.Str()
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			r.I = start
			return bad()
		}
		p.out = append(p.out, r.B[start:r.I]...)
		return true
	}
	switch t.Kind() {
	case reflect.Struct:
		if c != '{' {
			return bad()
		}
		fields := p.fieldsOf(t)
		p.object(func(key string) (reflect.Type, bool) {
			ft := lookupField(fields, key)
			return ft, ft != nil
		}, path)
		return true
	case reflect.Map:
		if c != '{' || t.Key().Kind() != reflect.String {
			return bad()
		}
		elem := t.Elem()
		p.object(func(string) (reflect.Type, bool) { return elem, true }, path)
		return true
	case reflect.Slice:
		if c != '[' {
			return bad()
		}
		p.array(t.Elem(), path)
		return true
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return bad()
		}
		p.skip()
		p.out = append(p.out, r.B[start:r.I]...)
		return true
	case reflect.String:
		if c != '"' {
			return bad()
		}
	case reflect.Bool:
		if c != 't' && c != 'f' {
			return bad()
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := r.Number()
		if _, err := strconv.ParseInt(string(n), 10, t.Bits()); !ok || err != nil {
			r.I = start
			return bad()
		}
		r.I = start
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := r.Number()
		if _, err := strconv.ParseUint(string(n), 10, t.Bits()); !ok || err != nil {
			r.I = start
			return bad()
		}
		r.I = start
	case reflect.Float32, reflect.Float64:
		n, ok := r.Number()
		if _, err := strconv.ParseFloat(string(n), t.Bits()); !ok || err != nil {
			r.I = start
			return bad()
		}
		r.I = start
	default:
		return bad()
	}
	p.skip()
	p.out = append(p.out, r.B[start:r.I]...)
	return true
}

// object copies an object member by member: a member whose key field
// does not match is left out, as encoding/json ignores it; one whose value
// does not fit is left out and recorded.
func (p *pruner) object(field func(key string) (reflect.Type, bool), path string) {
	r := &p.r
	p.out = append(p.out, '{')
	first := true
	r.Object(func(raw []byte) bool {
		key := string(raw)
		if strings.IndexByte(key, '\\') >= 0 || !isASCII(key) {
			key = jsonread.DecodeString(raw)
		}
		ft, ok := field(key)
		if !ok {
			p.skip()
			return true
		}
		mark := len(p.out)
		if !first {
			p.out = append(p.out, ',')
		}
		p.out = append(p.out, '"')
		p.out = append(p.out, raw...) // as written, so it decodes to the same key
		p.out = append(p.out, '"', ':')
		if p.value(ft, joinPath(path, key)) {
			first = false
		} else {
			p.out = p.out[:mark]
		}
		return true
	})
	p.out = append(p.out, '}')
}

// array copies an array, writing null for each element that does not fit.
func (p *pruner) array(elem reflect.Type, path string) {
	r := &p.r
	r.Peek()
	r.I++ // '['
	p.out = append(p.out, '[')
	if r.Peek() == ']' {
		r.I++
		p.out = append(p.out, ']')
		return
	}
	for n := 0; ; n++ {
		if n > 0 {
			p.out = append(p.out, ',')
		}
		if !p.value(elem, path+"["+strconv.Itoa(n)+"]") {
			p.out = append(p.out, "null"...)
		}
		if r.Peek() == ',' {
			r.I++
			continue
		}
		r.I++ // ']'
		p.out = append(p.out, ']')
		return
	}
}

// skip moves past one value of the validated document, without recursion:
// it may be nested deeper than jsonReader follows.
func (p *pruner) skip() {
	r := &p.r
	depth := 0
	for {
		switch c := r.Peek(); c {
		case '{', '[':
			depth++
			r.I++
		case '}', ']':
			depth--
			r.I++
		case '"':
			r.SkipString()
		case ',', ':':
			r.I++
			continue
		case 't', 'n':
			r.I += 4
		case 'f':
			r.I += 5
		default:
			r.Number()
		}
		if depth == 0 {
			return
		}
	}
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (p *pruner) fieldsOf(t reflect.Type) []jsonField {
	f, ok := p.fields[t]
	if !ok {
		f = jsonFields(t)
		p.fields[t] = f
	}
	return f
}

type jsonField struct {
	name   string
	typ    reflect.Type
	index  []int
	tagged bool
}

// jsonFields lists the fields encoding/json decodes into for struct type
// t, in its order (by field index, embedded structs in place) and with its
// precedence: of fields sharing a name, the shallowest wins, a tagged one
// among equals, and none if that leaves a tie.
func jsonFields(t reflect.Type) []jsonField {
	var all []jsonField
	var walk func(t reflect.Type, index []int, seen map[reflect.Type]bool)
	walk = func(t reflect.Type, index []int, seen map[reflect.Type]bool) {
		if seen[t] {
			return
		}
		seen[t] = true
		defer delete(seen, t)
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			idx := append(slices.Clip(index), i)
			ft := f.Type
			if f.Anonymous {
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if !f.IsExported() && ft.Kind() != reflect.Struct {
					continue
				}
				if name == "" && ft.Kind() == reflect.Struct {
					walk(ft, idx, seen)
					continue
				}
			} else if !f.IsExported() {
				continue
			}
			tagged := name != ""
			if !tagged {
				name = f.Name
			}
			all = append(all, jsonField{name: name, typ: f.Type, index: idx, tagged: tagged})
		}
	}
	walk(t, nil, map[reflect.Type]bool{})
	var out []jsonField
	for _, f := range all {
		if dominant(all, f) {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b jsonField) int { return slices.Compare(a.index, b.index) })
	return out
}

// dominant reports whether f is the field encoding/json keeps for its name.
func dominant(all []jsonField, f jsonField) bool {
	for _, g := range all {
		if g.name != f.name || slices.Equal(g.index, f.index) {
			continue
		}
		switch {
		case len(g.index) < len(f.index):
			return false
		case len(g.index) > len(f.index):
		case g.tagged && !f.tagged:
			return false
		case g.tagged == f.tagged:
			return false // a tie: encoding/json drops both
		}
	}
	return true
}

// lookupField matches a key as encoding/json does: exactly, else ignoring
// case, the first field in order winning.
func lookupField(fields []jsonField, key string) reflect.Type {
	for _, f := range fields {
		if f.name == key {
			return f.typ
		}
	}
	for _, f := range fields {
		if strings.EqualFold(f.name, key) {
			return f.typ
		}
	}
	return nil
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// A decoder is how the general path decodes a body into the structs it
// reads: Parse's is lenient; the agreement test swaps in encoding/json
// alone, so the two runs share everything but the decoding itself.
type decoder struct {
	// unmarshal decodes data into v, a pointer to a zero struct, and
	// reports the field errors it tolerated; an error is for data that
	// is not JSON.
	unmarshal func(data []byte, v any) ([]error, error)
	// scan lets the shape be read by scanShape, which bails out to
	// unmarshal on anything it is not sure of.
	scan bool
}

// lenient is Parse's decoder: one json.Unmarshal, and only when that
// reports a field of unexpected type a second one of the document with the
// ill-typed values pruned (see pruneJSON), so that one bad field cannot
// cost the whole event.
var lenient = &decoder{unmarshal: unmarshalLenient, scan: true}

func unmarshalLenient(data []byte, v any) ([]error, error) {
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil, nil
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return nil, jsonSyntaxError(syn)
	}
	rv := reflect.ValueOf(v).Elem()
	clean, errs := pruneJSON(rv.Type(), data)
	rv.SetZero()
	if err := json.Unmarshal(clean, v); err != nil {
		errs = append(errs, err) // keep whatever decoded
	}
	return errs, nil
}
