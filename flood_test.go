package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// TestHostileIdleFlood keeps 2,000 loopback connections open that sent a
// header block and then nothing, or a few body bytes and then nothing, on a
// server without ReadTimeout (where they stay forever), and checks that
// signed deliveries from every source still get their normal answer, and
// that the flood holds no more of the body memory budget than a small
// multiple of the body bytes it sent: none for headers alone.
//
// The attackers label themselves Standard Webhooks or Intercom, the sources
// whose signature covers the body and so must read it first. A Series
// request is checked before its body is read, so without the token it is
// answered 401 at once and never holds anything.
func TestHostileIdleFlood(t *testing.T) {
	const (
		attackers    = 2000
		partialBytes = 1000 // what the partial variants send of their body
		perSource    = 40   // legitimate deliveries per source
	)
	raiseOpenFiles(t, 2*attackers+1024) // both ends of each connection are ours

	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken),
		webhook.WithClock(webhooktest.NewClock(webhooktest.Time()).Now),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	require.NoError(t, err)
	var mu sync.Mutex
	ran := map[event.Source]int{}
	h.OnAny(func(_ context.Context, d *webhook.Delivery, _ event.Event) error {
		mu.Lock()
		defer mu.Unlock()
		ran[d.Source]++
		return nil
	})
	var inside atomic.Int64 // requests in the handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inside.Add(1)
		defer inside.Add(-1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()

	// The flood: per ten connections, four declare 1 MiB and send only
	// headers, four are chunked and send only headers, one declares 1 MiB
	// and sends partialBytes of it, one sends one chunk of partialBytes.
	conns := make([]net.Conn, 0, attackers)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	var sentBody, sentTotal int64
	chunk := fmt.Appendf(nil, "%x\r\n%s", partialBytes, bytes.Repeat([]byte("A"), partialBytes))
	began := time.Now()
	for i := range attackers {
		labels := bogusStd
		if i/10%2 == 1 {
			labels = []string{"X-Hub-Signature: sha1=" + strings.Repeat("0", 40)}
		}
		var raw []byte
		switch i % 10 {
		case 0, 1, 2, 3:
			raw = rawPost(append(labels, "Content-Length: 1048576"), nil)
		case 4, 5, 6, 7:
			raw = rawPost(append(labels, "Transfer-Encoding: chunked"), nil)
		case 8:
			raw = rawPost(append(labels, "Content-Length: 1048576"), bytes.Repeat([]byte("A"), partialBytes))
			sentBody += partialBytes
		case 9:
			raw = rawPost(append(labels, "Transfer-Encoding: chunked"), chunk)
			sentBody += partialBytes
		}
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		conns = append(conns, c)
		_, err = c.Write(raw)
		require.NoError(t, err)
		sentTotal += int64(len(raw))
	}
	require.Eventually(t, func() bool { return inside.Load() == attackers }, 15*time.Second, 10*time.Millisecond,
		"every flood connection waits inside the handler; the budget turned some away")
	require.Eventually(t, func() bool { return webhook.BodyHeld(h) >= sentBody }, 10*time.Second, 10*time.Millisecond)
	held := webhook.BodyHeld(h)
	t.Logf("flood of %d connections in %s: %d bytes sent, %d of them body; %d bytes of budget held",
		attackers, time.Since(began).Round(time.Millisecond), sentTotal, sentBody, held)
	require.LessOrEqual(t, held, 4*sentBody, "the flood holds more than a small multiple of the body bytes it sent")

	// Signed deliveries from every source, three senders at once.
	var reqs [3][][]byte
	for i := range perSource {
		id := fmt.Sprintf("msg_flood_%d", i)
		reqs[0] = append(reqs[0], rawPost(append(stdHeaders(t, "Webhook", id, jamBody), "Content-Type: application/json"), jamBody))
		reqs[1] = append(reqs[1], intercomSigned(intercomBody))
		reqs[2] = append(reqs[2], rawPost([]string{webhooktest.SeriesHeader + ": " + webhooktest.SeriesToken, "Content-Type: application/json"}, seriesJSON))
	}
	var statuses [3][]int
	var errs [3]error
	var wg sync.WaitGroup
	legit := time.Now()
	for s := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, raw := range reqs[s] {
				code, err := roundTrip(addr, raw)
				if err != nil {
					errs[s] = err
					return
				}
				statuses[s] = append(statuses[s], code)
			}
		}()
	}
	wg.Wait()
	for s := range reqs {
		require.NoError(t, errs[s])
		for i, code := range statuses[s] {
			require.Equal(t, http.StatusOK, code, "source %d, delivery %d", s, i)
		}
		require.Len(t, statuses[s], perSource)
	}
	require.Equal(t, map[event.Source]int{event.SourceStandard: perSource, event.SourceIntercom: perSource, event.SourceSeries: perSource}, ran)
	t.Logf("%d signed deliveries during the flood, all 200, in %s", 3*perSource, time.Since(legit).Round(time.Millisecond))

	require.Equal(t, int64(attackers), inside.Load(), "the flood is still waiting")
	require.LessOrEqual(t, webhook.BodyHeld(h), 4*sentBody)
}

// roundTrip sends raw on a new connection and returns the status answered.
func roundTrip(addr string, raw []byte) (int, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		return 0, err
	}
	if _, err := c.Write(raw); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
