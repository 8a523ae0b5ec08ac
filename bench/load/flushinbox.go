package load

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
)

// Flush names the target of our handler in inbox mode on the least an
// inbox that answers after a sync can do: append each delivery to a file
// and sync it, with group commit. It bounds the inbox targets on the same
// disk: what they make below it is the store's cost, what it makes below
// ours is the disk's.
const Flush = "flush"

// flushChunk is how far the flush target's log is grown ahead of its
// records: zeros written once, so that a record overwrites blocks the
// file already has and its sync flushes data, not the file's size and
// extents (on this machine's disk 160 µs against 330 µs a sync).
const flushChunk = 64 << 20

// FlushTarget returns the flush target: our handler in inbox mode, with
// one OnJamCreated callback that never runs, on an inbox whose Store
// appends the entry to a log in a new file in dir (the directory of the
// inbox target's SQLite file, so the same disk) and answers once the log
// is synced. One loop writes every record waiting, with a single pwrite
// and fdatasync (f.Sync off Linux), then answers them all. Keys are kept
// in memory for the dedupe: a key already stored is acknowledged without
// a record. No workers run; Lease and the other methods return an error.
//
// The target's Settle reads the file back and fails unless it holds
// exactly one intact record (length, CRC-32C, every field) for each
// delivery the inbox acknowledged, and sets Calls to the records read,
// so the run checks them against the 200s. The returned function stops
// the loop and removes the file.
func FlushTarget(dir string) (Target, func() error, error) {
	ib, err := openFlushInbox(dir, flushChunk)
	if err != nil {
		return Target{}, nil, err
	}
	t, err := flushTarget(ib)
	if err != nil {
		ib.close()
		return Target{}, nil, err
	}
	return t, ib.close, nil
}

// flushTarget serves ib with the inbox target's handler options, less
// the workers.
func flushTarget(ib *flushInbox) (Target, error) {
	h, err := webhook.NewHandler(webhook.WithSecrets(Secret), webhook.WithInbox(ib),
		webhook.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return Target{}, err
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		return errors.New("load: the flush target runs no callbacks")
	})
	var records atomic.Int64
	settle := func(ctx context.Context) error {
		n, err := ib.verify()
		if err != nil {
			return err
		}
		records.Store(int64(n))
		return nil
	}
	return Target{Name: Flush, Handler: h, Calls: &records, Settle: settle}, nil
}

// errFlushClosed answers the Stores that come after the log is closed.
var errFlushClosed = errors.New("load: flush log closed")

// flushInbox is the flush target's Inbox: an append-only log of the
// stored entries.
type flushInbox struct {
	f     *os.File
	path  string
	chunk int64
	wake  chan struct{} // a record is queued; capacity 1
	quit  chan struct{} // closed by close
	done  chan struct{} // closed when the loop has returned

	mu sync.Mutex
	// keys holds every key stored or being stored: its record while the
	// Store is under way, then acked, so that what the run keeps is the
	// keys alone (clients and servers share the process, and a heap of
	// records would make every target's collections dearer).
	keys   map[string]*flushRecord
	acked  *flushRecord
	queue  []*flushRecord // waiting for the loop
	closed bool

	end int64 // where the synced records end; the loop writes it

	// The loop's own: the file's size grown with zeros, and the error
	// that stopped the log (a failed write or sync leaves the file's
	// state unknown, so every later Store fails too).
	size int64
	err  error
}

// A flushRecord is one Store's record on its way to the log.
type flushRecord struct {
	buf  []byte        // dropped once written
	err  error         // set before done is closed
	done chan struct{} // closed once the record is synced or has failed
}

// openFlushInbox creates the log in dir, grows it by chunk and syncs it
// before any record is timed, and starts the loop.
func openFlushInbox(dir string, chunk int64) (*flushInbox, error) {
	f, err := os.CreateTemp(dir, "loadgen-flush-*.log")
	if err != nil {
		return nil, err
	}
	ib := &flushInbox{
		f: f, path: f.Name(), chunk: chunk,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
		keys: map[string]*flushRecord{}, acked: &flushRecord{done: make(chan struct{})},
	}
	close(ib.acked.done)
	if err = ib.grow(chunk); err == nil {
		err = datasync(f)
	}
	if err != nil {
		f.Close()
		os.Remove(ib.path)
		return nil, err
	}
	go ib.loop()
	return ib, nil
}

// close stops the loop, failing the Stores still queued, and removes the
// file.
func (ib *flushInbox) close() error {
	ib.mu.Lock()
	if ib.closed {
		ib.mu.Unlock()
		return nil
	}
	ib.closed = true
	ib.mu.Unlock()
	close(ib.quit)
	<-ib.done
	err := ib.f.Close()
	if rerr := os.Remove(ib.path); err == nil {
		err = rerr
	}
	return err
}

