package event

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fixtureDir holds the fixtures; package webhooktest embeds the same
// directory for users' tests.
const fixtureDir = "../webhooktest/testdata"

// readFixtures returns every fixture by its path relative to fixtureDir.
func readFixtures(tb testing.TB) map[string][]byte {
	tb.Helper()
	fsys := os.DirFS(fixtureDir)
	out := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		out[p] = b
		return err
	})
	require.NoError(tb, err)
	require.NotEmpty(tb, out)
	return out
}

// decodeFixture decodes a fixture the way its directory says: Series
// bodies through ParseSeries, with the content type the extension implies,
// everything else through Parse.
func decodeFixture(name string, b []byte) (Event, error) {
	if strings.HasPrefix(name, "series/") {
		ct := contentTypeJSON
		if path.Ext(name) == ".form" {
			ct = contentTypeForm
		}
		return ParseSeries(b, ct)
	}
	return Parse(b)
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

type golden struct {
	typ   Event  // a nil pointer of the expected concrete type
	event string // EventType
	check func(t *testing.T, ev Event)
}

func goldenTable() map[string]golden {
	const T = 1773406800 // 2026-03-13T13:00:00Z, the Intercom fixtures' clock
	jam := func(check func(t *testing.T, j *JamCreated)) func(*testing.T, Event) {
		return func(t *testing.T, ev Event) { check(t, ev.(*JamCreated)) }
	}
	rec := func(check func(t *testing.T, r *RecorderRecorded)) func(*testing.T, Event) {
		return func(t *testing.T, ev Event) { check(t, ev.(*RecorderRecorded)) }
	}
	opt := func(conv string, id string) func(*testing.T, Event) {
		return func(t *testing.T, ev Event) {
			r := ev.(*RecorderOptedOut)
			require.Equal(t, ID(conv), r.ConversationID)
			require.Equal(t, id, r.ID)
		}
	}
	link := func(check func(t *testing.T, r *RecordingLinkCreated)) func(*testing.T, Event) {
		return func(t *testing.T, ev Event) { check(t, ev.(*RecordingLinkCreated)) }
	}
	conv := func(check func(t *testing.T, n *IntercomNotification, c *IntercomConversation)) func(*testing.T, Event) {
		return func(t *testing.T, ev Event) {
			n := ev.(*IntercomNotification)
			require.Equal(t, ItemConversation, n.ItemType())
			require.Equal(t, "q7k3zm2x", n.AppID)
			c := n.Conversation()
			require.NotNil(t, c)
			require.Nil(t, n.Contact())
			check(t, n, c)
		}
	}
	contact := func(check func(t *testing.T, c *IntercomContact)) func(*testing.T, Event) {
		return func(t *testing.T, ev Event) {
			c := ev.(*IntercomNotification).Contact()
			require.NotNil(t, c)
			check(t, c)
		}
	}
	ticket := func(check func(t *testing.T, tk *IntercomTicket)) func(*testing.T, Event) {
		return func(t *testing.T, ev Event) {
			n := ev.(*IntercomNotification)
			require.Equal(t, ItemTicket, n.ItemType())
			tk := n.Ticket()
			require.NotNil(t, tk)
			require.Equal(t, "Bug report", tk.TicketType.Name)
			require.Equal(t, "Upload fails on Safari", tk.Title())
			require.Len(t, tk.Contacts, 1)
			check(t, tk)
		}
	}
	admin := func(check func(t *testing.T, a *IntercomAdmin)) func(*testing.T, Event) {
		return func(t *testing.T, ev Event) {
			a := ev.(*IntercomNotification).Admin()
			require.NotNil(t, a)
			check(t, a)
		}
	}
	// raw checks an item kind without a typed accessor: reachable as raw
	// JSON, and no accessor claims it.
	raw := func(kind, contains string) func(*testing.T, Event) {
		return func(t *testing.T, ev Event) {
			n := ev.(*IntercomNotification)
			require.Equal(t, kind, n.ItemType())
			require.Nil(t, n.typedItem())
			var item bytes.Buffer
			require.NoError(t, json.Compact(&item, n.Item()))
			require.Contains(t, item.String(), contains)
		}
	}
	series := func(ct string, check func(t *testing.T, s *SeriesWebhook)) func(*testing.T, Event) {
		return func(t *testing.T, ev Event) {
			s := ev.(*SeriesWebhook)
			require.Equal(t, ct, s.ContentType)
			require.Equal(t, "bm-4410", s.Fields["company_id"])
			check(t, s)
		}
	}
	type seriesContact struct {
		Name       string `json:"name"`
		Email      string `json:"email"`
		CompanyID  string `json:"company_id"`
		SignedUpAt Time   `json:"signed_up_at"`
		Seats      int    `json:"seats,string"`
		Paying     bool   `json:"paying,string"`
		LastSeenAt Time   `json:"last_seen_at"`
	}
	seriesContactCheck := func(t *testing.T, s *SeriesWebhook) {
		var c seriesContact
		require.NoError(t, s.Decode(&c))
		require.Equal(t, seriesContact{Name: "Jonas Lindqvist", Email: "jonas.lindqvist@brightmill-foods.example",
			CompanyID: "bm-4410", SignedUpAt: Time{time.Unix(1773392564, 0).UTC()}, Seats: 120, Paying: true}, c)
		require.Equal(t, "120", s.Fields["seats"])
	}

	return map[string]golden{
		"jam/jam.created.maximal.json": {(*JamCreated)(nil), TypeJamCreated, jam(func(t *testing.T, j *JamCreated) {
			require.Equal(t, "7c9e6679-7425-40de-944b-e07fc1f90ae7", j.JamID)
			require.Equal(t, CaptureVideo, j.Type)
			require.Equal(t, OriginExtensionChrome, j.Origin)
			require.Equal(t, utc("2026-03-14T09:26:53.589Z"), j.CreatedAt.Time)
			require.Equal(t, "Marta Oyelaran", j.Author.Name)
			require.Equal(t, "macOS", j.SystemInfo.OS.Name)
			require.Equal(t, "134.0.6998.89", j.SystemInfo.Browser.Version)
			require.Equal(t, JamScreen{1728, 1117}, j.SystemInfo.Screen)
			require.Contains(t, j.Media.VideoURL, "video.mp4")
			require.Contains(t, j.Media.ThumbnailURL, "thumbnail.jpg")
			require.Equal(t, "https://shop.larkspur-outdoor.example/cart?coupon=SPRING26&utm_source=newsletter", j.OriginalURL)
			require.False(t, j.IsIncognito)
			require.Empty(t, j.ID)
			u, ok := JamUUID(j.JamURL)
			require.True(t, ok)
			require.Equal(t, j.JamID, u)
		})},
		"jam/jam.created.minimal.json": {(*JamCreated)(nil), TypeJamCreated, jam(func(t *testing.T, j *JamCreated) {
			require.Equal(t, CaptureScreenshot, j.Type)
			require.Equal(t, JamAuthor{Email: "dev@quillfeather.example"}, j.Author)
			require.Empty(t, j.Title)
			require.Empty(t, j.Origin)
			require.Zero(t, j.SystemInfo)
		})},
		"jam/jam.created.screenshot.json": {(*JamCreated)(nil), TypeJamCreated, jam(func(t *testing.T, j *JamCreated) {
			require.Equal(t, CaptureScreenshot, j.Type)
			require.True(t, j.IsIncognito)
			require.Equal(t, utc("2026-02-27T15:45:12.004Z"), j.CreatedAt.UTC())
			require.Contains(t, j.Media.ScreenshotURL, "full.png")
		})},
		"jam/jam.created.session_replay.json": {(*JamCreated)(nil), TypeJamCreated, jam(func(t *testing.T, j *JamCreated) {
			require.Equal(t, CaptureSessionReplay, j.Type)
			require.Equal(t, OriginRecordingLink, j.Origin)
			require.Equal(t, "Firefox", j.SystemInfo.Browser.Name)
		})},
		"jam/jam.created.mobile_ios.json": {(*JamCreated)(nil), TypeJamCreated, jam(func(t *testing.T, j *JamCreated) {
			require.Equal(t, OriginMobileIOS, j.Origin)
			require.Equal(t, "iOS", j.SystemInfo.OS.Name)
			require.Zero(t, j.SystemInfo.Browser)
			require.Equal(t, "Inês Carvalho", j.Author.Name)
		})},
		"jam/jam.created.origin_unknown.json": {(*JamCreated)(nil), TypeJamCreated, jam(func(t *testing.T, j *JamCreated) {
			require.Equal(t, JamCaptureType("audioNote"), j.Type)
			require.Equal(t, JamOrigin("extension_edge"), j.Origin)
		})},
		"jam/jam.created.envelope.json": {(*JamCreated)(nil), TypeJamCreated, jam(func(t *testing.T, j *JamCreated) {
			require.Equal(t, "evt_2mQ7xK4pR9tV1wZ3", j.ID)
			require.Equal(t, "d2f4a6c8-9e1b-4d35-a7c9-4e6f8a0b2d57", j.JamID)
			require.Equal(t, CaptureScreenshot, j.Type)
			require.Equal(t, OriginDashboard, j.Origin)
			require.Equal(t, utc("2026-03-15T10:11:12Z"), j.CreatedAt.Time)
		})},
		"jam/jam.updated.envelope.json": {(*UnknownEvent)(nil), "jam.updated", func(t *testing.T, ev Event) {
			require.Contains(t, string(ev.(*UnknownEvent).Raw), "fixed in 4.12.1")
		}},
		"jam/intercom.recorder.recorded.envelope.json": {(*RecorderRecorded)(nil), TypeRecorderRecorded, rec(func(t *testing.T, r *RecorderRecorded) {
			require.Equal(t, "evt_8hN3cV6bX1zL5qW9", r.ID)
			require.Equal(t, ID("215468123901234"), r.ConversationID)
			require.Equal(t, "1e3a5c7e-9b2d-4f46-8a0c-3e5a7c9e1b24", r.JamID)
			require.Equal(t, "https://jam.dev/c/1e3a5c7e-9b2d-4f46-8a0c-3e5a7c9e1b24", r.JamURL)
			require.Equal(t, utc("2026-03-12T14:22:05.301Z"), r.CreatedAt.Time)
		})},
		"jam/intercom.recorder.recorded.envelope_camel.json": {(*RecorderRecorded)(nil), TypeRecorderRecorded, rec(func(t *testing.T, r *RecorderRecorded) {
			require.Equal(t, ID("215468123904477"), r.ConversationID, "numeric conversation id keeps its digits")
			require.Equal(t, "https://jam.dev/c/6b8d0f2a-4c6e-4a93-b5d7-9f1b3d5f7a82", r.JamURL)
			require.Equal(t, utc("2026-03-12T15:01:44Z"), r.CreatedAt.Time)
		})},
		"jam/intercom.recorder.recorded.flat.json": {(*RecorderRecorded)(nil), TypeRecorderRecorded, rec(func(t *testing.T, r *RecorderRecorded) {
			require.Empty(t, r.ID)
			require.Equal(t, "215468124011902", r.ConversationID.String())
			require.Equal(t, "8f0b2d4f-6a8c-4eb1-a3c5-7e9a1c3e5b60", r.JamID)
			require.True(t, r.CreatedAt.IsZero())
		})},
		"jam/intercom.recorder.recorded.flat_recording_url.json": {(*RecorderRecorded)(nil), TypeRecorderRecorded, rec(func(t *testing.T, r *RecorderRecorded) {
			require.Empty(t, r.JamID)
			u, ok := JamUUID(r.JamURL)
			require.True(t, ok)
			require.Equal(t, "3c5e7a9c-1e3b-4d5f-8b7d-0f2b4d6f8a19", u)
		})},
		"jam/intercom.recorder.recorded.fin.json": {(*RecorderRecorded)(nil), TypeRecorderRecorded, rec(func(t *testing.T, r *RecorderRecorded) {
			require.Empty(t, r.ID)
			require.Equal(t, ID("215468124102287"), r.ConversationID)
			require.Equal(t, "9a1c3e5a-7c9e-4b2d-a4f6-8b0d2f4b6d83", r.JamID)
			require.Equal(t, utc("2026-03-18T09:40:00Z"), r.CreatedAt.Time)
		})},
		"jam/intercom.recorder.opted_out.flat.json":     {(*RecorderOptedOut)(nil), TypeRecorderOptedOut, opt("215468124200515", "")},
		"jam/intercom.recorder.opted_out.envelope.json": {(*RecorderOptedOut)(nil), TypeRecorderOptedOut, opt("215468123990011", "evt_7tR2yU5iO8pA1sD4")},
		"jam/intercom.recorder.opted_out.fin.json":      {(*RecorderOptedOut)(nil), TypeRecorderOptedOut, opt("215468124233876", "")},
		"jam/recording_link.created.json": {(*RecordingLinkCreated)(nil), TypeRecordingLinkCreated, link(func(t *testing.T, r *RecordingLinkCreated) {
			require.Equal(t, "rl_01JQ8Z3K5M7N9P1R3T5V7X9", r.RecordingLinkID)
			require.Equal(t, "hT4kQ9", r.PublicID)
			require.Equal(t, LinkOneTime, r.Type)
			require.Equal(t, OriginCSUPIntercom, r.Origin)
			require.Equal(t, "intercom-ticket-48213", r.Reference)
			require.Equal(t, "https://jam.dev/r/hT4kQ9/record", r.RecordingURL)
			require.Equal(t, JamAuthor{"amara.nwosu@tidewater-analytics.example", "Amara Nwosu"}, r.CreatedBy)
			require.Equal(t, utc("2026-03-11T13:05:27.880Z"), r.CreatedAt.Time)
		})},
		"jam/recording_link.created.reusable.json": {(*RecordingLinkCreated)(nil), TypeRecordingLinkCreated, link(func(t *testing.T, r *RecordingLinkCreated) {
			require.Equal(t, LinkReusable, r.Type)
			require.Empty(t, r.Origin)
			require.Zero(t, r.CreatedBy)
		})},

		"intercom/conversation.user.replied.json": {(*IntercomNotification)(nil), TopicConversationUserReplied, conv(func(t *testing.T, n *IntercomNotification, c *IntercomConversation) {
			require.Equal(t, ID("notif_3f1c9a2e-7b4d-4e58-a6c1-0d9e8f7a6b5c"), n.ID)
			require.Equal(t, "notification_event", n.Type)
			require.Equal(t, "notification_event_data", n.Data.Type)
			require.Equal(t, "pending", n.DeliveryStatus)
			require.Equal(t, 1, n.DeliveryAttempts)
			require.Equal(t, int64(T), n.CreatedAt.Unix())
			require.Equal(t, int64(T), n.FirstSentAt.Unix())
			require.True(t, n.DeliveredAt.IsZero(), "delivered_at 0 means not delivered")
			require.Empty(t, n.Self)
			require.JSONEq(t, `{}`, string(n.Links))
			require.Empty(t, n.FieldErrors())
			require.Equal(t, ID("215468124301118"), c.ID)
			require.Equal(t, StateOpen, c.State)
			require.True(t, c.Open)
			require.Equal(t, PriorityNotMarked, c.Priority)
			require.Empty(t, c.AdminAssigneeID)
			require.True(t, c.SnoozedUntil.IsZero())
			require.Equal(t, "Jonas Lindqvist", c.Source.Author.Name)
			require.Equal(t, "customer_initiated", c.Source.DeliveredAs)
			require.Contains(t, c.Source.Body, "<p>Hi, our CSV export")
			require.Equal(t, []IntercomContactRef{{Type: "contact", ID: "65f1c2a9e4b0d71a2c3e5f80", ExternalID: "bm-user-20931"}}, c.Contacts)
			require.Len(t, c.Parts, 1)
			require.Equal(t, 2, c.PartsTotal)
			require.Equal(t, "comment", c.Parts[0].PartType)
			require.Equal(t, "user", c.Parts[0].Author.Type)
			require.Nil(t, c.Parts[0].AssignedTo)
			require.Equal(t, utc("2026-03-13T12:00:00Z"), c.Statistics.FirstContactReplyAt.Time)
			require.Equal(t, 2, c.Statistics.CountConversationParts)
			require.Equal(t, Attributes{"Plan": "Growth", "Region": "EU", "Seats": json.Number("25")}, c.CustomAttributes)
		})},
		"intercom/conversation.user.created.json": {(*IntercomNotification)(nil), TopicConversationUserCreated, conv(func(t *testing.T, n *IntercomNotification, c *IntercomConversation) {
			require.Zero(t, c.Statistics)
			require.Empty(t, c.Parts)
			require.Equal(t, int64(T-60), c.WaitingSince.Unix())
		})},
		"intercom/conversation.admin.replied.json": {(*IntercomNotification)(nil), TopicConversationAdminReplied, conv(func(t *testing.T, n *IntercomNotification, c *IntercomConversation) {
			require.Equal(t, PriorityUrgent, c.Priority)
			require.Equal(t, ID("7340561"), c.AdminAssigneeID)
			require.Equal(t, ID("5017422"), c.TeamAssigneeID)
			require.Equal(t, "CSV export stuck", c.Title)
			require.Equal(t, []IntercomTag{{Type: "tag", ID: "8123904", Name: "export"}}, c.Tags)
			require.Equal(t, 840, c.Statistics.TimeToAdminReply)
			require.Equal(t, "admin", c.Parts[0].Author.Type)
			require.Equal(t, ID("7340561"), c.Parts[0].Author.ID)
		})},
		"intercom/conversation.admin.assigned.json": {(*IntercomNotification)(nil), TopicConversationAdminAssigned, conv(func(t *testing.T, n *IntercomNotification, c *IntercomConversation) {
			require.Equal(t, ID("7340561"), c.AdminAssigneeID, "int assignee id")
			require.Empty(t, c.TeamAssigneeID)
			require.Equal(t, PriorityMarked, c.Priority)
			require.Equal(t, &IntercomAuthor{Type: "admin", ID: "7340561"}, c.Parts[0].AssignedTo)
			require.Equal(t, "bot", c.Parts[0].Author.Type)
			require.Equal(t, 1, c.Statistics.CountAssignments)
		})},
		"intercom/conversation.admin.closed.json": {(*IntercomNotification)(nil), TopicConversationAdminClosed, conv(func(t *testing.T, n *IntercomNotification, c *IntercomConversation) {
			require.Equal(t, StateClosed, c.State)
			require.False(t, c.Open)
			require.Equal(t, 2, n.DeliveryAttempts)
			require.Equal(t, ID("7340561"), c.Statistics.LastClosedByID)
			require.Equal(t, utc("2026-03-13T15:00:00Z"), c.Statistics.LastCloseAt.Time)
		})},
		"intercom/conversation.admin.snoozed.json": {(*IntercomNotification)(nil), TopicConversationAdminSnoozed, conv(func(t *testing.T, n *IntercomNotification, c *IntercomConversation) {
			require.Equal(t, StateSnoozed, c.State)
			require.Equal(t, int64(T+86400), c.SnoozedUntil.Unix())
			require.Equal(t, PriorityLow, c.Priority)
		})},
		"intercom/conversation.admin.noted.json": {(*IntercomNotification)(nil), TopicConversationAdminNoted, conv(func(t *testing.T, n *IntercomNotification, c *IntercomConversation) {
			require.Empty(t, n.Data.Type, "data.type absent")
			require.Equal(t, "note", c.Parts[0].PartType)
			require.Equal(t, PriorityMedium, c.Priority)
		})},
		"intercom/conversation.priority.updated.json": {(*IntercomNotification)(nil), TopicConversationPriorityUpdated, conv(func(t *testing.T, n *IntercomNotification, c *IntercomConversation) {
			require.Equal(t, PriorityHigh, c.Priority)
		})},
		"intercom/conversation.deleted.json": {(*IntercomNotification)(nil), TopicConversationDeleted, conv(func(t *testing.T, n *IntercomNotification, c *IntercomConversation) {
			require.True(t, c.Deleted)
			require.Equal(t, ID("215468124299870"), c.ID)
		})},
		"intercom/conversation_part.tag.created.json": {(*IntercomNotification)(nil), TopicConversationPartTagCreated, conv(func(t *testing.T, n *IntercomNotification, c *IntercomConversation) {
			require.Equal(t, "bug", c.Tags[0].Name)
		})},
		"intercom/conversation_part.redacted.json": {(*IntercomNotification)(nil), TopicConversationPartRedacted, raw("conversation_part", `"redacted":true`)},
		"intercom/contact.user.created.json": {(*IntercomNotification)(nil), TopicContactUserCreated, contact(func(t *testing.T, c *IntercomContact) {
			require.Equal(t, RoleUser, c.Role)
			require.Equal(t, "jonas.lindqvist@brightmill-foods.example", c.Email)
			require.Equal(t, "q7k3zm2x", c.WorkspaceID)
			require.Equal(t, "bm-user-20931", c.ExternalID)
			require.Equal(t, utc("2026-03-13T09:12:44Z"), c.CreatedAt.Time, "ISO item timestamp")
			require.Equal(t, utc("2026-03-13T09:12:45.12Z"), c.UpdatedAt.Time)
			require.True(t, c.LastSeenAt.IsZero())
			require.Equal(t, "enterprise", c.CustomAttributes["account_tier"])
			require.Empty(t, c.Tags)
		})},
		"intercom/contact.lead.created.json": {(*IntercomNotification)(nil), TopicContactLeadCreated, contact(func(t *testing.T, c *IntercomContact) {
			require.Equal(t, RoleLead, c.Role)
			require.Empty(t, c.Email)
			require.Equal(t, int64(T-500), c.CreatedAt.Unix(), "unix item timestamp")
			require.Equal(t, []IntercomTag{{Type: "tag", ID: "8124001"}}, c.Tags, "contact tags under data")
		})},
		"intercom/contact.deleted.json": {(*IntercomNotification)(nil), TopicContactDeleted, contact(func(t *testing.T, c *IntercomContact) {
			require.True(t, c.Deleted)
			require.Equal(t, ID("65f1a0c1e4b0d71a2c3e0042"), c.ID)
		})},
		"intercom/contact.user.tag.created.json": {(*IntercomNotification)(nil), TopicContactUserTagCreated, func(t *testing.T, ev Event) {
			ct := ev.(*IntercomNotification).ContactTag()
			require.NotNil(t, ct)
			require.Equal(t, IntercomTag{Type: "tag", ID: "8124050", Name: "VIP"}, ct.Tag)
			require.Equal(t, "Jonas Lindqvist", ct.Contact.Name)
			require.Equal(t, int64(T+200), ct.CreatedAt.Unix())
		}},
		"intercom/contact.lead.tag.deleted.json": {(*IntercomNotification)(nil), TopicContactLeadTagDeleted, func(t *testing.T, ev Event) {
			ct := ev.(*IntercomNotification).ContactTag()
			require.Equal(t, ID("8124001"), ct.Tag.ID, "numeric tag id")
			require.Equal(t, RoleLead, ct.Contact.Role)
		}},
		"intercom/contact.subscribed.json": {(*IntercomNotification)(nil), TopicContactSubscribed, raw("subscription", `"consent_type":"opt_in"`)},
		"intercom/company.created.json": {(*IntercomNotification)(nil), TopicCompanyCreated, func(t *testing.T, ev Event) {
			c := ev.(*IntercomNotification).Company()
			require.NotNil(t, c)
			require.Equal(t, "bm-4410", c.CompanyID)
			require.Equal(t, "Brightmill Foods", c.Name)
			require.Equal(t, "Growth", c.Plan.Name)
			require.Equal(t, 1249.5, c.MonthlySpend)
			require.Equal(t, 340, c.Size)
			require.Equal(t, "Food & Beverage", c.Industry)
			require.Equal(t, utc("2024-01-01T00:00:00Z"), c.RemoteCreatedAt.Time)
			require.Equal(t, "key-account", c.Tags[0].Name)
		}},
		"intercom/company.deleted.json": {(*IntercomNotification)(nil), TopicCompanyDeleted, func(t *testing.T, ev Event) {
			require.True(t, ev.(*IntercomNotification).Company().Deleted)
		}},
		"intercom/ticket.created.json": {(*IntercomNotification)(nil), TopicTicketCreated, ticket(func(t *testing.T, tk *IntercomTicket) {
			require.Equal(t, IntercomTicketState{ID: "4128", Category: "submitted", InternalLabel: "Submitted", ExternalLabel: "Submitted"}, tk.State)
			require.Equal(t, ID("0"), tk.AdminAssigneeID)
			require.Equal(t, ID("0"), tk.TeamAssigneeID)
			require.Equal(t, ID("48213"), tk.TicketID)
			require.Equal(t, "Customer", tk.Category)
			require.True(t, tk.Open)
		})},
		"intercom/ticket.state.updated.json": {(*IntercomNotification)(nil), TopicTicketStateUpdated, ticket(func(t *testing.T, tk *IntercomTicket) {
			require.Equal(t, IntercomTicketState{Category: "in_progress"}, tk.State, "string ticket_state")
			require.Equal(t, ID("7340561"), tk.AdminAssigneeID)
		})},
		"intercom/ticket.admin.assigned.json": {(*IntercomNotification)(nil), TopicTicketAdminAssigned, ticket(func(t *testing.T, tk *IntercomTicket) {
			require.Equal(t, ID("7340561"), tk.AdminAssigneeID)
		})},
		"intercom/ticket.closed.json": {(*IntercomNotification)(nil), TopicTicketClosed, ticket(func(t *testing.T, tk *IntercomTicket) {
			require.Equal(t, "resolved", tk.State.Category)
			require.False(t, tk.Open)
			require.Equal(t, ID("1021"), tk.ID)
		})},
		"intercom/ticket.closed.nested.json": {(*IntercomNotification)(nil), TopicTicketClosed, ticket(func(t *testing.T, tk *IntercomTicket) {
			require.Equal(t, ID("1022"), tk.ID, "ticket nested at data.item.ticket")
			require.Equal(t, "Resolved", tk.State.ExternalLabel)
		})},
		"intercom/admin.away_mode_updated.json": {(*IntercomNotification)(nil), TopicAdminAwayModeUpdated, admin(func(t *testing.T, a *IntercomAdmin) {
			require.Equal(t, ID("7340561"), a.ID, "numeric admin id")
			require.True(t, a.AwayModeEnabled)
			require.True(t, a.AwayModeReassign)
			require.Equal(t, []ID{"5017422", "5017430"}, a.TeamIDs)
			require.Equal(t, "Support Lead", a.JobTitle)
		})},
		"intercom/admin.logged_in.json": {(*IntercomNotification)(nil), TopicAdminLoggedIn, admin(func(t *testing.T, a *IntercomAdmin) {
			require.Equal(t, ID("7340588"), a.ID)
			require.False(t, a.AwayModeEnabled)
			require.Empty(t, a.JobTitle)
			require.Empty(t, a.TeamIDs)
		})},
		"intercom/admin.activity_log_event.created.json": {(*IntercomNotification)(nil), TopicAdminActivityLogEventCreated, raw("admin_activity_log_event", `"activity_type":"role_change"`)},
		"intercom/event.created.json": {(*IntercomNotification)(nil), TopicEventCreated, func(t *testing.T, ev Event) {
			e := ev.(*IntercomNotification).DataEvent()
			require.NotNil(t, e)
			require.Equal(t, "exported-report", e.EventName)
			require.Equal(t, "bm-user-20931", e.UserID)
			require.Equal(t, int64(T+1300), e.CreatedAt.Unix())
			require.Equal(t, Attributes{"report_id": json.Number("1182"), "format": "csv", "rows": json.Number("48213")}, e.Metadata)
		}},
		"intercom/visitor.signed_up.json": {(*IntercomNotification)(nil), TopicVisitorSignedUp, func(t *testing.T, ev Event) {
			n := ev.(*IntercomNotification)
			require.Equal(t, ItemVisitor, n.ItemType())
			require.Nil(t, n.Contact(), "a visitor is not a contact")
			require.Equal(t, &IntercomVisitor{
				ID: "65f1f2e3d4c5b6a798001122", UserID: "4c1e9d2a-visitor", Email: "alex.morgan@ironbark-labs.example",
				Name: "Alex Morgan", CreatedAt: Time{time.Unix(1773408140, 0).UTC()}, UpdatedAt: Time{time.Unix(1773408200, 0).UTC()},
				SignedUpAt: Time{time.Unix(1773408200, 0).UTC()}, CustomAttributes: Attributes{"landing_page": "/pricing"},
			}, n.Visitor())
		}},
		"intercom/article.created.json":     {(*IntercomNotification)(nil), "article.created", raw("article", `"Exporting reports to CSV"`)},
		"intercom/content_stat.series.json": {(*IntercomNotification)(nil), "content_stat.series", raw("content_stat.series", `"series_id":"40217"`)},
		"intercom/call.started.json":        {(*IntercomNotification)(nil), "call.started", raw("call", `"direction":"inbound"`)},
		"intercom/job.completed.json":       {(*IntercomNotification)(nil), TopicJobCompleted, raw("job", `"resource_type":"data_export"`)},
		"intercom/user.created.json": {(*IntercomNotification)(nil), TopicUserCreated, contact(func(t *testing.T, c *IntercomContact) {
			require.Equal(t, ID("530370b477ad7120001d"), c.ID, "an older API's user item is a contact")
			require.Equal(t, RoleUser, c.Role)
			require.Equal(t, "legacy-1188", c.ExternalID, "user_id")
			require.Equal(t, "pat.obrien@ironbark-labs.example", c.Email)
			require.Equal(t, "Pat O'Brien", c.Name)
			require.Equal(t, int64(1391782580), c.CreatedAt.Unix())
		})},
		"intercom/ticket.contact.attached.json": {(*IntercomNotification)(nil), TopicTicketContactAttached, func(t *testing.T, ev Event) {
			n := ev.(*IntercomNotification)
			require.Equal(t, ItemTicket, n.ItemType())
			tk := n.Ticket()
			require.NotNil(t, tk, "ticket nested at data.item.ticket")
			require.Equal(t, ID("1031"), tk.ID)
			require.Equal(t, ID("48227"), tk.TicketID)
			require.Equal(t, IntercomTicketType{Name: "Tickets"}, tk.TicketType, "ticket_type as a plain string")
			require.Equal(t, IntercomTicketState{Category: "submitted", InternalLabel: "Submitted", ExternalLabel: "Received"}, tk.State)
			require.Equal(t, "Invoice PDF shows last year's VAT number", tk.Title())
			require.Equal(t, []IntercomContactRef{
				{Type: "contact", ID: "6601d4b7c2a9e81f3b5d7a20", ExternalID: "ib-user-3318"},
				{Type: "contact", ID: "6601d4b7c2a9e81f3b5d7a35", ExternalID: "ib-user-3342"},
			}, tk.Contacts)
			require.Equal(t, ID("0"), tk.AdminAssigneeID)
			require.Equal(t, ID("5017430"), tk.TeamAssigneeID)
			require.True(t, tk.Open)
			require.Equal(t, &IntercomContact{ID: "6601d4b7c2a9e81f3b5d7a35", Role: RoleUser, ExternalID: "ib-user-3342",
				Email: "ilse.varga@ironbark-labs.example", Name: "Ilse Varga"}, tk.ChangedContact)
			require.Nil(t, n.Contact())
		}},
		"intercom/ticket.contact.detached.json": {(*IntercomNotification)(nil), TopicTicketContactDetached, func(t *testing.T, ev Event) {
			n := ev.(*IntercomNotification)
			require.Equal(t, ItemTicket, n.ItemType())
			tk := n.Ticket()
			require.NotNil(t, tk)
			require.Equal(t, "Tickets", tk.TicketType.Name)
			require.Equal(t, IntercomTicketState{Category: "in_progress", InternalLabel: "Looking into it", ExternalLabel: "In progress"}, tk.State)
			require.Equal(t, []IntercomContactRef{{Type: "contact", ID: "6601d4b7c2a9e81f3b5d7a20", ExternalID: "ib-user-3318"}}, tk.Contacts)
			require.Equal(t, ID("7340561"), tk.AdminAssigneeID)
			require.Equal(t, ID("6601d4b7c2a9e81f3b5d7a35"), tk.ChangedContact.ID)
			require.Equal(t, 2, n.DeliveryAttempts)
		}},
		"intercom/conversation.user.replied.older_api.json": {(*IntercomNotification)(nil), TopicConversationUserReplied, conv(func(t *testing.T, n *IntercomNotification, c *IntercomConversation) {
			require.Equal(t, ID("19204471183"), c.ID)
			require.Equal(t, []IntercomContactRef{{Type: "user", ID: "5cf7a3e1b9d24f0012a8c6e4", ExternalID: "ib-user-3318",
				Name: "Noor Haddad", Email: "noor.haddad@ironbark-labs.example"}}, c.Contacts, "user, for contacts")
			require.Equal(t, ID("2981004"), c.AdminAssigneeID, "assignee, for admin_assignee_id")
			require.Empty(t, c.TeamAssigneeID)
			require.Equal(t, IntercomSource{Type: "conversation_message", ID: "318842771", URL: "https://app.ironbark-labs.example/billing/invoices",
				Body: "<p>Our invoice for May shows last year's VAT number.</p>", Author: IntercomAuthor{Type: "user", ID: "5cf7a3e1b9d24f0012a8c6e4"}},
				c.Source, "conversation_message, for source")
			require.Equal(t, StateOpen, c.State)
			require.Len(t, c.Parts, 1)
			require.Equal(t, 2, c.PartsTotal)
			require.Equal(t, int64(1560339000), c.WaitingSince.Unix())
		})},
		"intercom/conversation.admin.assigned.older_api.json": {(*IntercomNotification)(nil), TopicConversationAdminAssigned, conv(func(t *testing.T, n *IntercomNotification, c *IntercomConversation) {
			require.Equal(t, []IntercomContactRef{{Type: "lead", ID: "56bb2c4e8a1f3d0e6c000042",
				ExternalID: "7e1f0b9c-2d4a-4c6e-8f10-3a5b7c9d1e2f", Email: "visitor.4411@mailbox.example"}}, c.Contacts)
			require.Empty(t, c.AdminAssigneeID)
			require.Equal(t, ID("204118"), c.TeamAssigneeID, "a team assignee")
			require.Equal(t, "Question about plans", c.Source.Subject)
			require.Equal(t, "lead", c.Source.Author.Type)
			require.Equal(t, &IntercomAuthor{Type: "team", ID: "204118"}, c.Parts[0].AssignedTo)
		})},
		"intercom/ping.json": {(*IntercomNotification)(nil), TopicPing, func(t *testing.T, ev Event) {
			n := ev.(*IntercomNotification)
			require.Empty(t, n.ID, "null id")
			require.Empty(t, n.DeliveryStatus, "null delivery_status")
			require.Equal(t, "Something for you to look at.", n.Ping().Message)
			require.Contains(t, string(n.RawJSON()), "\n\t\"type\"", "tab indentation kept")
		}},

		"series/contact.json": {(*SeriesWebhook)(nil), TypeSeriesWebhook, series(contentTypeJSON, func(t *testing.T, s *SeriesWebhook) {
			seriesContactCheck(t, s)
			require.Equal(t, "true", s.Fields["paying"])
			require.Equal(t, "null", s.Fields["last_seen_at"])
		})},
		"series/contact.form": {(*SeriesWebhook)(nil), TypeSeriesWebhook, series(contentTypeForm, seriesContactCheck)},
		"series/company.json": {(*SeriesWebhook)(nil), TypeSeriesWebhook, series(contentTypeJSON, func(t *testing.T, s *SeriesWebhook) {
			var v struct {
				Company struct {
					ID, Name, Plan string
				} `json:"company"`
				MonthlySpend float64  `json:"monthly_spend,string"`
				Tags         []string `json:"tags"`
				Note         string   `json:"note"`
			}
			require.NoError(t, s.Decode(&v))
			require.Equal(t, "Growth", v.Company.Plan)
			require.Equal(t, 1249.5, v.MonthlySpend)
			require.Equal(t, []string{"key-account", "eu"}, v.Tags)
			require.Equal(t, "Renewal call booked — send the Q2 deck", v.Note)
			require.JSONEq(t, `["key-account","eu"]`, s.Fields["tags"])
		})},
		"series/company.form": {(*SeriesWebhook)(nil), TypeSeriesWebhook, series(contentTypeForm, func(t *testing.T, s *SeriesWebhook) {
			require.Equal(t, "Renewal call booked — send the Q2 deck", s.Fields["note"])
			require.Equal(t, "key-account", s.Fields["tags"], "first value of a repeated key")
		})},
	}
}

func TestGoldenFixtures(t *testing.T) {
	fixtures := readFixtures(t)
	table := goldenTable()
	for name := range table {
		_, ok := fixtures[name]
		require.True(t, ok, "table row %s has no fixture", name)
	}
	require.GreaterOrEqual(t, len(fixtures), 45)
	for name, b := range fixtures {
		t.Run(name, func(t *testing.T) {
			g, ok := table[name]
			require.True(t, ok, "fixture %s has no table row", name)
			ev, err := decodeFixture(name, b)
			require.NoError(t, err)
			require.IsType(t, g.typ, ev)
			require.Equal(t, g.event, ev.EventType())
			require.Equal(t, b, ev.RawJSON())
			if n, ok := ev.(*IntercomNotification); ok {
				require.Empty(t, n.FieldErrors())
			}
			g.check(t, ev)
		})
	}
}

// TestFixtureCompleteness fails when a Jam event type or a typed Intercom
// item kind has no fixture, so a new type cannot ship untested.
func TestFixtureCompleteness(t *testing.T) {
	eventTypes := map[string]bool{}
	kinds := map[string]bool{}
	for name, b := range readFixtures(t) {
		ev, err := decodeFixture(name, b)
		require.NoError(t, err, name)
		eventTypes[ev.EventType()] = true
		if n, ok := ev.(*IntercomNotification); ok && n.typedItem() != nil {
			kinds[n.ItemType()] = true
		}
	}
	for _, typ := range packageConsts(t, "Type") {
		require.True(t, eventTypes[typ], "no fixture for event type %s", typ)
	}
	var missing []string
	for _, k := range itemKinds {
		if !kinds[k.kind] {
			missing = append(missing, k.kind)
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "typed Intercom item kinds without a fixture")
}
