package spec

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/tendhq/tend/internal/slo"
)

func readExample(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// shipyardWithStage returns a valid shipyard whose only stage is named
// stage, so tests get as many distinct versions as they need.
func shipyardWithStage(stage string) []byte {
	return fmt.Appendf(nil, "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata: {name: p}\nspec:\n  stages:\n    - name: %s\n", stage)
}

func TestCacheHitAndMiss(t *testing.T) {
	c := NewCache(8)
	data := readExample(t, "shipyard.yaml")
	first, diags := c.Shipyard("shipyard.yaml", data)
	if first == nil {
		t.Fatalf("example shipyard invalid:\n%s", diagLines(diags))
	}
	again, _ := c.Shipyard("shipyard.yaml", append([]byte(nil), data...))
	if again != first {
		t.Error("the same content decoded twice: want the cached shipyard")
	}
	other, _ := c.Shipyard("shipyard.yaml", shipyardWithStage("dev"))
	if other == first || other.Stages[0].Name != "dev" {
		t.Errorf("other content answered from the cache: %+v", other)
	}
	renamed, _ := c.Shipyard("other.yaml", data)
	if renamed == first {
		t.Error("a different file name shares an entry; its diagnostics would name the wrong file")
	}
	if c.Len() != 3 {
		t.Errorf("Len = %d, want 3", c.Len())
	}
	// Kinds do not share entries even for the same bytes and name.
	s, _ := c.SLO("shipyard.yaml", data)
	if want, _ := DecodeSLO("shipyard.yaml", data); !reflect.DeepEqual(s, want) {
		t.Errorf("the SLO reading of the shipyard's bytes = %+v, want %+v", s, want)
	}
	if c.Len() != 4 {
		t.Errorf("Len = %d, want 4: the SLO reading is an entry of its own", c.Len())
	}
	if sy, s := c.Decoded(KindShipyard), c.Decoded(KindSLO); sy != 3 || s != 1 {
		t.Errorf("Decoded = %d shipyards, %d SLO files; want 3 and 1 (one per miss)", sy, s)
	}
}

func TestCacheKeepsDiagnosticsOfInvalidFiles(t *testing.T) {
	c := NewCache(8)
	bad := []byte("apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nspec: {stages: []}\n")
	sy, diags := c.Shipyard("shipyard.yaml", bad)
	want, wantDiags := DecodeShipyard("shipyard.yaml", bad)
	if sy != nil || want != nil || !reflect.DeepEqual(diags, wantDiags) {
		t.Fatalf("cached = %v, %v; DecodeShipyard = %v, %v", sy, diags, want, wantDiags)
	}
	_, again := c.Shipyard("shipyard.yaml", bad)
	if !reflect.DeepEqual(again, wantDiags) {
		t.Errorf("cached diagnostics %v, want %v", again, wantDiags)
	}
	// Appending to the answer must not write into the cached array.
	_ = append(again, Diagnostic{Message: "caller's own"})
	if _, third := c.Shipyard("shipyard.yaml", bad); !reflect.DeepEqual(third, wantDiags) {
		t.Errorf("a caller's append changed the cache: %v", third)
	}
}

func TestCacheBound(t *testing.T) {
	c := NewCache(2)
	a, _ := c.Shipyard("shipyard.yaml", shipyardWithStage("a"))
	c.Shipyard("shipyard.yaml", shipyardWithStage("b"))
	if again, _ := c.Shipyard("shipyard.yaml", shipyardWithStage("a")); again != a {
		t.Fatal("a was dropped before the cache was full")
	}
	c.Shipyard("shipyard.yaml", shipyardWithStage("c")) // drops b, the least recently used
	if c.Len() != 2 {
		t.Errorf("Len = %d, want the bound 2", c.Len())
	}
	if again, _ := c.Shipyard("shipyard.yaml", shipyardWithStage("a")); again != a {
		t.Error("a, used more recently than b, was dropped")
	}
	if NewCache(0).size != 1 {
		t.Error("NewCache(0) holds nothing; want at least one entry")
	}
}

func TestNilCacheDecodes(t *testing.T) {
	var c *Cache
	if sy, diags := c.Shipyard("shipyard.yaml", shipyardWithStage("a")); sy == nil {
		t.Fatalf("nil cache: %s", diagLines(diags))
	}
	if s, diags := c.SLO("slo.yaml", readExample(t, "slo.yaml")); s == nil {
		t.Fatalf("nil cache: %s", diagLines(diags))
	}
	if c.Len() != 0 || c.Decoded(KindShipyard) != 0 {
		t.Error("nil cache has entries")
	}
}

// TestCacheConcurrentUse runs readers of a few versions at once, more
// versions than the cache holds, so hits, misses and evictions race (run
// with -race).
func TestCacheConcurrentUse(t *testing.T) {
	c := NewCache(3)
	versions := make([][]byte, 5)
	for i := range versions {
		versions[i] = shipyardWithStage(fmt.Sprintf("stage-%d", i))
	}
	sloData := readExample(t, "slo.yaml")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				v := (g + i) % len(versions)
				sy, diags := c.Shipyard("shipyard.yaml", versions[v])
				if sy == nil || sy.Stages[0].Name != fmt.Sprintf("stage-%d", v) {
					t.Errorf("version %d: %+v %s", v, sy, diagLines(diags))
					return
				}
				if s, _ := c.SLO("slo.yaml", sloData); s == nil || len(s.Objectives) == 0 {
					t.Error("SLO lost")
					return
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > 3 {
		t.Errorf("Len = %d, over the bound 3", n)
	}
}

// TestSLOTravelsAsJSON shows that a decoded SLO can be kept in an
// evaluation's stored state and read back equal, so the steps after the
// first need not decode slo.yaml again.
func TestSLOTravelsAsJSON(t *testing.T) {
	s, diags := DecodeSLO("slo.yaml", readExample(t, "slo.yaml"))
	if s == nil {
		t.Fatal(diagLines(diags))
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var got slo.SLO
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, s) {
		t.Errorf("round trip changed the SLO:\n%+v\nwant\n%+v", got, *s)
	}
}

func TestDiagnosticsErrors(t *testing.T) {
	ds := Diagnostics{
		{File: "f", Severity: SeverityWarning, Message: "w"},
		{File: "f", Line: 2, Severity: SeverityError, Message: "e"},
	}
	errs := ds.Errors()
	if len(errs) != 1 || errs[0].Message != "e" || errs.Error() != "f:2:1: e" {
		t.Errorf("Errors = %v", errs)
	}
	if Diagnostics(nil).Errors() != nil {
		t.Error("no diagnostics have errors")
	}
}

func BenchmarkCachedShipyard(b *testing.B) {
	data := readExample(b, "shipyard.yaml")
	c := NewCache(16)
	b.ReportAllocs()
	for b.Loop() {
		if sy, _ := c.Shipyard("shipyard.yaml", data); sy == nil {
			b.Fatal("invalid")
		}
	}
}
