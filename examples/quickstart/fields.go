package main

import (
	"fmt"
	"strings"

	"github.com/inhook/webhook/event"
)

// The key fields each callback prints.

func jamCreatedFields(e *event.JamCreated) string {
	return fmt.Sprintf("jam %s by %s: %q", e.JamID, e.Author.Email, short(e.Title, 32))
}

func recordedFields(e *event.RecorderRecorded) string {
	return fmt.Sprintf("conversation %s recorded %s", e.ConversationID, e.JamURL)
}

func optedOutFields(e *event.RecorderOptedOut) string {
	return fmt.Sprintf("conversation %s declined to record", e.ConversationID)
}

func conversationFields(n *event.IntercomNotification) string {
	c := n.Conversation()
	if c == nil {
		return n.Topic
	}
	s := fmt.Sprintf("%s on conversation %s", n.Topic, c.ID)
	if len(c.Parts) > 0 {
		s += " by " + c.Parts[0].Author.Email
	}
	return s
}

func pingFields(n *event.IntercomNotification) string {
	if p := n.Ping(); p != nil {
		return fmt.Sprintf("%q", p.Message)
	}
	return ""
}

func seriesFields(s *event.SeriesWebhook) string {
	return fmt.Sprintf("%s <%s> of %s", s.Fields["name"], s.Fields["email"], s.Fields["company"])
}

func short(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return strings.TrimSpace(string(r[:n-1])) + "…"
	}
	return s
}
