package intake

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/event"
)

// examplesDir holds the real Keptn files shared by the team's tests.
const examplesDir = "../../../shared/keptn-examples"

func examplesRoot(tb testing.TB) string {
	tb.Helper()
	root := os.Getenv("TEND_KEPTN_EXAMPLES")
	if root == "" {
		root = examplesDir
	}
	if _, err := os.Stat(root); err != nil {
		tb.Skipf("Keptn example files not found at %s (set TEND_KEPTN_EXAMPLES): %v", root, err)
	}
	return root
}

func readExample(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(examplesRoot(tb), filepath.FromSlash(rel)))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// fixedTime is the clock of fixedParser.
var fixedTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// fixedParser parses events with a fixed clock and numbered ids, so that
// events without id, time or context parse the same every run.
func fixedParser(tb testing.TB) event.Parser {
	tb.Helper()
	n := 0
	return event.Parser{
		Now: func() time.Time { return fixedTime },
		NewID: func() string {
			n++
			return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
		},
	}
}

func parseEvent(tb testing.TB, data []byte) *event.Event {
	tb.Helper()
	ev, err := fixedParser(tb).Parse(data)
	if err != nil {
		tb.Fatalf("parse event: %v", err)
	}
	return ev
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t.UTC()
}
