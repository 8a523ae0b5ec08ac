package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/testwait"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// endless is a body that never ends, counting what was read from it.
type endless struct{ n atomic.Int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	e.n.Add(int64(len(p)))
	return len(p), nil
}

// TestHandlerNilBody: a request built by http.NewRequest with a nil body,
// and served by calling ServeHTTP (a test, an adapter from a queue), has a
// nil Body, which net/http's server never passes. It is an empty body, not
// a panic.
func TestHandlerNilBody(t *testing.T) {
	r := newRig(t)
	signed := webhooktest.NewStandardRequest(webhooktest.Secret, nil)
	for _, tt := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"signed", signed.Header, http.StatusBadRequest}, // verified, but not JSON
		{"unsigned", http.Header{"Webhook-Id": {"msg_1"}}, http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, "http://example.test/webhooks", nil)
			require.NoError(t, err)
			req.Header = tt.header
			require.Nil(t, req.Body)
			require.Equal(t, tt.want, r.serve(req).Code)
		})
	}
	require.Zero(t, r.calls.Load())
}

func TestHandlerStopsReadingAtLimit(t *testing.T) {
	const limit = 4096
	r := newRig(t, webhook.WithMaxBodySize(limit))
	body := &endless{}
	req := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)
	req.Body, req.ContentLength = io.NopCloser(body), -1 // chunked, no length declared
	w := r.serve(req)
	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	require.LessOrEqual(t, body.n.Load(), int64(limit+1024), "read far past the limit")
	require.Zero(t, r.calls.Load())

	// A body longer than its Content-Length is refused, not truncated.
	req = webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)
	req.ContentLength = int64(len(jamBody) - 10)
	w = r.serve(req)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Zero(t, r.calls.Load())
}

func TestHandlerBodyMemoryBudget(t *testing.T) {
	const limit = 16 << 10
	r := newRig(t, webhook.WithMaxBodySize(limit), webhook.WithMaxBodyMemory(2*limit))
	var hookErr *webhook.HandlerError
	r.h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) { hookErr = err })

	// A chunked upload that stalls after 12 KiB holds a buffer of the
	// limit (past half the limit growth takes the limit at once; the
	// pooled 4 KiB went back), half the budget.
	pw, done := stallUpload(t, r, limit)

	// Until it is done, a request that needs more than what is left
	// (16 KiB - 1) is turned away: one of the limit's size takes 16 KiB
	// + 1 once past the pooled 4 KiB, whose charge it takes over. It is
	// turned away after waiting for the memory: the stalled request,
	// served through a ResponseRecorder, which has no read deadline,
	// cannot be cut to make room.
	big := bytes.Replace(jamBody, []byte(`"title":"`), []byte(`"title":"`+strings.Repeat("a", limit-len(jamBody))), 1)
	require.Len(t, big, limit)
	w := r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, big))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Equal(t, "1", w.Header().Get("Retry-After"))
	require.ErrorIs(t, hookErr, webhook.ErrBodyMemory)
	require.Zero(t, r.calls.Load())

	require.NoError(t, pw.CloseWithError(io.ErrUnexpectedEOF))
	require.Equal(t, http.StatusBadRequest, testwait.Recv(t, done, "the stalled upload's status once cut"))
	// The stalled request gave its memory back.
	for range 3 {
		require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)).Code)
	}
	require.Equal(t, int64(1), r.calls.Load())

	_, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithMaxBodySize(limit), webhook.WithMaxBodyMemory(2*limit-1))
	require.Error(t, err, "a budget below two bodies could never read the largest of unknown length")
}

