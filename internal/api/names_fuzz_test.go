package api

import (
	"regexp"
	"testing"
)

// keptnName is Keptn's rule for project and service names, written out
// apart from the checks it tests: a lower-case letter, then lower-case
// letters, digits and dashes, not ending with a dash.
var keptnName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// FuzzNameChecks checks that project and service names accepted by the
// API follow Keptn's rule and its lengths, so that nothing else (a slash,
// "..", upper case, spaces, control characters) reaches the Git
// repositories and URLs built from them.
func FuzzNameChecks(f *testing.F) {
	for _, s := range []string{"sockshop", "carts", "a", "a-", "-a", "A", "a/b", "..", "a..b", "ä", "a b", "x\x00", "carts-db-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		for _, tc := range []struct {
			kind  string
			check func(string) error
			max   int
		}{
			{"project", checkProjectName, 200},
			{"service", checkServiceName, 63},
		} {
			if tc.check(name) != nil {
				continue
			}
			if !keptnName.MatchString(name) || name[len(name)-1] == '-' || len(name) > tc.max {
				t.Fatalf("%s name %q was accepted", tc.kind, name)
			}
		}
	})
}
