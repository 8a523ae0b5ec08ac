package otelwebhook_test

import (
	"errors"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/inhook/webhook/otelwebhook"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// instrumentKinds names each kind of instrument as the docs write it.
var instrumentKinds = map[sdkmetric.InstrumentKind]string{
	sdkmetric.InstrumentKindCounter:                 "counter",
	sdkmetric.InstrumentKindUpDownCounter:           "up-down counter",
	sdkmetric.InstrumentKindHistogram:               "histogram",
	sdkmetric.InstrumentKindGauge:                   "gauge",
	sdkmetric.InstrumentKindObservableCounter:       "asynchronous counter",
	sdkmetric.InstrumentKindObservableUpDownCounter: "asynchronous up-down counter",
	sdkmetric.InstrumentKindObservableGauge:         "asynchronous gauge",
}

// instruments returns every instrument New creates, as "kind (unit)" by
// name, read from the SDK's view of each instrument as it is created.
func instruments(t *testing.T) map[string]string {
	t.Helper()
	var mu sync.Mutex
	got := map[string]string{}
	record := func(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
		mu.Lock()
		defer mu.Unlock()
		kind, ok := instrumentKinds[i.Kind]
		require.True(t, ok, "instrument %s of kind %v", i.Name, i.Kind)
		got[i.Name] = kind + " (" + i.Unit + ")"
		return sdkmetric.Stream{}, false
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()), sdkmetric.WithView(record))
	t.Cleanup(func() { _ = mp.Shutdown(t.Context()) })
	_, err := otelwebhook.New(otelwebhook.WithMeterProvider(mp))
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, got)
	return got
}

// TestDocsListEveryMetric: the package doc's Metrics table and the
// README's list every metric New creates, each with the kind of its
// instrument and its unit, and no metric it does not create. A reader
// writing alerts and dashboards from the docs needs both: the kind says
// whether to take a rate or read the value, the unit what it is in.
func TestDocsListEveryMetric(t *testing.T) {
	want := instruments(t)

	f, err := parser.ParseFile(token.NewFileSet(), "otelwebhook.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	require.NoError(t, err)
	_, section, ok := strings.Cut(f.Doc.Text(), "\n# Metrics\n")
	require.True(t, ok, "the package doc has no Metrics section")
	section, _, _ = strings.Cut(section, "\n# ")
	// A row: the name, then its kind and unit, "histogram (s)".
	row := regexp.MustCompile(`^\t([a-z_.]+)\s+([a-z -]+ \([^)]*\))`)
	got := map[string]string{}
	for line := range strings.Lines(section) {
		if m := row.FindStringSubmatch(line); m != nil {
			got[m[1]] = m[2]
		}
	}
	require.Equal(t, want, got, "the package doc's Metrics table: name, kind (unit)")

	readme, err := os.ReadFile("../README.md")
	if errors.Is(err, fs.ErrNotExist) && os.Getenv("CI") != "true" {
		t.Skip("../README.md is missing: this module alone, not the repository")
	}
	require.NoError(t, err)
	_, section, ok = strings.Cut(string(readme), "\n## Observability with OpenTelemetry\n")
	require.True(t, ok, "README.md has no Observability section")
	section, _, _ = strings.Cut(section, "\n## ")
	// A row of the metrics table: | `name` | kind | `unit` | attributes |.
	row = regexp.MustCompile("^\\| `([a-z_.]+)` \\| ([a-z -]+) \\| `([^`]*)` \\|")
	got = map[string]string{}
	for line := range strings.Lines(section) {
		if m := row.FindStringSubmatch(line); m != nil {
			got[m[1]] = m[2] + " (" + m[3] + ")"
		}
	}
	require.Equal(t, want, got, "README.md's metrics table: name, kind, unit")
}