// TestHandlerBodyAtLimitFitsTwiceTheLimit: on an idle handler whose budget
// is the smallest allowed, twice the body limit, a body of exactly the
// limit is read, declared or chunked, whatever the limit: the buffers it
// grows through stay within twice the limit. Around the pooled first
// buffer's 4 KiB, a limit of 4097 grows once, straight out of the pool.
func TestHandlerBodyAtLimitFitsTwiceTheLimit(t *testing.T) {
	for _, limit := range []int{4096, 4097, 4098, 16 << 10, 600_000, 1 << 20} {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d chunked=%v", limit, chunked), func(t *testing.T) {
				r := newRig(t, webhook.WithMaxBodySize(int64(limit)), webhook.WithMaxBodyMemory(2*int64(limit)))
				pad := strings.Repeat("a", limit-len(jamBody))
				body := bytes.Replace(jamBody, []byte(`"title":"`), []byte(`"title":"`+pad), 1)
				require.Len(t, body, limit)
				req := webhooktest.NewStandardRequest(webhooktest.Secret, body)
				if chunked {
					req.Body, req.ContentLength = io.NopCloser(iotest.OneByteReader(bytes.NewReader(body))), -1
				}
				require.Equal(t, http.StatusOK, r.serve(req).Code)
				require.Equal(t, int64(0), webhook.BodyHeld(r.h))
			})
		}
	}
}

// TestHandlerV1aBodyAtLimitFits: with a whpk_ key, a v1a delivery of
// exactly the limit also needs ed25519's copy of the message, beside the
// buffers it was read into. A budget the handler accepts (at
// construction, or when SetSecrets adds the key) holds both on an idle
// handler; one that cannot is refused there, rather than the delivery on
// every attempt.
func TestHandlerV1aBodyAtLimitFits(t *testing.T) {
	const limit = 64 << 10
	pad := strings.Repeat("a", limit-len(jamBody))
	body := bytes.Replace(jamBody, []byte(`"title":"`), []byte(`"title":"`+pad), 1)
	require.Len(t, body, limit)
	clock := webhooktest.NewClock(webhooktest.Time())
	quiet := webhook.WithLogger(slog.New(slog.DiscardHandler))
	for _, tt := range []struct {
		name string
		keys func(budget int64) (*webhook.Handler, error)
	}{
		{"WithSecrets", func(budget int64) (*webhook.Handler, error) {
			return webhook.NewHandler(webhook.WithSecrets(webhooktest.PublicKey), webhook.WithMaxBodySize(limit),
				webhook.WithMaxBodyMemory(budget), webhook.WithClock(clock.Now), quiet)
		}},
		{"WithVerifier", func(budget int64) (*webhook.Handler, error) {
			v, err := webhook.NewVerifier([]string{webhooktest.Secret, webhooktest.PublicKey}, webhook.WithClock(clock.Now))
			require.NoError(t, err)
			return webhook.NewHandler(webhook.WithVerifier(v), webhook.WithMaxBodySize(limit), webhook.WithMaxBodyMemory(budget), quiet)
		}},
		{"SetSecrets", func(budget int64) (*webhook.Handler, error) {
			h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithMaxBodySize(limit),
				webhook.WithMaxBodyMemory(budget), webhook.WithClock(clock.Now), quiet)
			require.NoError(t, err, "without a whpk_ key twice the limit is enough")
			return h, h.SetSecrets(webhooktest.Secret, webhooktest.PublicKey)
		}},
	} {
		for _, budget := range []int64{2 * limit, 3*limit - 1, 3 * limit} {
			t.Run(fmt.Sprintf("%s budget %d", tt.name, budget), func(t *testing.T) {
				h, err := tt.keys(budget)
				if err != nil {
					require.Less(t, budget, int64(3*limit), "a budget of three times the limit holds a v1a body of the limit")
					return
				}
				for _, chunked := range []bool{false, true} {
					req := webhooktest.NewStandardRequest(webhooktest.SigningKey, body, webhooktest.WithID(fmt.Sprintf("msg_v1a_%v", chunked)))
					if chunked {
						req.Body, req.ContentLength = io.NopCloser(iotest.HalfReader(bytes.NewReader(body))), -1
					}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					require.Equal(t, http.StatusOK, w.Code, "chunked=%v: the handler took budget %d and then refused the one delivery of the limit", chunked, budget)
					require.Zero(t, webhook.BodyHeld(h))
				}
			})
		}
	}
}

