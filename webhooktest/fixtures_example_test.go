package webhooktest_test

import (
	"fmt"

	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
)

// The embedded fixtures, each with the callback its delivery runs: pick
// the one a test needs by name for NewFixtureRequest or Fixture. The Jam
// ones hold each shape Jam has sent an event in (flat, envelope, Fin
// connector); jam.updated is an event this version does not know.
func ExampleFixtureNames() {
	for _, name := range webhooktest.FixtureNames() {
		source, _, _ := webhooktest.FixtureSource(name)
		ev, err := event.ParseFrom(source, webhooktest.Fixture(name))
		if err != nil {
			fmt.Println(name, err)
			continue
		}
		callback := ""
		switch ev := ev.(type) {
		case *event.JamCreated:
			callback = "OnJamCreated"
		case *event.RecorderRecorded:
			callback = "OnRecorderRecorded"
		case *event.RecorderOptedOut:
			callback = "OnRecorderOptedOut"
		case *event.RecordingLinkCreated:
			callback = "OnRecordingLinkCreated"
		case *event.IntercomNotification:
			callback = fmt.Sprintf("OnIntercom(%q)", ev.Topic)
		case *event.SeriesWebhook:
			callback = "OnSeries"
		case *event.UnknownEvent:
			callback = fmt.Sprintf("OnUnknown (%s)", ev.EventType())
		}
		fmt.Println(name, callback)
	}
	// Output:
	// intercom/admin.activity_log_event.created.json OnIntercom("admin.activity_log_event.created")
	// intercom/admin.away_mode_updated.json OnIntercom("admin.away_mode_updated")
	// intercom/admin.logged_in.json OnIntercom("admin.logged_in")
	// intercom/article.created.json OnIntercom("article.created")
	// intercom/call.started.json OnIntercom("call.started")
	// intercom/company.created.json OnIntercom("company.created")
	// intercom/company.deleted.json OnIntercom("company.deleted")
	// intercom/contact.deleted.json OnIntercom("contact.deleted")
	// intercom/contact.lead.created.json OnIntercom("contact.lead.created")
	// intercom/contact.lead.tag.deleted.json OnIntercom("contact.lead.tag.deleted")
	// intercom/contact.subscribed.json OnIntercom("contact.subscribed")
	// intercom/contact.user.created.json OnIntercom("contact.user.created")
	// intercom/contact.user.tag.created.json OnIntercom("contact.user.tag.created")
	// intercom/content_stat.series.json OnIntercom("content_stat.series")
	// intercom/conversation.admin.assigned.json OnIntercom("conversation.admin.assigned")
	// intercom/conversation.admin.assigned.older_api.json OnIntercom("conversation.admin.assigned")
	// intercom/conversation.admin.closed.json OnIntercom("conversation.admin.closed")
	// intercom/conversation.admin.noted.json OnIntercom("conversation.admin.noted")
	// intercom/conversation.admin.replied.json OnIntercom("conversation.admin.replied")
	// intercom/conversation.admin.snoozed.json OnIntercom("conversation.admin.snoozed")
	// intercom/conversation.deleted.json OnIntercom("conversation.deleted")
	// intercom/conversation.priority.updated.json OnIntercom("conversation.priority.updated")
	// intercom/conversation.user.created.json OnIntercom("conversation.user.created")
	// intercom/conversation.user.replied.json OnIntercom("conversation.user.replied")
	// intercom/conversation.user.replied.older_api.json OnIntercom("conversation.user.replied")
	// intercom/conversation_part.redacted.json OnIntercom("conversation_part.redacted")
	// intercom/conversation_part.tag.created.json OnIntercom("conversation_part.tag.created")
	// intercom/event.created.json OnIntercom("event.created")
	// intercom/job.completed.json OnIntercom("job.completed")
	// intercom/ping.json OnIntercom("ping")
	// intercom/ticket.admin.assigned.json OnIntercom("ticket.admin.assigned")
	// intercom/ticket.closed.json OnIntercom("ticket.closed")
	// intercom/ticket.closed.nested.json OnIntercom("ticket.closed")
	// intercom/ticket.contact.attached.json OnIntercom("ticket.contact.attached")
	// intercom/ticket.contact.detached.json OnIntercom("ticket.contact.detached")
	// intercom/ticket.created.json OnIntercom("ticket.created")
	// intercom/ticket.state.updated.json OnIntercom("ticket.state.updated")
	// intercom/user.created.json OnIntercom("user.created")
	// intercom/visitor.signed_up.json OnIntercom("visitor.signed_up")
	// jam/intercom.recorder.opted_out.envelope.json OnRecorderOptedOut
	// jam/intercom.recorder.opted_out.fin.json OnRecorderOptedOut
	// jam/intercom.recorder.opted_out.flat.json OnRecorderOptedOut
	// jam/intercom.recorder.recorded.envelope.json OnRecorderRecorded
	// jam/intercom.recorder.recorded.envelope_camel.json OnRecorderRecorded
	// jam/intercom.recorder.recorded.fin.json OnRecorderRecorded
	// jam/intercom.recorder.recorded.flat.json OnRecorderRecorded
	// jam/intercom.recorder.recorded.flat_recording_url.json OnRecorderRecorded
	// jam/jam.created.envelope.json OnJamCreated
	// jam/jam.created.maximal.json OnJamCreated
	// jam/jam.created.minimal.json OnJamCreated
	// jam/jam.created.mobile_ios.json OnJamCreated
	// jam/jam.created.origin_unknown.json OnJamCreated
	// jam/jam.created.screenshot.json OnJamCreated
	// jam/jam.created.session_replay.json OnJamCreated
	// jam/jam.updated.envelope.json OnUnknown (jam.updated)
	// jam/recording_link.created.json OnRecordingLinkCreated
	// jam/recording_link.created.reusable.json OnRecordingLinkCreated
	// series/company.form OnSeries
	// series/company.json OnSeries
	// series/contact.form OnSeries
	// series/contact.json OnSeries
}
