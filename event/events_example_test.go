package event_test

import (
	"fmt"
	"log"

	"github.com/inhook/webhook/event"
)

func ExampleParse() {
	bodies := []string{
		`{"jamId":"7c9e6679-7425-40de-944b-e07fc1f90ae7","jamUrl":"https://jam.dev/c/7c9e6679-7425-40de-944b-e07fc1f90ae7",` +
			`"teamId":"b1f4c2e8","type":"video","createdAt":"2026-03-14T09:26:53Z","author":{"email":"marta@larkspur.example"}}`,
		`{"id":"evt_8hN3","type":"intercom.recorder.recorded","created_at":"2026-03-12T14:22:05Z",` +
			`"data":{"conversationId":"215468123901234","jamId":"1e3a5c7e","recording_url":"https://jam.dev/c/1e3a5c7e"}}`,
		`{"type":"notification_event","id":"notif_3f1c","topic":"conversation.user.replied","app_id":"q7k3zm2x","created_at":1773406800,` +
			`"data":{"item":{"type":"conversation","id":"215468124301118","priority":"urgent","admin_assignee_id":7340561}}}`,
		`{"type":"jam.archived","data":{"jamId":"7c9e6679"}}`,
	}
	for _, body := range bodies {
		ev, err := event.Parse([]byte(body))
		if err != nil {
			log.Fatal(err)
		}
		switch ev := ev.(type) {
		case *event.JamCreated:
			uuid, _ := event.JamUUID(ev.JamURL)
			fmt.Println(ev.EventType(), ev.Type, ev.Author.Email, uuid)
		case *event.RecorderRecorded:
			fmt.Println(ev.EventType(), ev.ConversationID, ev.JamURL)
		case *event.IntercomNotification:
			if c := ev.Conversation(); c != nil {
				fmt.Println(ev.EventType(), c.ID, c.Priority, c.AdminAssigneeID)
			}
		case *event.UnknownEvent:
			fmt.Println("unknown:", ev.Type)
		}
	}
	// Output:
	// jam.created video marta@larkspur.example 7c9e6679-7425-40de-944b-e07fc1f90ae7
	// intercom.recorder.recorded 215468123901234 https://jam.dev/c/1e3a5c7e
	// conversation.user.replied 215468124301118 urgent 7340561
	// unknown: jam.archived
}

// ParseFrom decodes a verified body into the event family of the source
// that signed it: the same notification-shaped body is an Intercom
// notification when Intercom signed it, and an unknown event (deduplicated
// on its webhook-id, not the body's id) when a Standard Webhooks key did.
func ExampleParseFrom() {
	body := []byte(`{"type":"notification_event","id":"notif_3f1c","topic":"conversation.user.replied",` +
		`"created_at":1773406800,"data":{"item":{"type":"conversation","id":"215468124301118"}}}`)
	for _, src := range []event.Source{event.SourceIntercom, event.SourceStandard} {
		ev, err := event.ParseFrom(src, body)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %T %s\n", src, ev, ev.EventType())
	}
	// Output:
	// intercom: *event.IntercomNotification conversation.user.replied
	// standard: *event.UnknownEvent conversation.user.replied
}
