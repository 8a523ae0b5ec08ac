package webhook_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// familyRig records, for one request, which callbacks ran and the dedupe
// id the handler used.
type familyRig struct {
	h   *webhook.Handler
	ran []string
	ids []string
}

func newFamilyRig(t *testing.T, opts ...webhook.Option) *familyRig {
	t.Helper()
	f := &familyRig{}
	h, err := webhook.NewHandler(append([]webhook.Option{
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken),
		webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	}, opts...)...)
	require.NoError(t, err)
	note := func(name string) { f.ran = append(f.ran, name) }
	h.OnJamCreated(func(context.Context, *webhook.Delivery, *event.JamCreated) error { note("jam.created"); return nil })
	h.OnRecorderRecorded(func(context.Context, *webhook.Delivery, *event.RecorderRecorded) error {
		note("recorder.recorded")
		return nil
	})
	h.OnRecorderOptedOut(func(context.Context, *webhook.Delivery, *event.RecorderOptedOut) error {
		note("recorder.opted_out")
		return nil
	})
	h.OnIntercom("conversation.user.replied", func(context.Context, *webhook.Delivery, *event.IntercomNotification) error {
		note("intercom exact")
		return nil
	})
	h.OnIntercom("conversation.*", func(context.Context, *webhook.Delivery, *event.IntercomNotification) error {
		note("intercom prefix")
		return nil
	})
	h.OnIntercom("*", func(context.Context, *webhook.Delivery, *event.IntercomNotification) error {
		note("intercom *")
		return nil
	})
	h.OnSeries(func(context.Context, *webhook.Delivery, *event.SeriesWebhook) error { note("series"); return nil })
	h.OnUnknown(func(context.Context, *webhook.Delivery, *event.UnknownEvent) error { note("unknown"); return nil })
	h.OnAny(func(ctx context.Context, d *webhook.Delivery, e event.Event) error {
		f.ids = append(f.ids, d.ID)
		return nil
	})
	f.h = h
	return f
}

func (f *familyRig) serve(r *http.Request) int {
	f.ran, f.ids = nil, nil
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w.Code
}

