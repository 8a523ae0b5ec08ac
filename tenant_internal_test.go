package webhook

import (
	"strings"
	"testing"

	"github.com/inhook/webhook/event"
	"github.com/stretchr/testify/require"
)

// readKey reads a dedupe key back into its source, tenant and id, as
// dedupeKey's doc says it can be read: it fails the test if the key has
// another reading.
func readKey(t *testing.T, key string) (event.Source, string, string) {
	t.Helper()
	i := strings.IndexAny(key, ":@")
	require.Positive(t, i, "key %q", key)
	source, rest := event.Source(key[:i]), key[i+1:]
	if key[i] == ':' {
		return source, "", rest
	}
	tenant, id, ok := strings.Cut(rest, ":")
	require.True(t, ok, "key %q", key)
	return source, tenant, id
}

// TestDedupeKeyCollisions: (tenant, id) pairs whose keys collided when a
// tenant's key was "source:tenant:id" map to distinct keys, each read
// back to its own pair.
func TestDedupeKeyCollisions(t *testing.T) {
	tests := []struct {
		name string
		a, b Delivery
	}{
		{"a plain id spelling a tenant's key", Delivery{ID: "acme:msg_1"}, Delivery{Tenant: "acme", ID: "msg_1"}},
		{"a plain id spelling a tenant's key, the tenant's id holding ':'", Delivery{ID: "acme:x:y"}, Delivery{Tenant: "acme", ID: "x:y"}},
		{"a plain id of ':' alone and an empty one", Delivery{ID: ":"}, Delivery{ID: ""}},
		{"a tenant's empty id and a plain id ending in ':'", Delivery{ID: "acme:"}, Delivery{Tenant: "acme", ID: ""}},
		{"a plain id starting with '@'", Delivery{ID: "@acme:msg_1"}, Delivery{Tenant: "acme", ID: "msg_1"}},
		{"tenants holding '@'", Delivery{Tenant: "a@b", ID: "c"}, Delivery{Tenant: "a", ID: "b:c"}},
		{"a tenant named for a source", Delivery{Tenant: "intercom", ID: "msg_1"}, Delivery{ID: "intercom:msg_1"}},
		{"tenants that are prefixes of one another", Delivery{Tenant: "ac", ID: "me:msg_1"}, Delivery{Tenant: "acme", ID: "msg_1"}},
	}
	for _, tt := range tests {
		for _, source := range []event.Source{event.SourceStandard, event.SourceIntercom, event.SourceSeries} {
			a, b := tt.a, tt.b
			a.Source, b.Source = source, source
			ka, kb := dedupeKey(&a), dedupeKey(&b)
			require.NotEqual(t, ka, kb, tt.name)
			for _, d := range []Delivery{a, b} {
				s, tenant, id := readKey(t, dedupeKey(&d))
				require.Equal(t, []string{string(d.Source), d.Tenant, d.ID}, []string{string(s), tenant, id}, tt.name)
			}
		}
	}
	// The forms the docs show.
	require.Equal(t, "standard:msg_1", dedupeKey(&Delivery{Source: event.SourceStandard, ID: "msg_1"}))
	require.Equal(t, "standard@acme:msg_1", dedupeKey(&Delivery{Source: event.SourceStandard, Tenant: "acme", ID: "msg_1"}))
}

// FuzzDedupeKey: every key reads back to the source, tenant and id it was
// made of, for any id and any tenant a key function may return, so no two
// deliveries share one.
func FuzzDedupeKey(f *testing.F) {
	f.Add(uint8(0), "", "acme:msg_1")
	f.Add(uint8(0), "acme", "msg_1")
	f.Add(uint8(1), "a@b", ":c@d:")
	f.Add(uint8(2), "ａｃｍｅ", "")
	sources := []event.Source{event.SourceStandard, event.SourceIntercom, event.SourceSeries}
	f.Fuzz(func(t *testing.T, src uint8, tenant, id string) {
		if tenant != "" && checkTenant(tenant) != nil {
			return // refused before it names a key
		}
		d := Delivery{Source: sources[int(src)%len(sources)], Tenant: tenant, ID: id}
		s, gotTenant, gotID := readKey(t, dedupeKey(&d))
		require.Equal(t, []string{string(d.Source), tenant, id}, []string{string(s), gotTenant, gotID})
	})
}
