// Package listcursor encodes the cursors of webhook.Inbox.List: where a
// page ended, in the terms of the inbox that made it, and the query it
// answered, so that a cursor of another kind of inbox or another query is
// refused instead of read as a position it is not.
package listcursor

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// A Cursor is the position after which the next page starts. Kind,
// State and At hold no '|'; Tie may hold anything.
type Cursor struct {
	// Kind names the implementation that made the cursor.
	Kind string
	// Order and State are the query's.
	Order int
	State string
	// At and Tie are the position: the last entry's time, as the
	// implementation orders by it, and what breaks ties between
	// entries of one time.
	At  string
	Tie string
}

// version is the first field of every cursor, so that a later encoding
// can tell an earlier one.
const version = "c1"

// String encodes c as URL- and shell-safe text.
func (c Cursor) String() string {
	s := strings.Join([]string{version, c.Kind, strconv.Itoa(c.Order), c.State, c.At, c.Tie}, "|")
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// Errors of Parse.
var (
	errMalformed = errors.New("not a list cursor")
	errForeign   = errors.New("a cursor of another kind of inbox")
	errQuery     = errors.New("a cursor of a query of another state or order")
)

// Parse decodes s, and requires it to be a cursor of kind made for a
// query of order and state.
func Parse(s, kind string, order int, state string) (Cursor, error) {
	c, err := Decode(s)
	switch {
	case err != nil:
		return Cursor{}, err
	case c.Kind != kind:
		return Cursor{}, errForeign
	case c.Order != order || c.State != state:
		return Cursor{}, errQuery
	}
	return c, nil
}

// Decode decodes s without checking whose cursor it is.
func Decode(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, errMalformed
	}
	// Tie is last and may hold anything, '|' included.
	f := strings.SplitN(string(b), "|", 6)
	if len(f) != 6 || f[0] != version {
		return Cursor{}, errMalformed
	}
	o, err := strconv.Atoi(f[2])
	if err != nil {
		return Cursor{}, errMalformed
	}
	return Cursor{Kind: f[1], Order: o, State: f[3], At: f[4], Tie: f[5]}, nil
}
