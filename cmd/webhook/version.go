package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

const versionUsage = `
Usage: webhook version

Prints the module version of this build of webhook and the Go version it
was built with. "go install …@v1.2.3" builds report v1.2.3; builds from a
checkout report "(devel)" unless the go command stamped a version.
`

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", versionUsage, stderr)
	given := args
	args, code, stop := parseFlags(fs, args)
	if stop {
		return code
	}
	if len(args) > 0 {
		return usageErr(stderr, "version", "unexpected argument %s", argText(given, args[0]))
	}
	fmt.Fprintln(stdout, versionLine(debug.ReadBuildInfo()))
	return exitOK
}

// versionLine describes a build: "webhook v1.2.3 (go1.26.8)". The module
// version is "(devel)" when the binary carries none, as test binaries and
// some local builds do.
func versionLine(bi *debug.BuildInfo, ok bool) string {
	version, goVersion := "(devel)", "unknown Go version"
	if ok && bi != nil {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
	}
	return "webhook " + version + " (" + goVersion + ")"
}
