package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/testwait"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// hostileReadTimeout is the server's ReadTimeout for the hostile
// campaign's slow requests: the whole request, headers and body, must
// arrive within it.
const hostileReadTimeout = time.Second

// hostileRig is a real loopback server running a handler with every source
// configured and callbacks that record any call.
type hostileRig struct {
	srv   *httptest.Server
	calls atomic.Int64
	mu    sync.Mutex
	seen  []string // which callbacks ran
	// onIntercom, if set before requests are sent, also sees every
	// Intercom notification.
	onIntercom func(*webhook.Delivery, *event.IntercomNotification)
}

func newHostileRig(t *testing.T, readTimeout time.Duration) *hostileRig {
	t.Helper()
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken),
		webhook.WithClock(webhooktest.NewClock(webhooktest.Time()).Now),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	require.NoError(t, err)
	r := &hostileRig{}
	note := func(name string) {
		r.calls.Add(1)
		r.mu.Lock()
		r.seen = append(r.seen, name)
		r.mu.Unlock()
	}
	h.OnJamCreated(func(context.Context, *webhook.Delivery, *event.JamCreated) error { note("jam.created"); return nil })
	h.OnRecorderRecorded(func(context.Context, *webhook.Delivery, *event.RecorderRecorded) error {
		note("recorder.recorded")
		return nil
	})
	h.OnRecorderOptedOut(func(context.Context, *webhook.Delivery, *event.RecorderOptedOut) error {
		note("recorder.opted_out")
		return nil
	})
	h.OnRecordingLinkCreated(func(context.Context, *webhook.Delivery, *event.RecordingLinkCreated) error {
		note("recording_link.created")
		return nil
	})
	h.OnIntercom("*", func(_ context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		note("intercom")
		if r.onIntercom != nil {
			r.onIntercom(d, n)
		}
		return nil
	})
	h.OnSeries(func(context.Context, *webhook.Delivery, *event.SeriesWebhook) error { note("series"); return nil })
	h.OnUnknown(func(context.Context, *webhook.Delivery, *event.UnknownEvent) error { note("unknown"); return nil })
	h.OnAny(func(context.Context, *webhook.Delivery, event.Event) error { note("any"); return nil })
	r.srv = httptest.NewUnstartedServer(h)
	r.srv.Config.ReadTimeout = readTimeout
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hostileRig) takeSeen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.seen
	r.seen = nil
	return s
}

// exchange sends one raw request over a new connection with write, and
// reads the response. The write runs on its own goroutine, since a server
// may answer (413, 431) before the request is complete. It returns the
// status, or 0 when the server closed the connection without an answer,
// and the bytes write managed to send.
func (r *hostileRig) exchange(t *testing.T, write func(w io.Writer) error) (status int, sent int64) {
	t.Helper()
	conn, err := net.Dial("tcp", r.srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
	cw := &countingWriter{w: conn}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = write(cw)
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		status = resp.StatusCode
	}
	conn.Close() // stops a writer that is still streaming
	<-done
	return status, cw.n.Load()
}

