package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// TestServeStalledUploads: attackers fill serve's body memory budget (16
// MiB) to the byte with wrongly signed uploads that stop part way and then
// send nothing, which serve's server holds until its ReadTimeout (10 s).
// Jam deliveries sent meanwhile, retried on 503 as Svix does (here after
// its Retry-After), must be answered 200 well before that: the uploads give
// way to them. Before, every attempt got 503 until the uploads timed out,
// and an attacker starting them again at once kept every delivery out.
//
// The fill follows the handler's body growth (TestAttackStalledUploadsGiveWay
// in the library checks it against the budget it measures): ten uploads
// of unknown length stopped just past half the 1 MiB limit hold 1,564,799
// bytes each (the buffers a body grows through count: 8 KiB doubling to
// 256 KiB, then the limit), and some 280 declared uploads stopped within
// the pooled first 4 KiB hold what they sent.
//
// With --inspect the inspector reads each body before the handler does,
// up to its own budget of the handler's size, and past it hands the
// request to the handler as it came: the stalled uploads hold the
// inspector's budget until their ReadTimeout, never the handler's, and
// the deliveries reach the handler at once, their bodies not kept for
// the page.
func TestServeStalledUploads(t *testing.T) {
	for _, args := range [][]string{{"--test-keys"}, {"--test-keys", "--inspect=127.0.0.1:0"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) { testServeStalledUploads(t, args) })
	}
}

func testServeStalledUploads(t *testing.T, args []string) {
	clearEnv(t)
	srv := serveInProcess(t, args...)
	u, err := url.Parse(srv.recv)
	require.NoError(t, err)
	addr := u.Host

	const budget, big, bigs = 16 << 20, 1_564_799, 10
	rest := budget - bigs*big
	var stalls [][]byte
	bogus := []string{"Webhook-Id: msg_stall", "Webhook-Timestamp: " + strconv.FormatInt(time.Now().Unix(), 10),
		"Webhook-Signature: v1,c3RhbGxlZC11cGxvYWQtc2lnbmF0dXJlLXRoYXQtbWF0Y2hlcy1ub3RoaW5n"}
	for range bigs {
		n := 512<<10 + 1
		stalls = append(stalls, stallRequest(append(bogus, "Transfer-Encoding: chunked"), fmt.Appendf(nil, "%x\r\n%s\r\n", n, bytes.Repeat([]byte("A"), n))))
	}
	for ; rest > 0; rest -= min(rest, 4096) {
		stalls = append(stalls, stallRequest(append(bogus, "Content-Length: 8000"), bytes.Repeat([]byte("A"), min(rest, 4096))))
	}
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for _, raw := range stalls {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		conns = append(conns, c)
		_, err = c.Write(raw)
		require.NoError(t, err)
	}
	time.Sleep(1500 * time.Millisecond) // read and charged, and past a second

	deadline := time.Now().Add(7 * time.Second) // before the uploads' ReadTimeout
	var wg sync.WaitGroup
	statuses := make([]int, 3)
	attempts := make([]int, 3)
	for i := range statuses {
		req := webhooktest.NewStandardRequest(webhooktest.Secret, []byte(jamBody), webhooktest.WithTime(time.Now()), webhooktest.WithID(fmt.Sprintf("msg_serve_stall_%d", i)))
		var raw bytes.Buffer
		require.NoError(t, req.Write(&raw))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				attempts[i]++
				status, retry := sendRaw(addr, raw.Bytes(), deadline)
				statuses[i] = status
				if status != http.StatusServiceUnavailable || retry <= 0 || time.Now().Add(retry).After(deadline) {
					return
				}
				time.Sleep(retry)
			}
		}()
	}
	wg.Wait()
	for i, status := range statuses {
		require.Equal(t, http.StatusOK, status, "delivery %d after %d attempts", i, attempts[i])
	}
	if srv.page == "" {
		return
	}
	// The page lists each delivery as accepted, its id verified.
	resp, err := http.Get(srv.page + "/api/deliveries")
	require.NoError(t, err)
	defer resp.Body.Close()
	var list []record
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	accepted := map[string]bool{}
	for _, r := range list {
		if r.Status == http.StatusOK && r.IDVerified {
			accepted[r.ID] = true
		}
	}
	for i := range statuses {
		require.True(t, accepted[fmt.Sprintf("msg_serve_stall_%d", i)], "delivery %d not listed as accepted: %+v", i, list)
	}
}