// TestSourceFamilies holds each source to its own event family: a body
// shaped like another sender's event is an unknown event of the source
// that signed it, its dedupe id comes from that source's scheme, and the
// Intercom callbacks, exact topics and patterns alike, run only for
// Intercom notifications.
func TestSourceFamilies(t *testing.T) {
	notifShaped := []byte(`{"type":"notification_event","id":"notif_2b7c9e1d","topic":"conversation.user.replied",` +
		`"created_at":1795510790,"data":{"item":{"type":"conversation","id":"215471234567890"}}}`)
	nullID := []byte(`{"type":"notification_event","id":null,"topic":"conversation.user.replied",` +
		`"created_at":1795510790,"data":{"item":{"type":"conversation","id":"215471234567890"}}}`)
	jamEnvelope := []byte(`{"type":"jam.created","id":"evt_5d1c","data":{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_8Hq2"}}`)
	finBody := []byte(`{"event":"intercom.recorder.opted_out","payload":{"conversationId":"215471234567891"}}`)
	std := func(body []byte, id string) func(*testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			return webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithID(id))
		}
	}
	ic := func(body []byte) func(*testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			return webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, body)
		}
	}
	series := func(body []byte) func(*testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			return webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, body)
		}
	}
	tests := []struct {
		name   string
		pin    string
		req    func(*testing.T) *http.Request
		status int
		ran    []string // callbacks, in order
		id     string   // the dedupe id OnAny sees
		dedupe bool     // a second send is a duplicate
	}{
		{"Intercom-signed flat jam.created", "", ic(jamBody), 200, []string{"unknown"}, "", false},
		{"Intercom-signed Jam envelope", "", ic(jamEnvelope), 200, []string{"unknown"}, "", false},
		{"Intercom-signed Fin connector body", "", ic(finBody), 200, []string{"unknown"}, "", false},
		{"Intercom-signed recorder body", "", ic(recordedBody), 200, []string{"unknown"}, "", false},
		{"Intercom notification", "", ic(intercomBody), 200,
			[]string{"intercom exact", "intercom prefix", "intercom *"}, "notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c", true},
		{"Standard-signed notification keeps its webhook-id", "", std(notifShaped, "msg_std_notif"), 200,
			[]string{"unknown"}, "msg_std_notif", true},
		{"Standard-signed notification with a null id keeps dedupe", "", std(nullID, "msg_std_null"), 200,
			[]string{"unknown"}, "msg_std_null", true},
		{"Standard-signed jam.created", "", std(jamBody, "msg_std_jam"), 200, []string{"jam.created"}, "msg_std_jam", true},
		{"Standard-signed Jam envelope keeps its webhook-id", "", std(jamEnvelope, "msg_std_env"), 200,
			[]string{"jam.created"}, "msg_std_env", true},
		{"Series body shaped like a notification", "", series(notifShaped), 200, []string{"series"}, "", false},
		{"Series body shaped like jam.created", "", series(jamBody), 200, []string{"series"}, "", false},

		{"pinned jam.created, Intercom-signed flat jam.created", event.TypeJamCreated, ic(jamBody), 400, nil, "", false},
		{"pinned jam.created, Intercom notification", event.TypeJamCreated, ic(intercomBody), 400, nil, "", false},
		{"pinned topic, Standard-signed notification", event.TopicConversationUserReplied, std(notifShaped, "msg_pin_notif"), 200,
			[]string{"unknown"}, "msg_pin_notif", true},
		{"pinned topic, Intercom notification", event.TopicConversationUserReplied, ic(intercomBody), 200,
			[]string{"intercom exact", "intercom prefix", "intercom *"}, "notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c", true},
		// Intercom sends every topic an app subscribes to, pinned or not:
		// one of another topic is still a notification, with its id.
		{"pinned topic, Intercom notification of another topic", event.TopicTicketCreated, ic(intercomBody), 200,
			[]string{"intercom exact", "intercom prefix", "intercom *"}, "notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c", true},
		{"pinned unknown type, Intercom notification", "article.created", ic(intercomBody), 200,
			[]string{"intercom exact", "intercom prefix", "intercom *"}, "notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c", true},
		{"pinned Series type, Standard-signed body", event.TypeSeriesWebhook, std(jamBody, "msg_pin_series"), 400, nil, "", false},
		{"pinned Series type, Intercom-signed body", event.TypeSeriesWebhook, ic(intercomBody), 400, nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []webhook.Option
			if tt.pin != "" {
				opts = append(opts, webhook.WithEventType(tt.pin))
			}
			f := newFamilyRig(t, opts...)
			require.Equal(t, tt.status, f.serve(tt.req(t)))
			require.Equal(t, tt.ran, f.ran)
			if tt.status != 200 {
				return
			}
			require.Equal(t, []string{tt.id}, f.ids)
			require.Equal(t, tt.status, f.serve(tt.req(t)))
			if tt.dedupe {
				require.Empty(t, f.ran, "a replay of a delivery with an id is a duplicate")
			} else {
				require.Equal(t, tt.ran, f.ran)
			}
		})
	}
}

// TestParseFromFamilies: ParseFrom decodes every fixture as the handler
// does, into the family of the source it names and into nothing else.
func TestParseFromFamilies(t *testing.T) {
	for _, name := range webhooktest.FixtureNames() {
		if strings.HasPrefix(name, "series/") {
			continue
		}
		body := webhooktest.Fixture(name)
		own, other := event.SourceStandard, event.SourceIntercom
		if strings.HasPrefix(name, "intercom/") {
			own, other = other, own
		}
		ev, err := event.ParseFrom(own, body)
		require.NoError(t, err, name)
		want, err := event.Parse(body)
		require.NoError(t, err)
		require.Equal(t, want, ev, "%s from its own source decodes as Parse does", name)

		ev, err = event.ParseFrom(other, body)
		require.NoError(t, err, name)
		require.IsType(t, &event.UnknownEvent{}, ev, "%s from %s", name, other)
	}
	_, err := event.ParseFrom("elsewhere", jamBody)
	require.Error(t, err)
	s, err := event.ParseFrom(event.SourceSeries, seriesJSON)
	require.NoError(t, err)
	require.IsType(t, &event.SeriesWebhook{}, s)
}