type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// rawRequest builds an HTTP/1.1 request byte by byte, so headers can repeat,
// carry any bytes, and Content-Length can lie. It adds Host and
// Connection: close, and Content-Length: len(body) unless a header line
// already sets Content-Length or Transfer-Encoding.
func rawRequest(method string, headers []string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s /webhook HTTP/1.1\r\nHost: receiver.example\r\nConnection: close\r\n", method)
	framed := false
	for _, h := range headers {
		k := strings.ToLower(h)
		framed = framed || strings.HasPrefix(k, "content-length:") || strings.HasPrefix(k, "transfer-encoding:")
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	if !framed {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

func rawPost(headers []string, body []byte) []byte { return rawRequest(http.MethodPost, headers, body) }

// stdHeaders signs body as message id at webhooktest's fixed time and
// returns the three header lines, with prefix "Webhook" or "Svix".
func stdHeaders(t *testing.T, prefix, id string, body []byte) []string {
	sig, err := webhooktest.SignStandard(webhooktest.Secret, id, webhooktest.Time(), body)
	require.NoError(t, err)
	return []string{
		prefix + "-Id: " + id,
		prefix + "-Timestamp: " + strconv.FormatInt(webhooktest.Unix, 10),
		prefix + "-Signature: " + sig,
	}
}

func joinHeaders(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// bogusSig is a well-formed v1 entry that matches nothing.
var bogusSig = "v1," + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))

// bogusStd is a complete, well-formed, wrongly signed webhook-* set: enough
// for the handler to pick Standard Webhooks and read the body.
var bogusStd = []string{"Webhook-Id: msg_hostile", "Webhook-Timestamp: " + strconv.FormatInt(webhooktest.Unix, 10), "Webhook-Signature: " + bogusSig}

// endlessChunks writes head, then 64 KiB chunks until limit bytes or an
// error (the server hanging up).
func endlessChunks(head []byte, limit int64) func(w io.Writer) error {
	chunk := append([]byte(strconv.FormatInt(64<<10, 16)+"\r\n"), append(bytes.Repeat([]byte("A"), 64<<10), "\r\n"...)...)
	return func(w io.Writer) error {
		if _, err := w.Write(head); err != nil {
			return err
		}
		for sent := int64(0); sent < limit; sent += int64(len(chunk)) {
			if _, err := w.Write(chunk); err != nil {
				return err
			}
		}
		_, err := w.Write([]byte("0\r\n\r\n"))
		return err
	}
}

func chunkedBody(body []byte, size int) []byte {
	var b bytes.Buffer
	for len(body) > 0 {
		n := min(size, len(body))
		fmt.Fprintf(&b, "%x\r\n", n)
		b.Write(body[:n])
		b.WriteString("\r\n")
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

func writeRaw(raw []byte) func(w io.Writer) error {
	return func(w io.Writer) error { _, err := w.Write(raw); return err }
}

type hostileCase struct {
	name  string
	write func(w io.Writer) error
	// status is what the server must answer; 0 means it must hang up
	// without an answer.
	status int
	// maxSent bounds the bytes the client managed to send, for requests
	// the server must refuse without reading them all (0: no bound).
	maxSent int64
	// maxTime bounds the exchange (0: the 20 s connection deadline).
	maxTime time.Duration
	// timed serves the case on the rig with the campaign's read timeout:
	// the cases about that timeout. The others run on a rig whose read
	// timeout cannot pass first: under -race on a loaded machine the
	// server can take longer than a second to read a megabyte of headers
	// or body, and a deadline in the middle of a header line makes
	// net/http answer 400 or hang up, whatever the request.
	timed bool
}

func hostileCases(t *testing.T) []hostileCase {
	ts := strconv.FormatInt(webhooktest.Unix, 10)
	big := bytes.Repeat([]byte("x"), webhook.DefaultMaxBodySize+1)
	hub := "X-Hub-Signature: " + webhooktest.SignIntercom(webhooktest.IntercomSecret, intercomBody)
	var cases []hostileCase
	add := func(name string, raw []byte, status int) {
		cases = append(cases, hostileCase{name: name, write: writeRaw(raw), status: status})
	}

	// Sizes. The limit is 1 MiB by default.
	cases = append(cases,
		hostileCase{name: "declared 2 MiB, headers only", write: writeRaw(rawPost(append(bogusStd, "Content-Length: 2097152"), nil)), status: 413},
		hostileCase{name: "declared 1 GiB, then streaming", write: func(w io.Writer) error {
			head := rawPost(append(bogusStd, "Content-Length: 1073741824"), nil)
			return endlessChunks(head, 1<<30)(w) // the bytes are body bytes here, chunk framing or not
		}, status: 413, maxSent: 16 << 20},
		hostileCase{name: "declared 1 GiB with Expect: 100-continue", write: writeRaw(rawPost(append(bogusStd, "Content-Length: 1073741824", "Expect: 100-continue"), nil)), status: 413},
		hostileCase{name: "declared limit+1, sent in full", write: writeRaw(rawPost(bogusStd, big)), status: 413},
		hostileCase{name: "chunked limit+1", write: writeRaw(rawPost(append(bogusStd, "Transfer-Encoding: chunked"), chunkedBody(big, 32<<10))), status: 413},
		hostileCase{name: "chunked, endless", write: endlessChunks(rawPost(append(bogusStd, "Transfer-Encoding: chunked"), nil), 1<<30),
			status: 413, maxSent: 16 << 20, maxTime: 10 * time.Second},
		hostileCase{name: "chunked, endless, Intercom headers", write: endlessChunks(rawPost([]string{hub, "Transfer-Encoding: chunked"}, nil), 1<<30),
			status: 413, maxSent: 16 << 20, maxTime: 10 * time.Second},
		hostileCase{name: "chunked, endless, no signature headers", write: endlessChunks(rawPost([]string{"Transfer-Encoding: chunked"}, nil), 1<<30),
			status: 401, maxSent: 16 << 20, maxTime: 10 * time.Second},
		hostileCase{name: "chunk size line overflows", write: writeRaw(rawPost(append(bogusStd, "Transfer-Encoding: chunked"), []byte("ffffffffffffffffff\r\nA\r\n0\r\n\r\n"))), status: 400},
		hostileCase{name: "chunk size not hex", write: writeRaw(rawPost(append(bogusStd, "Transfer-Encoding: chunked"), []byte("zz\r\nA\r\n0\r\n\r\n"))), status: 400},
	)

	// Slow bodies: 100 declared bytes trickled one every 200 ms outlast
	// the 1 s ReadTimeout. The handler's read fails with a timeout and it
	// answers 400; net/http still writes that answer, since the deadline
	// is on reads only (no WriteTimeout), then closes the connection.
	// The bound, half the 20 s the trickle takes, shows the deadline cut
	// it and leaves a loaded machine seconds; at 3 s it left it two.
	slow := func(headers []string) func(w io.Writer) error {
		return func(w io.Writer) error {
			if _, err := w.Write(rawPost(append(headers, "Content-Length: 100"), nil)); err != nil {
				return err
			}
			for range 100 {
				time.Sleep(200 * time.Millisecond)
				if _, err := w.Write([]byte("{")); err != nil {
					return err
				}
			}
			return nil
		}
	}
	cases = append(cases,
		hostileCase{name: "slow body, Standard Webhooks", write: slow(bogusStd), status: 400, timed: true, maxTime: 10 * time.Second},
		hostileCase{name: "slow body, Intercom", write: slow([]string{hub}), status: 400, timed: true, maxTime: 10 * time.Second},
		// Headers that never finish are cut by the same deadline: no
		// handler ran, so there is nothing to answer.
		hostileCase{name: "slow headers", write: func(w io.Writer) error {
			if _, err := io.WriteString(w, "POST /webhook HTTP/1.1\r\nHost: receiver.example\r\n"); err != nil {
				return err
			}
			for i := range 100 {
				time.Sleep(200 * time.Millisecond)
				if _, err := fmt.Fprintf(w, "X-Trickle-%d: 1\r\n", i); err != nil {
					return err
				}
			}
			return nil
		}, status: 0, timed: true, maxTime: 10 * time.Second},
	)

	// Header floods. net/http's MaxHeaderBytes (1 MiB) answers 431.
	many := func(n int) []string {
		hs := make([]string, n)
		for i := range hs {
			hs[i] = fmt.Sprintf("X-Flood-%d: %d", i, i)
		}
		return hs
	}
	add("10,000 junk headers, unsigned", rawPost(many(10_000), jamBody), 401)
	add("10,000 junk headers, wrongly signed", rawPost(joinHeaders(bogusStd, many(10_000)), jamBody), 401)
	cases = append(cases,
		hostileCase{name: "100,000 junk headers", write: writeRaw(rawPost(joinHeaders(bogusStd, many(100_000)), jamBody)), status: 431},
		hostileCase{name: "2 MiB header value", write: writeRaw(rawPost(append(bogusStd, "X-Big: "+strings.Repeat("b", 2<<20)), jamBody)), status: 431})
	add("900 KiB webhook-id", rawPost([]string{"Webhook-Id: msg_" + strings.Repeat("i", 900<<10), "Webhook-Timestamp: " + ts, "Webhook-Signature: " + bogusSig}, jamBody), 401)
	add("900 KiB X-Hub-Signature", rawPost([]string{"X-Hub-Signature: sha1=" + strings.Repeat("0", 900<<10)}, intercomBody), 401)
	add("900 KiB Series token", rawPost([]string{webhooktest.SeriesHeader + ": " + strings.Repeat("t", 900<<10)}, seriesJSON), 401)
	add("5,000 repeated Webhook-Signature lines", rawPost(joinHeaders(bogusStd[:2], repeatLine("Webhook-Signature: "+bogusSig, 5000)), jamBody), 401)

	// Conflicting and repeated header sets. Each would verify if the
	// handler mixed sets or took one value of a repeated header.
	jam := stdHeaders(t, "Webhook", "msg_conflict", jamBody)
	svx := stdHeaders(t, "Svix", "msg_conflict", jamBody)
	other := stdHeaders(t, "Webhook", "msg_other", jamBody)
	add("webhook-id and -timestamp with svix-signature", rawPost([]string{jam[0], jam[1], svx[2]}, jamBody), 401)
	add("svix-id and -timestamp with webhook-signature", rawPost([]string{svx[0], svx[1], jam[2]}, jamBody), 401)
	add("webhook set wrong, svix set right", rawPost(joinHeaders([]string{jam[0], jam[1], "Webhook-Signature: " + bogusSig}, svx), jamBody), 401)
	add("webhook set of one message, svix set of another", rawPost(joinHeaders([]string{other[0], other[1], jam[2]}, svx), jamBody), 401)
	add("Webhook-Signature twice, the second right", rawPost([]string{jam[0], jam[1], "Webhook-Signature: " + bogusSig, jam[2]}, jamBody), 401)
	add("Webhook-Signature twice, the first right", rawPost([]string{jam[0], jam[1], jam[2], "Webhook-Signature: " + bogusSig}, jamBody), 401)
	add("Webhook-Id twice", rawPost([]string{other[0], jam[0], jam[1], jam[2]}, jamBody), 401)
	add("Webhook-Timestamp twice", rawPost([]string{jam[0], "Webhook-Timestamp: " + strconv.FormatInt(webhooktest.Unix-1, 10), jam[1], jam[2]}, jamBody), 401)
	add("X-Hub-Signature twice, one right", rawPost([]string{"X-Hub-Signature: sha1=" + strings.Repeat("0", 40), hub}, intercomBody), 401)
	add("Series token twice, one right", rawPost([]string{webhooktest.SeriesHeader + ": guess-guess-guess-guess", webhooktest.SeriesHeader + ": " + webhooktest.SeriesToken}, seriesJSON), 401)
	add("right Intercom signature under wrong Standard headers", rawPost(append(bogusStd, hub), intercomBody), 401)
	add("right Series token under a wrong X-Hub-Signature", rawPost([]string{"X-Hub-Signature: sha1=" + strings.Repeat("0", 40), webhooktest.SeriesHeader + ": " + webhooktest.SeriesToken}, seriesJSON), 401)
	add("signature of another body", rawPost(jam, unknownBody), 401)

	// Malformed signatures.
	sig := strings.TrimPrefix(jam[2], "Webhook-Signature: v1,")
	for _, c := range []struct{ name, value string }{
		{"not base64", "v1,####################################==="},
		{"URL alphabet", "v1," + strings.NewReplacer("+", "-", "/", "_").Replace(sig) + "-_"},
		{"padding missing", "v1," + strings.TrimRight(sig, "=")},
		{"31 bytes", "v1," + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 31))},
		{"33 bytes", "v1," + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 33))},
		{"non-canonical last character", "v1," + sig[:len(sig)-2] + "B="},
		{"no version", sig},
		{"v1a without an ed25519 key", "v1a," + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 64))},
		{"v2", "v2," + sig},
		{"empty entries", "   "},
		{"commas only", ",,,,"},
	} {
		add("signature "+c.name, rawPost([]string{jam[0], jam[1], "Webhook-Signature: " + c.value}, jamBody), 401)
	}
	for _, c := range []struct{ name, value string }{
		{"no prefix", strings.TrimPrefix(hub, "X-Hub-Signature: sha1=")},
		{"sha256 prefix", "sha256=" + strings.TrimPrefix(hub, "X-Hub-Signature: sha1=")},
		{"39 hex digits", "sha1=" + strings.Repeat("a", 39)},
		{"not hex", "sha1=" + strings.Repeat("g", 40)},
	} {
		add("X-Hub-Signature "+c.name, rawPost([]string{"X-Hub-Signature: " + c.value}, intercomBody), 401)
	}
	// 10,000 entries, the right one last: refused before any MAC is
	// compared against them, so it is cheap. The 401 shows it: a scan of
	// every entry would have found the right one. How cheap is for
	// TestHostileLongSignatureListIsCheap's log, not for a bound on time.
	list := strings.TrimSuffix(strings.Repeat(bogusSig+" ", 9999), " ") + " v1," + sig
	cases = append(cases, hostileCase{name: "10,000-entry signature list, right one last",
		write: writeRaw(rawPost([]string{jam[0], jam[1], "Webhook-Signature: " + list}, jamBody)), status: 401})

	// Timestamps and numbers out of range.
	for _, v := range []string{"99999999999999999999", "-1", "1e9", "0x6b0b3e10", "+" + ts, ts + ".5", "00" + ts} {
		add("webhook-timestamp "+strconv.Quote(v), rawPost([]string{jam[0], "Webhook-Timestamp: " + v, jam[2]}, jamBody), 401)
	}
	add("Content-Length out of range", rawPost(append(bogusStd, "Content-Length: 99999999999999999999"), nil), 400)
	add("Content-Length negative", rawPost(append(bogusStd, "Content-Length: -1"), nil), 400)
	add("Content-Length twice, disagreeing", rawPost(append(bogusStd, "Content-Length: 2", "Content-Length: 3"), []byte("{}")), 400)
	// Signed bodies with numbers out of range are authentic: they are
	// decoded leniently, see TestHostileSignedOddities.

	// Bytes that do not belong.
	add("null byte in a header value", rawPost([]string{jam[0] + "\x00", jam[1], jam[2]}, jamBody), 400)
	add("null byte in a header name", rawPost(append(bogusStd, "X-Nu\x00l: 1"), jamBody), 400)
	add("null byte in the request target", []byte("POST /web\x00hook HTTP/1.1\r\nHost: receiver.example\r\nContent-Length: 0\r\n\r\n"), 400)
	nul := []byte(`{"jamId":"4f0c` + "\x00" + `","teamId":"team_8Hq2"}`)
	add("signed body with a raw null byte in a string", rawPost(stdHeaders(t, "Webhook", "msg_nul", nul), nul), 400)
	add("invalid UTF-8 in webhook-id", rawPost([]string{"Webhook-Id: msg_\xff\xfe\xfd", jam[1], jam[2]}, jamBody), 401)
	add("invalid UTF-8 in the signature", rawPost([]string{jam[0], jam[1], "Webhook-Signature: v1,\xc3\x28" + sig[2:]}, jamBody), 401)
	add("invalid UTF-8 in the Series token", rawPost([]string{webhooktest.SeriesHeader + ": \xff" + webhooktest.SeriesToken}, seriesJSON), 401)
	bad := []byte("{\"jamId\":\xff\xfe,\"teamId\":\"team_8Hq2\"}")
	add("signed body, invalid UTF-8 outside strings", rawPost(stdHeaders(t, "Webhook", "msg_utf8", bad), bad), 400)
	add("unsigned body, invalid UTF-8", rawPost(bogusStd, []byte("\xff\xfe\xfd")), 401)

	// Deeply nested JSON, signed: it verifies, so only the decoder stands
	// between it and a callback. It must be refused, not crash or hang.
	for _, c := range []struct{ name, body string }{
		{"100,000 [", strings.Repeat("[", 100_000)},
		{"100,000 [ closed", strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)},
		{"100,000 nested objects", strings.Repeat(`{"a":`, 100_000) + "1" + strings.Repeat("}", 100_000)},
		{"jam.created with 100,000-deep title", `{"jamId":"4f0c","teamId":"team_8Hq2","title":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `}`},
	} {
		b := []byte(c.body)
		add("deep JSON, "+c.name, rawPost(stdHeaders(t, "Webhook", "msg_deep_"+strconv.Itoa(len(cases)), b), b), 400)
		add("deep JSON via Intercom, "+c.name, rawPost([]string{"X-Hub-Signature: " + webhooktest.SignIntercom(webhooktest.IntercomSecret, b)}, b), 400)
	}

	// Content types, methods, empty bodies, framing.
	// A Content-Type the source never sends is refused with 415 before
	// the body is read or verified, signed or not.
	add("text/plain, wrongly signed", rawPost(append(bogusStd, "Content-Type: text/plain"), jamBody), 415)
	add("text/plain, signed", rawPost(append(jam, "Content-Type: text/plain"), jamBody), 415)
	add("form-encoded, Standard-signed", rawPost(append(stdHeaders(t, "Webhook", "msg_form", seriesForm), "Content-Type: application/x-www-form-urlencoded"), seriesForm), 415)
	add("application/jsonx, Intercom-signed", rawPost([]string{hub, "Content-Type: application/jsonx"}, intercomBody), 415)
	add("text/xml, Series token", rawPost([]string{webhooktest.SeriesHeader + ": " + webhooktest.SeriesToken, "Content-Type: text/xml"}, []byte("<a/>")), 415)
	add("two Content-Types, the first wrong", rawPost(append(jam, "Content-Type: text/plain", "Content-Type: application/json"), jamBody), 415)
	cases = append(cases, hostileCase{name: "text/plain, chunked, endless", write: endlessChunks(rawPost(append(bogusStd, "Content-Type: text/plain", "Transfer-Encoding: chunked"), nil), 1<<30),
		status: 415, maxSent: 16 << 20, maxTime: 10 * time.Second})
	add("multipart, unsigned", rawPost([]string{"Content-Type: multipart/form-data; boundary=x"}, []byte("--x\r\n\r\n--x--")), 401)
	add("Content-Type 100 KiB", rawPost(append(bogusStd, "Content-Type: application/json; x="+strings.Repeat("j", 100<<10)), jamBody), 401)
	for _, m := range []string{"GET", "DELETE", "PATCH", "OPTIONS", "TRACE", "post", "PROPFIND"} {
		add("method "+m+", signed", rawRequest(m, jam, jamBody), 405)
	}
	add("empty body, unsigned", rawPost(nil, nil), 401)
	add("empty body, signed", rawPost(stdHeaders(t, "Webhook", "msg_empty", nil), nil), 400)
	add("Series token, form, malformed escape", rawPost([]string{webhooktest.SeriesHeader + ": " + webhooktest.SeriesToken, "Content-Type: application/x-www-form-urlencoded"}, []byte("name=%zz")), 400)
	add("empty body, Intercom-signed", rawPost([]string{"X-Hub-Signature: " + webhooktest.SignIntercom(webhooktest.IntercomSecret, nil)}, nil), 400)
	// A body longer than Content-Length: the handler sees the declared
	// prefix, which the signature (over the whole body) does not cover.
	// The rest would be the next request on the connection; Connection:
	// close makes net/http ignore it.
	long := append(append([]byte(nil), jamBody...), " trailing bytes"...)
	add("body longer than Content-Length", rawPost(append(stdHeaders(t, "Webhook", "msg_long", long), "Content-Length: "+strconv.Itoa(len(jamBody))), long), 401)
	add("body shorter than Content-Length", rawPost(append(stdHeaders(t, "Webhook", "msg_short", jamBody), "Content-Length: "+strconv.Itoa(len(jamBody)+10)), jamBody), 400)
	// net/http lets chunked framing win over Content-Length (RFC 9112
	// 6.3) and drops the latter; the handler then sees the chunked body.
	add("Content-Length and chunked together", rawPost(append(bogusStd, "Content-Length: 5", "Transfer-Encoding: chunked"), []byte("5\r\nhello\r\n0\r\n\r\n")), 401)
	add("Transfer-Encoding gzip", rawPost(append(bogusStd, "Transfer-Encoding: gzip"), jamBody), 501)
	return cases
}

func repeatLine(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestHostileInput sends hostile requests over real connections and checks
// each answer, that none reaches a callback, and that requests the server
// must refuse early are refused early.
func TestHostileInput(t *testing.T) {
	timed := newHostileRig(t, hostileReadTimeout)
	patient := newHostileRig(t, 15*time.Second)
	cases := hostileCases(t)
	require.GreaterOrEqual(t, len(cases), 60)
	byStatus := map[int]int{}
	var mu sync.Mutex
	t.Run("cases", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				began := time.Now()
				rig := patient
				if c.timed {
					rig = timed
				}
				status, sent := rig.exchange(t, c.write)
				took := time.Since(began)
				require.Equal(t, c.status, status)
				if c.maxSent > 0 {
					require.Less(t, sent, c.maxSent, "the server read far past the limit")
					t.Logf("%s: sent %d bytes before the answer", c.name, sent)
				}
				if c.maxTime > 0 {
					require.Less(t, took, c.maxTime)
				}
				mu.Lock()
				byStatus[status]++
				mu.Unlock()
			})
		}
	})
	require.Zero(t, timed.calls.Load(), "callbacks ran: %v", timed.takeSeen())
	require.Zero(t, patient.calls.Load(), "callbacks ran: %v", patient.takeSeen())
	t.Logf("hostile campaign: %d requests, none reached a callback; by status %v", len(cases), byStatus)
}

// TestHostileControl proves the campaign's harness can see a callback: the
// same raw requests, signed right, reach one.
func TestHostileControl(t *testing.T) {
	r := newHostileRig(t, hostileReadTimeout)
	// Larger than the handler allocates before the bytes arrive, so the
	// body is read in several growing steps.
	bigJam := bytes.Replace(jamBody, []byte(`"title":"Checkout button does nothing"`), []byte(`"title":"`+strings.Repeat("x", 300<<10)+`"`), 1)
	require.Greater(t, len(bigJam), 300<<10)
	for _, c := range []struct {
		name string
		raw  []byte
		seen []string
	}{
		{"jam.created", rawPost(stdHeaders(t, "Webhook", "msg_control", jamBody), jamBody), []string{"jam.created", "any"}},
		{"jam.created svix", rawPost(stdHeaders(t, "Svix", "msg_control_svix", jamBody), jamBody), []string{"jam.created", "any"}},
		{"intercom", rawPost([]string{"X-Hub-Signature: " + webhooktest.SignIntercom(webhooktest.IntercomSecret, intercomBody)}, intercomBody), []string{"intercom", "any"}},
		{"series", rawPost([]string{webhooktest.SeriesHeader + ": " + webhooktest.SeriesToken, "Content-Type: application/json"}, seriesJSON), []string{"series", "any"}},
		{"jam.created of 300 KiB, declared", rawPost(stdHeaders(t, "Webhook", "msg_control_big", bigJam), bigJam), []string{"jam.created", "any"}},
		{"jam.created of 300 KiB, chunked", rawPost(append(stdHeaders(t, "Webhook", "msg_control_big_chunked", bigJam), "Transfer-Encoding: chunked"), chunkedBody(bigJam, 16<<10)), []string{"jam.created", "any"}},
		{"chunked jam.created", rawPost(append(stdHeaders(t, "Webhook", "msg_control_chunked", jamBody), "Transfer-Encoding: chunked"), chunkedBody(jamBody, 100)), []string{"jam.created", "any"}},
	} {
		status, _ := r.exchange(t, writeRaw(c.raw))
		require.Equal(t, http.StatusOK, status, c.name)
		require.Equal(t, c.seen, r.takeSeen(), c.name)
	}
}

// TestHostileHeapBounded has 100 clients each try to stream 1 GiB to the
// handler at once while the heap is sampled every 2 ms. The peak must stay
// under 64 MiB in every row, under -race too.
//
//   - declared: Content-Length 1 GiB, refused before a byte of the body is
//     read.
//   - chunked: the handler cannot know the length, so it buffers up to its
//     1 MiB limit before answering 413; the body memory budget
//     (DefaultMaxBodyMemory, 16 MiB across requests) turns away, with 503,
//     the uploads that would take more.
//   - chunked, in step: every client first sends just under the limit and
//     waits for the others, so as many buffers as the budget allows are
//     live at once: the worst case, reproducible on any machine.
//   - declared at the limit, body withheld: every client sends headers
//     declaring exactly the limit (1 MiB, allowed) and waits for the
//     others before sending the body. The heap is measured while the
//     bodies are withheld: what the server spends on headers alone.
func TestHostileHeapBounded(t *testing.T) {
	const clients = 100
	atLimit := "Content-Length: " + strconv.Itoa(webhook.DefaultMaxBodySize)
	for _, c := range []struct {
		name  string
		frame string
		mode  uploadMode
	}{
		{"declared", "Content-Length: 1073741824", streaming},
		{"chunked", "Transfer-Encoding: chunked", streaming},
		{"chunked in step", "Transfer-Encoding: chunked", inStep},
		{"declared at the limit, body withheld", atLimit, withheld},
	} {
		t.Run(c.name, func(t *testing.T) {
			peak := heapPeakUnderUploads(t, clients, c.frame, c.mode)
			require.Less(t, peak, uint64(64<<20), "peak HeapInuse")
		})
	}
}

// uploadMode is how the clients of heapPeakUnderUploads send.
type uploadMode int

const (
	// streaming: head, then 64 KiB chunks until the server hangs up.
	streaming uploadMode = iota
	// inStep: head and just under the limit, then wait for every client
	// to get there, then stream.
	inStep
	// withheld: head (declaring the limit), then wait for every client to
	// get there, then the declared body, which is wrongly signed.
	withheld
)

// heapPeakUnderUploads runs uploads framed by frame from clients at once
// and returns the peak HeapInuse seen.
func heapPeakUnderUploads(t *testing.T, clients int, frame string, mode uploadMode) uint64 {
	// A ReadTimeout long enough that the slowest upload (under -race)
	// reaches the body limit before its deadline.
	r := newHostileRig(t, 30*time.Second)
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	stop := make(chan struct{})
	var peak atomic.Uint64
	var samples int
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		// HeapInuse from runtime/metrics, which unlike ReadMemStats
		// does not stop the world: in-use heap spans, objects and free
		// slots in them.
		ms := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				metrics.Read(ms)
				if v := ms[0].Value.Uint64() + ms[1].Value.Uint64(); v > peak.Load() {
					peak.Store(v)
				}
				samples++
			}
		}
	}()

	statuses := make([]int, clients)
	sent := make([]int64, clients)
	head := rawPost(append(bogusStd, frame), nil)
	// In step: each client sends head and just under the limit, then
	// waits until every client has, plus a moment for the server to read.
	var ready sync.WaitGroup
	ready.Add(clients)
	go0 := make(chan struct{})
	var peakWaiting uint64 // the peak up to the moment the clients go on
	go func() {
		ready.Wait()
		time.Sleep(300 * time.Millisecond)
		peakWaiting = peak.Load()
		close(go0)
	}()
	first := append(append([]byte(nil), head...), chunkedBody(bytes.Repeat([]byte("A"), webhook.DefaultMaxBodySize-1024), 64<<10)...)
	first = first[:len(first)-len("0\r\n\r\n")] // no last chunk: the body goes on
	body := bytes.Repeat([]byte("A"), webhook.DefaultMaxBodySize)
	want := http.StatusRequestEntityTooLarge
	if mode == withheld {
		want = http.StatusUnauthorized
	}
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			write := endlessChunks(head, 1<<30)
			switch mode {
			case inStep:
				write = func(w io.Writer) error {
					_, err := w.Write(first)
					ready.Done()
					if err != nil {
						return err
					}
					<-go0
					return endlessChunks(nil, 1<<30)(w)
				}
			case withheld:
				write = func(w io.Writer) error {
					_, err := w.Write(head)
					ready.Done()
					if err != nil {
						return err
					}
					<-go0
					_, err = w.Write(body)
					return err
				}
			}
			statuses[i], sent[i] = r.exchange(t, write)
		}()
	}
	wg.Wait()
	close(stop)
	testwait.Closed(t, sampled, "the heap sampler to stop")

	var total int64
	answers := map[int]int{}
	for i := range clients {
		// Uploads beyond the body memory budget are turned away with
		// 503 before they reach the limit; the sender retries later.
		if statuses[i] != http.StatusServiceUnavailable {
			require.Equal(t, want, statuses[i], "client %d", i)
		}
		answers[statuses[i]]++
		total += sent[i]
	}
	require.Positive(t, answers[want], "no upload got as far as %d", want)
	require.Positive(t, samples)
	require.Zero(t, r.calls.Load())
	t.Logf("%d clients (%s): answered %v after %d MiB sent in total; peak HeapInuse %.1f MiB (%.1f MiB before, %.1f MiB while waiting in step), %d samples",
		clients, frame, answers, total>>20, float64(peak.Load())/(1<<20), float64(base.HeapInuse)/(1<<20), float64(peakWaiting)/(1<<20), samples)
	if mode == withheld {
		// What the server holds for headers alone; the bodies that
		// follow are the clients' own 1 MiB each.
		return peakWaiting
	}
	return peak.Load()
}

// TestHostileLongSignatureListIsCheap times the handler alone on a
// correctly signed delivery whose signature list has 10,000 entries, the
// right one last: it is refused (401) after a bounded scan, at about the
// cost of an ordinary delivery, not 10,000 comparisons.
func TestHostileLongSignatureListIsCheap(t *testing.T) {
	h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithClock(webhooktest.NewClock(webhooktest.Time()).Now),
		webhook.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	called := false
	h.OnJamCreated(func(context.Context, *webhook.Delivery, *event.JamCreated) error { called = true; return nil })
	good := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody).Header.Get("Webhook-Signature")
	long := strings.Repeat(bogusSig+" ", 9999) + good
	const n = 200
	began := time.Now()
	for range n {
		r := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)
		r.Header.Set("Webhook-Signature", long)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Equal(t, http.StatusUnauthorized, w.Code)
	}
	per := time.Since(began) / n
	require.False(t, called)
	t.Logf("10,000-entry signature list: 401 in %s per request (handler alone, request building included)", per)
}

// TestHostileSignedOddities covers odd bodies that carry a valid signature
// or token: authentic, so they are delivered, decoded leniently, as the
// design asks (a field of an unexpected type never fails a notification).
func TestHostileSignedOddities(t *testing.T) {
	r := newHostileRig(t, hostileReadTimeout)
	var attempts []int
	var mu sync.Mutex
	r.onIntercom = func(d *webhook.Delivery, n *event.IntercomNotification) {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, d.Attempt, n.DeliveryAttempts)
	}
	for _, c := range []struct {
		name     string
		raw      []byte
		seen     []string
		attempts []int // d.Attempt and DeliveryAttempts, for Intercom
	}{
		{"Intercom delivery_attempts out of int64 range", intercomSigned(bytes.Replace(intercomBody, []byte(`"delivery_attempts":1`), []byte(`"delivery_attempts":99999999999999999999999`), 1)),
			[]string{"intercom", "any"}, []int{0, 0}},
		{"Intercom delivery_attempts 1e999", intercomSigned(bytes.Replace(intercomBody, []byte(`"delivery_attempts":1`), []byte(`"delivery_attempts":1e999`), 1)),
			[]string{"intercom", "any"}, []int{0, 0}},
		{"Intercom delivery_attempts -1", intercomSigned(bytes.Replace(intercomBody, []byte(`"delivery_attempts":1`), []byte(`"delivery_attempts":-1`), 1)),
			[]string{"intercom", "any"}, []int{-1, -1}},
		{"Series token, empty body, no Content-Type: an empty form", rawPost([]string{webhooktest.SeriesHeader + ": " + webhooktest.SeriesToken}, nil),
			[]string{"series", "any"}, nil},
		{"Series token, empty body, JSON: a block with no pairs, as the form", rawPost([]string{webhooktest.SeriesHeader + ": " + webhooktest.SeriesToken, "Content-Type: application/json"}, nil),
			[]string{"series", "any"}, nil},
		{"Series token, form with a raw ';'", rawPost([]string{webhooktest.SeriesHeader + ": " + webhooktest.SeriesToken, "Content-Type: application/x-www-form-urlencoded"}, []byte("name=Smith; Jones")),
			[]string{"series", "any"}, nil},
	} {
		attempts = nil
		status, _ := r.exchange(t, writeRaw(c.raw))
		require.Equal(t, http.StatusOK, status, c.name)
		require.Equal(t, c.seen, r.takeSeen(), c.name)
		require.Equal(t, c.attempts, attempts, c.name)
	}
}

var intercomSeq int

// intercomSigned gives body a notification id of its own, so the dedupe
// store does not answer it as a duplicate, and signs it.
func intercomSigned(body []byte) []byte {
	intercomSeq++
	body = bytes.Replace(body, []byte(`"notif_3e1f7a2c-`), fmt.Appendf(nil, `"notif_%08x-`, intercomSeq), 1)
	return rawPost([]string{"X-Hub-Signature: " + webhooktest.SignIntercom(webhooktest.IntercomSecret, body)}, body)
}