// Store queues e's record for the loop and waits until it is synced. A
// key already stored or being stored waits for that record and reports
// false, so a duplicate is acknowledged only once the first copy is on
// disk.
func (ib *flushInbox) Store(ctx context.Context, e *webhook.InboxEntry) (bool, error) {
	if e == nil || e.Key == "" {
		return false, errors.New("load: flush: an entry needs a key")
	}
	ib.mu.Lock()
	if ib.closed {
		ib.mu.Unlock()
		return false, errFlushClosed
	}
	if first, ok := ib.keys[e.Key]; ok {
		ib.mu.Unlock()
		select {
		case <-first.done:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		if first.err != nil {
			return false, first.err
		}
		return false, nil
	}
	r := &flushRecord{done: make(chan struct{})}
	ib.keys[e.Key] = r
	ib.mu.Unlock()

	if e.ReceivedAt.IsZero() {
		cp := *e
		cp.ReceivedAt = time.Now()
		e = &cp
	}
	r.buf = appendFlushRecord(nil, e)
	ib.mu.Lock()
	if ib.closed {
		delete(ib.keys, e.Key)
		ib.mu.Unlock()
		return false, errFlushClosed
	}
	ib.queue = append(ib.queue, r)
	ib.mu.Unlock()
	select {
	case ib.wake <- struct{}{}:
	default:
	}
	// Once queued, the record is written whatever ctx says: a Store that
	// gave up early could leave a record nobody was told of.
	<-r.done
	ib.mu.Lock()
	defer ib.mu.Unlock()
	if r.err != nil {
		delete(ib.keys, e.Key) // the sender's retry stores it again
		return false, r.err
	}
	ib.keys[e.Key] = ib.acked
	return true, nil
}

// loop is the group commit: it takes every record queued, writes them
// with one pwrite and one sync, and answers them all.
func (ib *flushInbox) loop() {
	defer close(ib.done)
	var batch []*flushRecord
	var buf []byte
	for {
		select {
		case <-ib.wake:
		case <-ib.quit:
			ib.mu.Lock()
			batch, ib.queue = ib.queue, nil
			ib.mu.Unlock()
			answer(batch, errFlushClosed)
			return
		}
		ib.mu.Lock()
		batch, ib.queue = ib.queue, batch[:0]
		ib.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		buf = buf[:0]
		for _, r := range batch {
			buf = append(buf, r.buf...)
		}
		if ib.err == nil {
			ib.err = ib.write(buf)
		}
		answer(batch, ib.err)
		clear(batch) // let the records go; the slice is the next queue
	}
}

// write appends buf at the log's end, growing the file first when buf
// passes its size, and syncs it.
func (ib *flushInbox) write(buf []byte) error {
	if need := ib.end + int64(len(buf)); need > ib.size {
		if err := ib.grow(need - ib.size + ib.chunk); err != nil {
			return err
		}
	}
	if _, err := ib.f.WriteAt(buf, ib.end); err != nil {
		return err
	}
	if err := datasync(ib.f); err != nil {
		return err
	}
	ib.mu.Lock()
	ib.end += int64(len(buf))
	ib.mu.Unlock()
	return nil
}

// grow writes n bytes of zeros past the file's size. The sync after the
// next record makes them durable with it.
func (ib *flushInbox) grow(n int64) error {
	zeros := make([]byte, min(n, 1<<20))
	for n > 0 {
		w := min(n, int64(len(zeros)))
		if _, err := ib.f.WriteAt(zeros[:w], ib.size); err != nil {
			return err
		}
		ib.size += w
		n -= w
	}
	return nil
}

func answer(batch []*flushRecord, err error) {
	for _, r := range batch {
		r.buf = nil
		r.err = err
		close(r.done)
	}
}

// verify reads the log back from the file and checks that it holds
// exactly one intact record for each key the inbox acknowledged, and
// nothing else up to the log's end; it returns the number of records.
// It is meant for after the rounds, with no Store under way.
func (ib *flushInbox) verify() (int, error) {
	data, err := os.ReadFile(ib.path)
	if err != nil {
		return 0, fmt.Errorf("%s: reading the log back: %w", Flush, err)
	}
	keys, end, err := readFlushLog(data)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", Flush, err)
	}
	ib.mu.Lock()
	defer ib.mu.Unlock()
	acked := map[string]bool{}
	for k, r := range ib.keys {
		if r == ib.acked {
			acked[k] = false
		} else {
			return 0, fmt.Errorf("%s: a Store of %q still under way", Flush, k)
		}
	}
	for i, k := range keys {
		seen, ok := acked[k]
		switch {
		case !ok:
			return 0, fmt.Errorf("%s: record %d is of %q, which was never acknowledged", Flush, i, k)
		case seen:
			return 0, fmt.Errorf("%s: record %d repeats %q", Flush, i, k)
		}
		acked[k] = true
	}
	if len(keys) != len(acked) {
		return 0, fmt.Errorf("%s: %d intact records for %d acknowledged deliveries", Flush, len(keys), len(acked))
	}
	if want := ib.end; int64(end) != want {
		return 0, fmt.Errorf("%s: the records end at offset %d, the log at %d", Flush, end, want)
	}
	return len(keys), nil
}