// TestHandlerSeriesTokenBeforeBody: a Series token is in a header, so it
// is checked before the body is read; a request without the right one is
// answered 401 without a byte of its body read, and never holds body
// memory.
func TestHandlerSeriesTokenBeforeBody(t *testing.T) {
	r := newRig(t)
	for _, token := range []string{"wrong-token-wrong-token", ""} {
		body := &readCount{r: bytes.NewReader(seriesJSON)}
		req := webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, seriesJSON)
		req.Header.Set(webhooktest.SeriesHeader, token)
		req.Body = io.NopCloser(body)
		require.Equal(t, http.StatusUnauthorized, r.serve(req).Code, "token %q", token)
		require.Zero(t, body.n, "the body was read")
	}
	require.Zero(t, r.calls.Load())
}

type readCount struct {
	r io.Reader
	n int
}

func (c *readCount) Read(p []byte) (int, error) {
	c.n++
	return c.r.Read(p)
}

// TestHandlerBodyMemoryWaiters: requests refused body memory wait for it,
// at most 256 at once; the others are answered 503 at once. When the
// memory comes back, the waiting ones are read, one after another, and
// answered 200.
func TestHandlerBodyMemoryWaiters(t *testing.T) {
	const (
		limit    = 16 << 10
		requests = 300
		waiters  = webhook.MaxWaiters
	)
	r := newRig(t, webhook.WithMaxBodySize(limit), webhook.WithMaxBodyMemory(2*limit))
	// A stalled upload holds half the budget; served through a
	// ResponseRecorder it cannot be cut.
	pw, done := stallUpload(t, r, limit)

	// Each needs more than the rest: 16 KiB + 1 once past the pooled
	// 4 KiB.
	big := bytes.Replace(jamBody, []byte(`"title":"`), []byte(`"title":"`+strings.Repeat("a", limit-len(jamBody))), 1)
	var answered atomic.Int64
	codes := make(chan int, requests)
	for i := range requests {
		go func() {
			w := r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, big, webhooktest.WithID(fmt.Sprintf("msg_waiter_%d", i))))
			answered.Add(1)
			codes <- w.Code
		}()
	}
	require.Eventually(t, func() bool { return answered.Load() == requests-waiters }, 5*time.Second, time.Millisecond,
		"the requests past the bound are answered at once")
	got := map[int]int{}
	for range requests - waiters {
		got[testwait.Recv(t, codes, "a request past the bound to be answered")]++
	}
	require.Equal(t, map[int]int{http.StatusServiceUnavailable: requests - waiters}, got)

	require.NoError(t, pw.CloseWithError(io.ErrUnexpectedEOF))
	require.Equal(t, http.StatusBadRequest, testwait.Recv(t, done, "the stalled upload's status once cut"))
	got = map[int]int{}
	for range waiters {
		got[testwait.Recv(t, codes, "a waiting request to be answered")]++
	}
	require.Equal(t, map[int]int{http.StatusOK: waiters}, got, "the waiting requests got the memory")
	require.Equal(t, int64(waiters), r.calls.Load())
	require.Zero(t, webhook.BodyHeld(r.h))
}

// stallUpload starts a request on r whose body stops after 12 KiB + 1,
// served through a ResponseRecorder (no read deadline, so it cannot be
// cut), and waits until it holds limit+1 bytes of the budget: past half
// the limit growth takes the limit at once, and the pooled 4 KiB went
// back. Closing pw ends it; done gives its status.
func stallUpload(t *testing.T, r *rig, limit int) (pw *io.PipeWriter, done <-chan int) {
	t.Helper()
	pr, pw := io.Pipe()
	stalled := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)
	stalled.Body, stalled.ContentLength = pr, -1
	codes := make(chan int)
	go func() { codes <- r.serve(stalled).Code }()
	_, err := pw.Write(bytes.Repeat([]byte("x"), 12<<10+1))
	require.NoError(t, err)
	require.Equal(t, int64(limit+1), webhook.BodyHeld(r.h))
	return pw, codes
}