// stallRequest is a POST with headers and the start of a body, to be left
// unfinished.
func stallRequest(headers []string, body []byte) []byte {
	var b bytes.Buffer
	b.WriteString("POST /hooks HTTP/1.1\r\nHost: receiver.example\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// sendRaw sends raw on a new connection and returns the status answered
// (0 if none) and its Retry-After.
func sendRaw(addr string, raw []byte, deadline time.Time) (int, time.Duration) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, 0
	}
	defer c.Close()
	_ = c.SetDeadline(deadline)
	if _, err := c.Write(raw); err != nil {
		return 0, 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, 0
	}
	resp.Body.Close()
	secs, _ := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After")))
	return resp.StatusCode, time.Duration(secs) * time.Second
}

// TestServeLogsNoCredentials sends serve, with --debug and the inspector
// on, a request of every kind it refuses or accepts, each carrying
// credentials and body bytes of its own, and reads its standard error,
// where logs are collected: no key, no received signature or token, no
// credential a tunnel or browser added, and no body byte (beyond the
// sizes and counts a diagnosis gives) is there.
func TestServeLogsNoCredentials(t *testing.T) {
	clearEnv(t)
	srv := serveInProcess(t, "--test-keys", "--debug", "--inspect=127.0.0.1:0")
	const (
		marker      = "Zanzibar-body-marker"          // in every body
		tokenGuess  = "series-token-guess-7Kq2Lm9Xv4" // a wrong Series token, someone's real one elsewhere
		bearer      = "tunnel-basic-auth-9Wz3Rt6Yu1"  // added on the way
		cookieValue = "browser-session-4Hn8Bv2Cx5"
	)
	jam := `{"jamId":"4f0c","teamId":"team_8Hq2","type":"video","title":"` + marker + `"}`
	// A verified body with a field of the wrong type, which serve warns
	// of: the warning names the field, not its value.
	oddJam := `{"jamId":"4f0c","teamId":"team_8Hq2","type":"video","title":{"note":"` + marker + `"},"author":["` + marker + `"]}`
	notice := strings.Replace(noticeBody, `"state":"open"`, `"state":"open","title":"`+marker+`"`, 1)
	now := webhooktest.WithTime(time.Now())
	extra := func(r *http.Request) *http.Request {
		r.Header.Set("Authorization", "Basic "+bearer)
		r.Header.Set("Cookie", "session="+cookieValue)
		return r
	}
	tests := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"Jam, accepted", webhooktest.NewStandardRequest(webhooktest.Secret, []byte(jam), now, webhooktest.WithID("msg_logs_ok")), 200},
		{"Jam, accepted, a field of the wrong type", webhooktest.NewStandardRequest(webhooktest.Secret, []byte(oddJam), now, webhooktest.WithID("msg_logs_odd")), 200},
		{"Jam, another key's signature", webhooktest.NewStandardRequest(otherKey, []byte(jam), now, webhooktest.WithID("msg_logs_forged")), 401},
		{"Jam, an hour old", webhooktest.NewStandardRequest(webhooktest.Secret, []byte(jam), webhooktest.WithTime(time.Now().Add(-time.Hour))), 401},
		{"Jam, signed, not JSON", webhooktest.NewStandardRequest(webhooktest.Secret, []byte(marker), now, webhooktest.WithID("msg_logs_notjson")), 400},
		{"Jam, signed, text/plain", webhooktest.NewStandardRequest(webhooktest.Secret, []byte(jam), now, webhooktest.WithContentType("text/plain")), 415},
		{"Intercom, accepted", webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, []byte(notice), now), 200},
		{"Intercom, another secret's signature", webhooktest.NewIntercomRequest("c0ffee00-1111-4222-8333-444455556666", []byte(notice), now), 401},
		{"Intercom, a day old", webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, []byte(strings.Replace(notice, `"id":"notif_`, `"id":"notif_old_`, 1)), webhooktest.WithTime(time.Now().Add(-100*time.Hour))), 401},
		{"Series, accepted", webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, []byte("name="+marker), webhooktest.WithContentType("application/x-www-form-urlencoded")), 200},
		{"Series, a wrong token", webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, tokenGuess, []byte("name="+marker), webhooktest.WithContentType("application/x-www-form-urlencoded")), 401},
		{"Series, the token twice", func() *http.Request {
			r := webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, []byte("name="+marker), webhooktest.WithContentType("application/x-www-form-urlencoded"))
			r.Header.Add(webhooktest.SeriesHeader, tokenGuess)
			return r
		}(), 401},
		{"no source's headers", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, "/", strings.NewReader(marker))
			return r
		}(), 401},
	}
	var received []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := extra(tt.req)
			for _, k := range []string{"Webhook-Signature", "X-Hub-Signature"} {
				if v := r.Header.Get(k); v != "" {
					received = append(received, k+": "+v)
				}
			}
			require.Equal(t, tt.want, srv.post(t, r))
		})
	}
	get, err := http.NewRequest(http.MethodGet, srv.recv+"/hooks?token="+tokenGuess, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(extra(get))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	logs := srv.logs.String()
	require.Contains(t, logs, "status=401")
	require.Contains(t, logs, "status=405", "--debug logs the GET")
	require.Contains(t, logs, "field left zero")
	requireNoSecrets(t, logs, strings.Join(received, "\n"))
	for _, s := range []string{marker, tokenGuess, bearer, cookieValue} {
		require.NotContains(t, logs, s)
	}
}

