package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

func TestQueue(t *testing.T) {
	r := &Router{Accounts: map[string]string{"northwind.example": "Northwind", "acme.example": "Acme"}}
	tests := []struct{ email, queue string }{
		{"dana@northwind.example", "priority/Northwind"},
		{"Dana.Okafor@NorthWind.Example", "priority/Northwind"},
		{"li@eu.northwind.example", "priority/Northwind"},
		{"li@northwind.example.", "priority/Northwind"},
		{"ops@acme.example", "priority/Acme"},
		{"someone@gmail.example", GeneralQueue},
		{"x@northwind.example.evil.example", GeneralQueue},
		{"x@notnorthwind.example", GeneralQueue},
		{"northwind.example", GeneralQueue},
		{"a@b@northwind.example", GeneralQueue},
		{"", GeneralQueue},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			require.Equal(t, tt.queue, r.Queue(tt.email))
		})
	}
}

func TestParseAccounts(t *testing.T) {
	m, err := ParseAccounts(" Northwind.Example = Northwind , acme.example=Acme,")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"northwind.example": "Northwind", "acme.example": "Acme"}, m)
	for _, bad := range []string{"northwind", "northwind.example", "a@b.example=X", "=X"} {
		_, err := ParseAccounts(bad)
		require.Error(t, err, bad)
	}
}

func TestRoutesDeliveries(t *testing.T) {
	var out bytes.Buffer
	r := &Router{Accounts: map[string]string{"northwind.example": "Northwind"}, Out: &out}
	h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	h.OnJamCreated(r.OnJamCreated)

	for _, body := range []string{
		`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","jamUrl":"https://jam.dev/c/4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"t","title":"Cart empties","author":{"email":"dana@northwind.example"}}`,
		// Jam's envelope shape decodes to the same fields.
		`{"type":"jam.created","id":"evt_1","data":{"jamId":"8b1e4d2c-5a6f-4e7d-9c0b-1a2b3c4d5e6f","jamUrl":"https://jam.dev/c/8b1e4d2c-5a6f-4e7d-9c0b-1a2b3c4d5e6f","teamId":"t","title":"Typo","author":{"email":"li@gmail.example"}}}`,
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, []byte(body)))
		require.Equal(t, http.StatusOK, w.Code)
	}
	require.Equal(t, "priority/Northwind\thttps://jam.dev/c/4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03\tCart empties\n"+
		"general\thttps://jam.dev/c/8b1e4d2c-5a6f-4e7d-9c0b-1a2b3c4d5e6f\tTypo\n", out.String())
}
