package webhook_test

import (
	"context"
	"fmt"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
)

// Paging through the dead deliveries, those dead the longest first, two
// at a time and without their bodies: each page's Next is the cursor of
// the one after it.
func ExampleMemoryInbox_List() {
	ctx := context.Background()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	ib := webhook.NewMemoryInbox(0, func() time.Time { return now })
	for _, id := range []string{"msg_1", "msg_2", "msg_3", "msg_4", "msg_5"} {
		_, _ = ib.Store(ctx, &webhook.InboxEntry{Key: "standard:" + id, Source: event.SourceStandard, ID: id, Body: []byte(`{}`)})
	}
	// They die one a second, the last received first.
	for range 5 {
		ls, _ := ib.Lease(ctx, 5, time.Minute)
		last := ls[0]
		for _, l := range ls {
			if l.Entry.Key > last.Entry.Key {
				last = l
			}
		}
		for _, l := range ls {
			if l.Token == last.Token {
				_ = ib.Kill(ctx, l.Entry.Key, l.Token, "the CRM said no")
			} else {
				_ = ib.Retry(ctx, l.Entry.Key, l.Token, now, "the CRM is slow")
			}
		}
		now = now.Add(time.Second)
	}

	q := webhook.InboxQuery{State: webhook.InboxDead, Order: webhook.InboxByUpdated, Limit: 2, OmitBody: true}
	for {
		page, err := ib.List(ctx, q)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, e := range page.Entries {
			fmt.Println(e.Key, e.UpdatedAt.Format(time.TimeOnly), e.Body == nil)
		}
		if !page.More {
			break
		}
		fmt.Println("--")
		q.After = page.Next
	}
	// Output:
	// standard:msg_5 05:06:07 true
	// standard:msg_4 05:06:08 true
	// --
	// standard:msg_3 05:06:09 true
	// standard:msg_2 05:06:10 true
	// --
	// standard:msg_1 05:06:11 true
}
