package webhook_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/inhook/webhook"
	"github.com/stretchr/testify/require"
)

func TestPanicErrorUnwrap(t *testing.T) {
	cause := errors.New("disk full")
	tests := []struct {
		value any
		want  error
	}{
		{value: cause, want: cause},
		{value: fmt.Errorf("wrapped: %w", cause), want: cause},
		{value: "a string", want: nil},
		{value: 42, want: nil},
	}
	for _, tt := range tests {
		pe := &webhook.PanicError{Value: tt.value}
		if tt.want == nil {
			require.Nil(t, pe.Unwrap(), "%v", tt.value)
			continue
		}
		require.ErrorIs(t, pe, tt.want)
		require.Equal(t, webhook.ReasonCallback, webhook.ReasonOf(pe), "a panic is the callback's failure")
	}
	// What a panic carries is not a reason of its own.
	require.Equal(t, webhook.ReasonCallback, webhook.ReasonOf(&webhook.PanicError{Value: webhook.ErrNoMatchingSignature}))
}
