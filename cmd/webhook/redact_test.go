package main

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedacted(t *testing.T) {
	for _, tt := range []struct{ raw, want string }{
		{"redis://u:hunter2@h:6379/0", "redis://u:xxxxx@h:6379/0"},
		{"redis://:hunter2@h:6379/0", "redis://:xxxxx@h:6379/0"},
		{"redis://hunter2@h:6379/0", "redis://xxxxx@h:6379/0"},
		{"https://tok3n@example.com/hook", "https://xxxxx@example.com/hook"},
		{"redis://h:6379/0", "redis://h:6379/0"},
		{"redis://@h:6379/0", "redis://@h:6379/0"},
	} {
		u, err := url.Parse(tt.raw)
		require.NoError(t, err)
		require.Equal(t, tt.want, redacted(u), tt.raw)
	}
}
