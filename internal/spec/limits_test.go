package spec

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/yamlnode"
	"github.com/tendhq/tend/internal/yamlnode/yamlnodetest"
)

// hostileKinds place an alias where each kind's decoder would follow it
// into Go values or walk it, %s standing for the alias.
var hostileKinds = []struct {
	name string
	kind Kind
	body string
}{
	{"slo", KindSLO, "spec_version: '1.0'\nfilter: {x: %s}\nobjectives: [{sli: x}]\ntotal_score: {pass: 90%%}\n"},
	{"sli", KindSLI, "spec_version: '1.0'\nindicators: {x: %s}\n"},
	{"remediation", KindRemediation, "apiVersion: spec.keptn.sh/0.1.4\nkind: Remediation\nspec:\n  remediations:\n    - problemType: p\n      actionsOnOpen:\n        - action: a\n          value: %s\n"},
	{"remediation-legacy", KindRemediation, "remediations:\n  - name: p\n    actions:\n      - action: a\n        value: %s\n"},
	{"shipyard-task-properties", KindShipyard, "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nspec:\n  stages:\n    - name: production\n      sequences:\n        - name: remediation\n          tasks:\n            - name: action\n              properties: {p: %s}\n"},
}

// TestBillionLaughsRefused feeds every kind the classic nested billion
// laughs and issue 12's wide one, through the kind's decoder and through
// Validate with the kind detected. Each must be refused with an error
// naming the limit; the time and memory it took are logged, not asserted.
func TestBillionLaughsRefused(t *testing.T) {
	nested, nestedAlias := yamlnodetest.Nested(9, 10)
	wide, wideAlias := yamlnodetest.Wide(10000, 4000)
	bombs := []struct{ name, anchors, alias string }{{"nested", nested, nestedAlias}, {"wide", wide, wideAlias}}
	for _, hk := range hostileKinds {
		for _, bomb := range bombs {
			t.Run(hk.name+"/"+bomb.name, func(t *testing.T) {
				data := []byte(bomb.anchors + fmt.Sprintf(hk.body, bomb.alias))
				filename := string(hk.kind) + ".yaml"
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				start := time.Now()
				_, diags := Validate(filename, data, hk.kind)
				took := time.Since(start)
				runtime.ReadMemStats(&after)
				requireLimitError(t, diags)
				t.Logf("%d bytes refused in %v, %d KB allocated", len(data), took, (after.TotalAlloc-before.TotalAlloc)>>10)

				kind, diags := Validate(filename, data, "")
				if kind != hk.kind {
					t.Errorf("detected kind %q, want %q", kind, hk.kind)
				}
				requireLimitError(t, diags)
			})
		}
	}
}

func TestInputOverMaxBytesRefused(t *testing.T) {
	data := []byte("spec_version: '1.0'\nindicators:\n  x: " + strings.Repeat("a", yamlnode.MaxBytes) + "\n")
	for _, kind := range []Kind{KindSLI, ""} {
		_, diags := Validate("sli.yaml", data, kind)
		requireLimitError(t, diags)
		if !strings.Contains(diags.Error(), fmt.Sprintf("over tend's limit of %d bytes", yamlnode.MaxBytes)) {
			t.Errorf("kind %q: the error does not name the size limit:\n%s", kind, diags.Error())
		}
	}
}

func requireLimitError(t *testing.T, diags Diagnostics) {
	t.Helper()
	if !diags.HasErrors() {
		t.Fatalf("hostile document accepted:\n%s", diagLines(diags))
	}
	for _, d := range diags {
		if d.Severity == SeverityError && strings.Contains(d.Message, "over tend's limit") {
			return
		}
	}
	t.Fatalf("no error names the limit:\n%s", diagLines(diags))
}

// BenchmarkRefuseWideLaughs decodes issue 12's remediation file; before
// yamlnode it took about 5 s and 1.2 GB per decode and was accepted.
func BenchmarkRefuseWideLaughs(b *testing.B) {
	wide, alias := yamlnodetest.Wide(10000, 4000)
	data := []byte(wide + fmt.Sprintf(hostileKinds[2].body, alias))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := DecodeRemediation("remediation.yaml", data); r != nil {
			b.Fatal("accepted")
		}
	}
}
