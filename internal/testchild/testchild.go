// Package testchild runs a test again in a child of the test binary, for
// what a test cannot see or do in its own process: what the process
// writes to its standard error, a test run as another user. It is for
// tests only.
package testchild

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// wait bounds the child. It runs one test, in seconds; started without
// go test's flags it would have no timeout of its own, and a child that
// hung would hold the parent until go test's.
const wait = 2 * time.Minute

// Run runs t's test again in a child of the test binary, with env set to
// 1 in the child's environment: the test tells by env that it is the
// child and does there what the parent looks at. Run fails t unless the
// child ran the test and passed it, and returns what the child wrote to
// its standard output (go test -v's lines) and standard error.
func Run(t *testing.T, env string) (stdout, stderr string) {
	t.Helper()
	bin, err := os.Executable()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	// -test.timeout has a hung child panic with its goroutines, which
	// the failure below shows, before wait kills it.
	cmd := exec.CommandContext(ctx, bin, "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v",
		"-test.timeout="+(wait-10*time.Second).String())
	cmd.Env = append(os.Environ(), env+"=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	require.NoError(t, err, "%s in a child (%s=1):\n%s%s", t.Name(), env, out.String(), errb.String())
	require.Contains(t, out.String(), "--- PASS: "+t.Name()+" ", "%s in a child (%s=1) ran no test:\n%s%s", t.Name(), env, out.String(), errb.String())
	return out.String(), errb.String()
}