// TestHandlerV1aCopyWaitsForMemory: ed25519's copy of a v1a delivery's
// message is body memory like its buffers, and follows the same rules: a
// copy refused memory waits for it up to 2 s, and gets 503 with
// Retry-After only then; while it waits, a slow upload begun before it is
// cut to make room. It took the memory without waiting: under contention a
// v1a delivery whose body was read got 503 at once, however soon memory
// came back, and gave way to uploads stalled for ever.
func TestHandlerV1aCopyWaitsForMemory(t *testing.T) {
	const limit = 16 << 10
	// A body of the limit takes limit+1 of the budget; a stalled upload
	// as much: what is left (limit-2) is short of the copy, limit plus
	// the id and timestamp.
	big := bytes.Replace(jamBody, []byte(`"title":"`), []byte(`"title":"`+strings.Repeat("a", limit-len(jamBody))), 1)
	require.Len(t, big, limit)
	newV1aRig := func(t *testing.T) *rig {
		clock := webhooktest.NewClock(webhooktest.Time())
		h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret, webhooktest.PublicKey),
			webhook.WithMaxBodySize(limit), webhook.WithMaxBodyMemory(3*limit), webhook.WithClock(clock.Now),
			webhook.WithLogger(slog.New(slog.DiscardHandler)))
		require.NoError(t, err)
		r := &rig{h: h, clock: clock}
		h.OnAny(func(context.Context, *webhook.Delivery, event.Event) error { r.calls.Add(1); return nil })
		return r
	}
	for _, tt := range []struct {
		name     string
		giveBack bool // the stalled upload ends while the copy waits
		want     int
	}{
		{"memory comes back while it waits", true, http.StatusOK},
		{"memory does not come back", false, http.StatusServiceUnavailable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newV1aRig(t)
			pw, done := stallUpload(t, r, limit) // through a ResponseRecorder: never cut
			t.Cleanup(func() { _ = pw.Close() })
			start := time.Now()
			codes := make(chan *httptest.ResponseRecorder, 1)
			go func() {
				codes <- r.serve(webhooktest.NewStandardRequest(webhooktest.SigningKey, big, webhooktest.WithID("msg_v1a_waits")))
			}()
			if tt.giveBack {
				require.Eventually(t, func() bool { return webhook.BodyWaiting(r.h) == 1 }, 5*time.Second, time.Millisecond,
					"the v1a copy does not wait for memory")
				require.NoError(t, pw.CloseWithError(io.ErrUnexpectedEOF))
				require.Equal(t, http.StatusBadRequest, testwait.Recv(t, done, "the stalled upload's status once cut"))
			}
			w := testwait.Recv(t, codes, "the v1a delivery to be answered")
			require.Equal(t, tt.want, w.Code)
			if tt.want == http.StatusServiceUnavailable {
				require.Equal(t, "1", w.Header().Get("Retry-After"))
				require.GreaterOrEqual(t, time.Since(start), webhook.BudgetWait-100*time.Millisecond, "refused without waiting")
				require.Zero(t, r.calls.Load())
			} else {
				require.Equal(t, int64(1), r.calls.Load())
			}
			if !tt.giveBack {
				require.NoError(t, pw.CloseWithError(io.ErrUnexpectedEOF))
				require.Equal(t, http.StatusBadRequest, testwait.Recv(t, done, "the stalled upload's status once cut"))
			}
			require.Zero(t, webhook.BodyHeld(r.h))
		})
	}

	// Behind a server that can cut: an upload stalled for more than a
	// second gives way to the copy.
	t.Run("a stalled upload begun before it is cut", func(t *testing.T) {
		r := newV1aRig(t)
		srv := httptest.NewUnstartedServer(r.h)
		srv.Config.ReadTimeout = 30 * time.Second
		srv.Start()
		t.Cleanup(srv.Close)
		addr := srv.Listener.Addr().String()
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
		_, err = c.Write(stalledUpload(12<<10 + 1))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return webhook.BodyHeld(r.h) == limit+1 }, 5*time.Second, time.Millisecond)
		time.Sleep(slowBodyForTest)
		req := webhooktest.NewStandardRequest(webhooktest.SigningKey, big, webhooktest.WithID("msg_v1a_cuts"))
		var head []string
		for k, vs := range req.Header {
			head = append(head, k+": "+vs[0])
		}
		status, _, err := exchangeRetry(addr, rawPost(append(head, "Content-Type: application/json"), big), time.Now().Add(10*time.Second))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "the stalled upload")
		require.NotEmpty(t, resp.Header.Get("Retry-After"))
		require.Equal(t, int64(1), r.calls.Load())
	})
}