// The log's format: records one after the other, each a 4-byte
// little-endian payload length, the payload's 4-byte CRC-32C (Castagnoli)
// and the payload; a length of zero (the zeros the file was grown with)
// ends the log. The payload is the entry's key, source, id, timestamp and
// received time (Unix nanoseconds, 0 for none), headers, meta and body,
// each string or byte slice prefixed with its uvarint length and each
// list with its uvarint count.
const flushHeaderLen = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendFlushRecord appends e's record to b.
func appendFlushRecord(b []byte, e *webhook.InboxEntry) []byte {
	start := len(b)
	b = append(b, make([]byte, flushHeaderLen)...)
	str := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	str(e.Key)
	str(string(e.Source))
	str(e.ID)
	b = binary.AppendVarint(b, unixNano(e.Timestamp))
	b = binary.AppendVarint(b, unixNano(e.ReceivedAt))
	b = binary.AppendUvarint(b, uint64(len(e.Header)))
	for name, values := range e.Header {
		str(name)
		b = binary.AppendUvarint(b, uint64(len(values)))
		for _, v := range values {
			str(v)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(e.Meta)))
	for k, v := range e.Meta {
		str(k)
		str(v)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Body)))
	b = append(b, e.Body...)
	payload := b[start+flushHeaderLen:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(payload, castagnoli))
	return b
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// readFlushLog parses the log in data: the keys of its records in order,
// and the offset where they end. A record cut short, failing its
// checksum or not parsing to its exact length is an error naming its
// offset.
func readFlushLog(data []byte) (keys []string, end int, err error) {
	for end+flushHeaderLen <= len(data) {
		n := int(binary.LittleEndian.Uint32(data[end:]))
		if n == 0 {
			break
		}
		if n > len(data)-end-flushHeaderLen {
			return nil, 0, fmt.Errorf("record at offset %d: %d bytes of payload, %d left in the file", end, n, len(data)-end-flushHeaderLen)
		}
		payload := data[end+flushHeaderLen : end+flushHeaderLen+n]
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(data[end+4:]) {
			return nil, 0, fmt.Errorf("record at offset %d: checksum mismatch", end)
		}
		key, err := parseFlushPayload(payload)
		if err != nil {
			return nil, 0, fmt.Errorf("record at offset %d: %w", end, err)
		}
		keys = append(keys, key)
		end += flushHeaderLen + n
	}
	return keys, end, nil
}

// parseFlushPayload checks that p is one whole entry and returns its key.
func parseFlushPayload(p []byte) (string, error) {
	bad := errors.New("payload does not parse")
	ok := true
	uv := func() uint64 {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			ok = false
			p = nil
			return 0
		}
		p = p[n:]
		return v
	}
	bytesOf := func() []byte {
		n := uv()
		if n > uint64(len(p)) {
			ok = false
			return nil
		}
		s := p[:n]
		p = p[n:]
		return s
	}
	vint := func() {
		if _, n := binary.Varint(p); n <= 0 {
			ok = false
		} else {
			p = p[n:]
		}
	}
	key := string(bytesOf())
	bytesOf() // source
	bytesOf() // id
	vint()    // timestamp
	vint()    // received
	for range uv() {
		bytesOf() // name
		for range uv() {
			if bytesOf(); !ok {
				return "", bad
			}
		}
		if !ok {
			return "", bad
		}
	}
	for range uv() {
		bytesOf()
		bytesOf()
		if !ok {
			return "", bad
		}
	}
	bytesOf() // body
	if !ok || len(p) != 0 || key == "" {
		return "", bad
	}
	return key, nil
}

// unsupported is the error of the Inbox methods the flush target has no
// use for.
func unsupported(method string) error {
	return fmt.Errorf("load: %s is not supported by the flush target: %w", method, errors.ErrUnsupported)
}

// Lease is not supported: the flush target runs no workers.
func (ib *flushInbox) Lease(context.Context, int, time.Duration) ([]webhook.InboxLease, error) {
	return nil, unsupported("Lease")
}

// Complete is not supported.
func (ib *flushInbox) Complete(context.Context, string, string) error {
	return unsupported("Complete")
}

// Retry is not supported.
func (ib *flushInbox) Retry(context.Context, string, string, time.Time, string) error {
	return unsupported("Retry")
}

// Kill is not supported.
func (ib *flushInbox) Kill(context.Context, string, string, string) error {
	return unsupported("Kill")
}

// Get is not supported.
func (ib *flushInbox) Get(context.Context, string) (webhook.InboxEntry, error) {
	return webhook.InboxEntry{}, unsupported("Get")
}

// List is not supported.
func (ib *flushInbox) List(context.Context, webhook.InboxQuery) (webhook.InboxPage, error) {
	return webhook.InboxPage{}, unsupported("List")
}

// Replay is not supported.
func (ib *flushInbox) Replay(context.Context, string) error {
	return unsupported("Replay")
}

// Purge is not supported.
func (ib *flushInbox) Purge(context.Context, webhook.InboxState, time.Time) (int, error) {
	return 0, unsupported("Purge")
}

// Stats is not supported.
func (ib *flushInbox) Stats(context.Context) (webhook.InboxStats, error) {
	return webhook.InboxStats{}, unsupported("Stats")
}
