package sqlitestore_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/sqlitestore"
	"github.com/stretchr/testify/require"
)

// multiChildEnv, when set to "FILE OUT", makes TestMultiProcess a worker
// process: it leases and completes deliveries from FILE until none is
// left, writing each key it completed to OUT.
const multiChildEnv = "SQLITESTORE_MULTI_CHILD"

// TestMultiProcess has three processes lease and complete the
// deliveries of one file at once, as several receivers on one machine
// would: SQLite's locks must keep a delivery to one lease at a time
// across processes, so each delivery is completed exactly once.
func TestMultiProcess(t *testing.T) {
	if v := os.Getenv(multiChildEnv); v != "" {
		file, out, _ := strings.Cut(v, " ")
		if err := multiChild(file, out); err != nil {
			fmt.Fprintln(os.Stderr, "multi child:", err)
			os.Exit(3)
		}
		return
	}
	if testing.Short() {
		t.Skip("runs worker processes")
	}
	const n, children = 1500, 3
	dir := t.TempDir()
	path := filepath.Join(dir, "inbox.db")
	ib, err := sqlitestore.Open(path)
	require.NoError(t, err)
	ctx := context.Background()
	for i := range n {
		_, err := ib.Store(ctx, &webhook.InboxEntry{Key: fmt.Sprintf("standard:msg_%d", i), Body: []byte(`{}`)})
		require.NoError(t, err)
	}
	require.NoError(t, ib.Close())

	var cmds []*exec.Cmd
	for c := range children {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMultiProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s", multiChildEnv, path, filepath.Join(dir, fmt.Sprint("done-", c))))
		cmd.Stderr = &prefixWriter{t: t}
		require.NoError(t, cmd.Start())
		cmds = append(cmds, cmd)
	}
	// Start them together: each says it is ready, then waits for "go".
	require.Eventually(t, func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "ready-*"))
		return len(m) == children
	}, 30*time.Second, time.Millisecond)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go"), nil, 0o600))
	for _, cmd := range cmds {
		require.NoError(t, cmd.Wait())
	}

	completed := map[string]int{}
	var per []int
	for c := range children {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprint("done-", c)))
		require.NoError(t, err)
		lines := strings.Fields(string(b))
		per = append(per, len(lines))
		for _, k := range lines {
			completed[k]++
		}
	}
	require.Len(t, completed, n)
	for k, c := range completed {
		require.Equal(t, 1, c, "%s completed by more than one lease", k)
	}
	ib, err = sqlitestore.Open(path)
	require.NoError(t, err)
	defer ib.Close()
	st, err := ib.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, webhook.InboxStats{Done: n}, st)
	t.Logf("multi-process: %d deliveries completed once each by %d processes (%v)", n, children, per)
}

func multiChild(file, out string) error {
	// Three processes writing all the time, under -race on a busy
	// machine: a writer may wait for the lock longer than the default.
	ib, err := sqlitestore.Open(file, sqlitestore.WithBusyTimeout(30*time.Second))
	if err != nil {
		return err
	}
	defer ib.Close()
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	dir := filepath.Dir(file)
	if err := os.WriteFile(filepath.Join(dir, "ready-"+filepath.Base(out)), nil, 0o600); err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no go after 30s")
		}
	}
	ctx := context.Background()
	for {
		// An hour's lease: no delivery may come due again during the test.
		ls, err := ib.Lease(ctx, 5, time.Hour)
		if err != nil {
			return err
		}
		if len(ls) == 0 {
			return nil
		}
		for _, l := range ls {
			if err := ib.Complete(ctx, l.Entry.Key, l.Token); err != nil {
				return err
			}
			if _, err := fmt.Fprintln(f, l.Entry.Key); err != nil {
				return err
			}
		}
	}
}
