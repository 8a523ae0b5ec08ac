package webhook_test

import (
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// TestNilOptions: a nil Option or VerifyOption (an option variable left
// unset) is a constructor error naming its position, as a nil argument to
// an option is, not a nil dereference inside the constructor.
func TestNilOptions(t *testing.T) {
	var unset webhook.Option
	_, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), unset)
	require.ErrorContains(t, err, "option 1 is nil")
	_, err = webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.VerifyOption(nil))
	require.ErrorContains(t, err, "is nil")
	_, err = webhook.NewVerifier([]string{webhooktest.Secret}, webhook.WithTolerance(time.Minute), nil)
	require.ErrorContains(t, err, "option 1 is nil")
	_, err = webhook.NewVerifierRaw([][]byte{[]byte("0123456789abcdef")}, nil)
	require.ErrorContains(t, err, "option 0 is nil")
}
