package sqlitestore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFileMovedWhileOpen: once the inbox file or its log is removed or
// replaced under a running Store (an operator's rm, a deploy replacing
// the directory), a Store must not succeed: SQLite goes on writing to the
// unlinked file, so each acknowledged delivery would be gone at the next
// start. The deliveries stored before stay with the workers, whose writes
// still work, so those already acknowledged are still run.
func TestFileMovedWhileOpen(t *testing.T) {
	for _, tt := range []struct {
		name string
		sync Sync
		move func(t *testing.T, path string)
	}{
		{"file removed", SyncFull, func(t *testing.T, path string) { require.NoError(t, os.Remove(path)) }},
		{"file removed, SyncNormal", SyncNormal, func(t *testing.T, path string) { require.NoError(t, os.Remove(path)) }},
		{"file replaced", SyncFull, func(t *testing.T, path string) {
			other := filepath.Join(filepath.Dir(path), "other.db")
			require.NoError(t, os.WriteFile(other, nil, 0o600))
			require.NoError(t, os.Rename(other, path))
		}},

		{"directory moved", SyncFull, func(t *testing.T, path string) {
			dir := filepath.Dir(path)
			require.NoError(t, os.Rename(dir, dir+".old"))
			t.Cleanup(func() { _ = os.Rename(dir+".old", dir) })
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "inbox", "inbox.db")
			require.NoError(t, os.Mkdir(filepath.Dir(path), 0o700))
			s := open(t, path, WithSync(tt.sync))
			stored, err := s.Store(ctx, entry("before"))
			require.NoError(t, err)
			require.True(t, stored)

			tt.move(t, path)
			for _, key := range []string{"after", "after-2"} {
				_, err = s.Store(ctx, entry(key))
				require.ErrorIs(t, err, ErrFileMoved, key)
			}
			require.ErrorIs(t, s.Replay(ctx, "before"), ErrFileMoved)
			_, err = s.Purge(ctx, "", time.Now())
			require.ErrorIs(t, err, ErrFileMoved)

			// The workers' writes go on: what was acknowledged before
			// still runs in this process.
			ls, err := s.Lease(ctx, 10, time.Minute)
			require.NoError(t, err)
			var before bool
			for _, l := range ls {
				if l.Entry.Key == "before" {
					before = true
					require.NoError(t, s.Complete(ctx, l.Entry.Key, l.Token))
				}
			}
			require.True(t, before, "the delivery stored before is leased")
		})
	}
}

// TestLogRemovedWhileOpen: the log removed under a running Store is seen
// by the checkpointer's next check, not by the Store that follows at
// once; the deliveries acknowledged meanwhile were committed to the
// removed log and copied into the database by the checkpointer, so the
// next start finds every one of them, and the Stores after the check
// fail.
func TestLogRemovedWhileOpen(t *testing.T) {
	for name, sync := range map[string]Sync{"SyncFull": SyncFull, "SyncNormal": SyncNormal} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "inbox.db")
			s := open(t, path, WithSync(sync))
			_, err := s.Store(ctx, entry("before"))
			require.NoError(t, err)
			require.NoError(t, os.Remove(path+"-wal"))

			acked := []string{"before"}
			// The checkpointer looks every 10 ms; 500 Stores a millisecond
			// apart gave it half a second, a stall's worth on a loaded
			// machine.
			deadline := time.Now().Add(20 * time.Second)
			for i := 0; ; i++ {
				require.True(t, time.Now().Before(deadline), "no Store refused in %d", i)
				key := fmt.Sprint("after-", i)
				_, err := s.Store(ctx, entry(key))
				if err != nil {
					require.ErrorIs(t, err, ErrFileMoved)
					break
				}
				acked = append(acked, key)
				time.Sleep(time.Millisecond)
			}
			_, err = s.Store(ctx, entry("later"))
			require.ErrorIs(t, err, ErrFileMoved, "for good")
			require.NoError(t, s.Close())

			s = open(t, path)
			for _, key := range acked {
				_, err := s.Get(ctx, key)
				require.NoError(t, err, "%s was acknowledged", key)
			}
		})
	}
}
