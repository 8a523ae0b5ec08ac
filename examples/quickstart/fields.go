package main

import (
	"fmt"

	"github.com/inhook/webhook"
)

// The bodies sent, as the senders send them.
var (
	jamCreatedBody = []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","jamUrl":"https://jam.dev/c/4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03",` +
		`"teamId":"team_8Hq2","type":"video","createdAt":"2026-11-24T08:59:12.345Z","title":"Checkout button does nothing",` +
		`"author":{"email":"dana@northwind.example","name":"Dana Okafor"}}`)
	recordedBody = []byte(`{"conversationId":"215471234567890","jamId":"8b1e4d2c-5a6f-4e7d-9c0b-1a2b3c4d5e6f","jamUrl":"https://jam.dev/c/8b1e4d2c-5a6f-4e7d-9c0b-1a2b3c4d5e6f"}`)
	optedOutBody = []byte(`{"conversationId":"215471234567891"}`)
	replyBody    = []byte(`{"type":"notification_event","app_id":"x7k2p9m4","id":"notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c",` +
		`"topic":"conversation.user.replied","created_at":1795510790,"first_sent_at":1795510791,"delivery_attempts":1,` +
		`"delivery_status":"pending","delivered_at":0,"self":null,"links":{},"data":{"type":"notification_event_data",` +
		`"item":{"type":"conversation","id":"215471234567890","state":"open","priority":"not_priority"}}}`)
	pingBody   = []byte("{\n\t\"type\": \"notification_event\",\n\t\"app_id\": \"x7k2p9m4\",\n\t\"data\": {\n\t\t\"type\": \"notification_event_data\",\n\t\t\"item\": {\n\t\t\t\"type\": \"ping\",\n\t\t\t\"message\": \"something something interzen\"\n\t\t}\n\t},\n\t\"links\": {},\n\t\"id\": null,\n\t\"topic\": \"ping\",\n\t\"delivery_status\": null,\n\t\"delivery_attempts\": 1,\n\t\"delivered_at\": 0,\n\t\"first_sent_at\": 1795510800,\n\t\"created_at\": 1795510800,\n\t\"self\": null\n}")
	seriesBody = []byte(`name=Dana+Okafor&company=Northwind&company_id=nw-118`)
)

// The key fields each callback prints.

func jamCreatedFields(e *webhook.JamCreated) string { return fmt.Sprintf("jamId=%s", e.JamID) }

func recordedFields(e *webhook.RecorderRecorded) string { return "" }

func optedOutFields(e *webhook.RecorderOptedOut) string { return "" }

func conversationFields(n *webhook.IntercomNotification) string {
	return fmt.Sprintf("topic=%s id=%s", n.Topic, n.ID)
}

func pingFields(n *webhook.IntercomNotification) string { return fmt.Sprintf("topic=%s", n.Topic) }

func seriesFields(s *webhook.SeriesWebhook) string { return "" }