// TestServeReceiverServesNoPage: the receiver's address is the one a
// tunnel or a load balancer makes public; the inspector's page, which
// shows every body and replays them re-signed, answers on its own
// address only. Every path and action of the page, asked of the
// receiver, even with the page's token and origin, gets the handler's
// refusal and none of the page's data.
func TestServeReceiverServesNoPage(t *testing.T) {
	clearEnv(t)
	srv := serveInProcess(t, "--test-keys", "--inspect=127.0.0.1:0")
	const marker = "Quillfeather-body-marker"
	jam := `{"jamId":"4f0c","teamId":"team_8Hq2","type":"video","title":"` + marker + `"}`
	require.Equal(t, http.StatusOK, srv.post(t, webhooktest.NewStandardRequest(webhooktest.Secret, []byte(jam), webhooktest.WithTime(time.Now()))))

	// The page's token, as its own script reads it.
	resp, err := http.Get(srv.page + "/")
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	token := regexp.MustCompile(`[0-9a-f]{32}`).FindString(string(page))
	require.NotEmpty(t, token, "the page carries its token")
	// It is the token: the page takes an action with it (a replay of a
	// delivery it does not have: 404, not 403).
	req, err := http.NewRequest(http.MethodPost, srv.page+"/api/deliveries/99/replay", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", srv.page)
	req.Header.Set(tokenHeader, token)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	// The page itself lists the delivery, body and all.
	resp, err = http.Get(srv.page + "/api/deliveries/1")
	require.NoError(t, err)
	detail, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Contains(t, string(detail), marker)

	for _, tt := range []struct{ method, path string }{
		{http.MethodGet, "/"},
		{http.MethodGet, "/api/config"},
		{http.MethodGet, "/api/deliveries"},
		{http.MethodGet, "/api/deliveries/1"},
		{http.MethodGet, "/api/events"},
		{http.MethodGet, "/api/inbox"},
		{http.MethodGet, "/static/app.js"},
		{http.MethodPost, "/api/deliveries/1/replay?keep_id=1"},
		{http.MethodPost, "/api/deliveries/1/forward"},
		{http.MethodPost, "/api/deliveries/1/fixture"},
		{http.MethodPost, "/api/inbox/replay?key=standard:x"},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.recv+tt.path, nil)
			require.NoError(t, err)
			req.Header.Set("Origin", srv.recv)
			req.Header.Set(tokenHeader, token)
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			_ = resp.Body.Close()
			want := http.StatusUnauthorized // a POST without any source's headers
			if tt.method == http.MethodGet {
				want = http.StatusMethodNotAllowed
			}
			require.Equal(t, want, resp.StatusCode)
			for _, s := range []string{marker, token, "jamId", "webhook inspector"} {
				require.NotContains(t, string(body), s)
			}
		})
	}
	// No replay ran: the page lists the one delivery, and the requests above.
	resp, err = http.Get(srv.page + "/api/deliveries")
	require.NoError(t, err)
	var list []record
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	_ = resp.Body.Close()
	for _, r := range list {
		require.Zero(t, r.ReplayOf, "a replay ran: %+v", r)
	}
	require.Len(t, list, 12)
}
