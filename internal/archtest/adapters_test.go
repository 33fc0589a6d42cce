package archtest

import (
	"slices"
	"strings"
	"testing"
)

// adapterPackages are the packages that talk to the outside world on
// behalf of the core: SLI providers, action executors, the database
// drivers and the PostgreSQL Git storage. A pattern ending in "/..." means
// the packages strictly below it: internal/sli and internal/action
// themselves are the contracts (ports) that everyone may import.
var adapterPackages = []string{
	"internal/sli/...",
	"internal/action/...",
	"internal/store/sqlite",
	"internal/store/postgres",
	"internal/resource/pgstorer",
}

// entryPoints may import adapters: they wire them together. cmd/ and test/
// hold mains and end-to-end tests. internal/demo is the carts demo service,
// a program of its own (cmd/carts, `tend demo carts`) that asks a real
// cluster for its replica count through action/kubernetes's client.
var entryPoints = []string{"internal/app", "internal/cli", "internal/demo", "cmd/...", "test/..."}

// matches reports whether rel (a path relative to the module) falls under
// one of the patterns.
func matches(rel string, patterns []string) bool {
	for _, p := range patterns {
		if base, ok := strings.CutSuffix(p, "/..."); ok {
			if strings.HasPrefix(rel, base+"/") {
				return true
			}
		} else if rel == p {
			return true
		}
	}
	return false
}

// TestOnlyEntryPointsImportAdapters keeps "imports point inward" true
// beyond the core (docs/ARCHITECTURE.md): of all of tend's packages, only
// app, cli and the entry points import an adapter. It checks every
// package's direct imports (test files excluded, as go list reports them):
// since every package is checked, an adapter reached through a chain of
// imports is caught at the first link that is not allowed, which is the
// package to fix. Adapters may import each other's contracts, never each
// other.
func TestOnlyEntryPointsImportAdapters(t *testing.T) {
	root := moduleRoot(t)
	pkgs := goList(t, root, "-e", "./...")
	if len(pkgs) == 0 {
		t.Fatal("go list ./... found no package; the test would check nothing")
	}
	seenAdapters := map[string]bool{}
	for _, p := range pkgs {
		rel, ok := strings.CutPrefix(p.ImportPath, module+"/")
		if !ok {
			continue
		}
		if matches(rel, adapterPackages) {
			seenAdapters[rel] = true
		}
		if p.Error != nil {
			t.Errorf("%s cannot be loaded, so its imports cannot be checked: %s", rel, p.Error.Err)
			continue
		}
		if matches(rel, entryPoints) {
			continue
		}
		for _, imp := range p.Imports {
			dep, ok := strings.CutPrefix(imp, module+"/")
			if !ok || !matches(dep, adapterPackages) || sameAdapter(rel, dep) {
				continue
			}
			t.Errorf("%s imports the adapter %s: only app and cli wire adapters; declare the interface %s needs in %s (or a core package) and let app pass the adapter in, as api.Options.AlertQueries does", rel, dep, rel, rel)
		}
	}
	for _, pattern := range adapterPackages {
		found := false
		for a := range seenAdapters {
			if matches(a, []string{pattern}) {
				found = true
			}
		}
		if !found {
			t.Errorf("adapter pattern %s matches no package; fix or remove it", pattern)
		}
	}
}

// sameAdapter reports whether dep belongs to the adapter rel is part of,
// such as a helper package below it.
func sameAdapter(rel, dep string) bool {
	return strings.HasPrefix(dep, rel+"/") || strings.HasPrefix(rel, dep+"/")
}

// TestPatternMatching pins the meaning of "/..." in the lists above: the
// contract packages internal/sli and internal/action are not adapters.
func TestPatternMatching(t *testing.T) {
	tests := []struct {
		rel  string
		want bool
	}{
		{"internal/sli", false},
		{"internal/sli/prometheus", true},
		{"internal/slo", false},
		{"internal/action", false},
		{"internal/action/webhook", true},
		{"internal/actionx/y", false},
		{"internal/store", false},
		{"internal/store/sqlite", true},
		{"internal/store/storetest", false},
		{"internal/resource/pgstorer", true},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			if got := matches(tt.rel, adapterPackages); got != tt.want {
				t.Errorf("matches(%q) = %v, want %v", tt.rel, got, tt.want)
			}
		})
	}
	if slices.Contains(entryPoints, "internal/api") {
		t.Error("internal/api is listed as an entry point; it must stay adapter-free")
	}
}
