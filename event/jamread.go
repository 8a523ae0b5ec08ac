package event

import (
	"reflect"
	"slices"
	"strings"

	"github.com/inhook/webhook/internal/jsonread"
)

// readFlatJam decodes the most common body, a flat jam.created, in one
// forward pass with jsonReader, without encoding/json's separate
// validation pass and reflection. It reports false for anything it is not
// sure of (another shape, a key it does not know that encoding/json would
// match case-insensitively, a value of unexpected type, invalid JSON),
// and Parse then takes the general path, which is authoritative. So the
// result, when it reports true, is what the general path would return; a
// fuzz test holds it to that. It stays while it is several times faster
// than encoding/json on this body: the measurement, and what retires it,
// are on jsonReader.
func readFlatJam(body []byte) (*JamCreated, bool) {
	j := &JamCreated{}
	var created, snake Time
	// The fields' strings share one copy of the body.
	r := jsonReader{jsonread.Reader{B: body, S: string(body)}}
	ok := r.Object(func(key []byte) bool {
		switch string(key) {
		case "jamId":
			return r.optString(&j.JamID)
		case "jamUrl":
			return r.optString(&j.JamURL)
		case "teamId":
			return r.optString(&j.TeamID)
		case "type":
			return r.optString((*string)(&j.Type))
		case "createdAt":
			return r.unmarshaler(created.UnmarshalJSON)
		case "created_at":
			return r.unmarshaler(snake.UnmarshalJSON)
		case "id":
			return r.unmarshaler(func(b []byte) error {
				var id ID
				err := id.UnmarshalJSON(b)
				j.ID = string(id)
				return err
			})
		case "title":
			return r.optString(&j.Title)
		case "description":
			return r.optString(&j.Description)
		case "originalUrl":
			return r.optString(&j.OriginalURL)
		case "origin":
			return r.optString((*string)(&j.Origin))
		case "isIncognito":
			if r.Null() {
				return true
			}
			v, ok := r.Boolean()
			j.IsIncognito = v
			return ok
		case "author":
			return r.optObject(func(key []byte) bool {
				switch string(key) {
				case "email":
					return r.optString(&j.Author.Email)
				case "name":
					return r.optString(&j.Author.Name)
				}
				return r.unknown(key, "email", "name")
			})
		case "media":
			return r.optObject(func(key []byte) bool {
				switch string(key) {
				case "videoUrl":
					return r.optString(&j.Media.VideoURL)
				case "screenshotUrl":
					return r.optString(&j.Media.ScreenshotURL)
				case "thumbnailUrl":
					return r.optString(&j.Media.ThumbnailURL)
				}
				return r.unknown(key, "videoUrl", "screenshotUrl", "thumbnailUrl")
			})
		case "systemInfo":
			return r.optObject(func(key []byte) bool {
				s := &j.SystemInfo
				switch string(key) {
				case "browser":
					return r.software(&s.Browser)
				case "os":
					return r.software(&s.OS)
				case "screen":
					return r.optObject(func(key []byte) bool {
						switch string(key) {
						case "width":
							return r.optInt(&s.Screen.Width)
						case "height":
							return r.optInt(&s.Screen.Height)
						}
						return r.unknown(key, "width", "height")
					})
				}
				return r.unknown(key, "browser", "os", "screen")
			})
		}
		// Keys of the other shapes (data, topic, event, conversationId,
		// …) are in shapeKeys: those bodies take the general path.
		return r.unknown(key, shapeKeys...)
	})
	if !ok || !r.End() || j.JamID == "" || j.TeamID == "" {
		return nil, false
	}
	j.CreatedAt = created
	if j.CreatedAt.IsZero() {
		j.CreatedAt = snake // the top-level created_at, as the general path falls back to it
	}
	return j, true
}

// jsonKeys returns the JSON names of the fields of the struct types, with
// those of their embedded structs; data and payload are names too, which
// send a body to the general path, so nested keys are not needed. Deriving
// them from the struct tags means a field added there is never skipped.
func jsonKeys(types ...reflect.Type) []string {
	var names []string
	for _, typ := range types {
		for i := range typ.NumField() {
			f := typ.Field(i)
			if f.Anonymous {
				names = append(names, jsonKeys(f.Type)...)
				continue
			}
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// unknown skips the value of a key that is not one of known, unless
// encoding/json would match the key to one of them case-insensitively (or
// the key holds escapes, which it would decode first): then the caller
// must fall back.
func (r *jsonReader) unknown(key []byte, known ...string) bool {
	k := string(key)
	for _, name := range known {
		if strings.EqualFold(k, name) {
			return false
		}
	}
	if strings.IndexByte(k, '\\') >= 0 {
		return false
	}
	return r.Skip(1)
}

// optString reads a string into dst, leaving dst as it was for null, as
// encoding/json does.
func (r *jsonReader) optString(dst *string) bool {
	if r.Null() {
		return true
	}
	s, ok := r.Str()
	if ok {
		*dst = s
	}
	return ok
}

func (r *jsonReader) optInt(dst *int) bool {
	if r.Null() {
		return true
	}
	n, ok := r.Integer()
	if ok {
		*dst = n
	}
	return ok
}

// optObject reads an object with field, or null.
func (r *jsonReader) optObject(field func(key []byte) bool) bool {
	return r.Null() || r.Object(field)
}

func (r *jsonReader) software(dst *JamSoftware) bool {
	return r.optObject(func(key []byte) bool {
		switch string(key) {
		case "name":
			return r.optString(&dst.Name)
		case "version":
			return r.optString(&dst.Version)
		}
		return r.unknown(key, "name", "version")
	})
}

// unmarshaler reads one value and hands its bytes to unmarshal, so types
// with their own decoding (Time, ID) decode exactly as they do under
// encoding/json.
func (r *jsonReader) unmarshaler(unmarshal func([]byte) error) bool {
	r.WS()
	start := r.I
	if !r.Skip(1) {
		return false
	}
	return unmarshal(r.B[start:r.I]) == nil
}
