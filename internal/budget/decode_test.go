package budget_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/budget"
	"github.com/tendhq/tend/internal/yamlnode"
	"github.com/tendhq/tend/internal/yamlnode/yamlnodetest"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDecodeValid(t *testing.T) {
	for _, tc := range []struct {
		file    string
		format  budget.Format
		service string
		slo     budget.SLO
	}{
		{"testdata/sloth.yaml", budget.FormatSloth, "carts", budget.SLO{
			Name: "requests-availability", Objective: 99.9, AlertName: "CartsAvailability", Page: true, Ticket: true,
			ErrorQuery: `sum(rate(http_requests_total{job="carts-sockshop-production",status=~"5.."}[{{.window}}]))`,
			TotalQuery: `sum(rate(http_requests_total{job="carts-sockshop-production"}[{{.window}}]))`,
		}},
		{"testdata/kubernetes.yaml", budget.FormatKubernetes, "carts", budget.SLO{
			Name: "requests-availability", Objective: 99.5, AlertName: "CartsRequestsAvailabilityBudgetBurn", Page: true,
			ErrorRatioQuery: `sum(rate(http_requests_total{status=~"5.."}[{{ .window }}])) / sum(rate(http_requests_total[{{ .window }}]))`,
		}},
		{"testdata/openslo.yaml", budget.FormatOpenSLO, "carts", budget.SLO{
			Name: "carts-availability-0", Objective: 99.9, Period: 28 * 24 * 60 * 60 * 1e9, AlertName: "CartsCartsAvailability0BudgetBurn", Page: true, Ticket: true,
			GoodQuery:  `sum(rate(http_requests_total{status!~"5.."}[{{.window}}]))`,
			TotalQuery: `sum(rate(http_requests_total[{{.window}}]))`,
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data := readFile(t, tc.file)
			if got := budget.Detect(data); got != tc.format {
				t.Errorf("Detect = %q, want %q", got, tc.format)
			}
			f, diags := budget.Decode(tc.file, data)
			if f == nil || len(diags) > 0 {
				t.Fatalf("Decode: %v\n%s", f, diags.Error())
			}
			if len(f.Docs) != 1 || f.Docs[0].Format != tc.format || f.Docs[0].Service != tc.service || len(f.Docs[0].SLOs) != 1 {
				t.Fatalf("docs = %+v", f.Docs)
			}
			if got := f.Docs[0].SLOs[0]; got != tc.slo {
				t.Errorf("SLO =\n%+v\nwant\n%+v", got, tc.slo)
			}
			// The source Sloth reads is the document itself, with tend's
			// default alert name where it needs one.
			if name := tc.slo.AlertName; tc.format != budget.FormatOpenSLO && !bytes.Contains(f.Docs[0].Source, []byte("name: "+name)) {
				t.Errorf("source lacks the alert name %s:\n%s", name, f.Docs[0].Source)
			}
		})
	}
}

// TestDecodeSLOPluginIDs: the SLO plugins a document's chains name, its
// own and its SLOs', in both of Sloth's spellings, are listed for the
// generator to find them.
func TestDecodeSLOPluginIDs(t *testing.T) {
	for _, tc := range []struct{ name, doc string }{
		{"sloth", `version: prometheus/v1
service: carts
slo_plugins:
  chain: [{id: acme/doc}]
slos:
  - name: availability
    objective: 99.9
    plugins:
      chain: [{id: sloth.dev/contrib/info_labels/v1, config: {labels: {a: b}}}, {id: acme/slo, priority: 10}]
    sli: {plugin: {id: acme_sli}}
    alerting: {name: Carts}
`},
		{"kubernetes", `apiVersion: sloth.slok.dev/v1
kind: PrometheusServiceLevel
metadata: {name: carts}
spec:
  service: carts
  sloPlugins:
    chain: [{id: acme/doc}]
  slos:
    - name: availability
      objective: 99.9
      plugins:
        chain: [{id: sloth.dev/contrib/info_labels/v1}, {id: acme/slo}]
      sli: {plugin: {id: acme_sli}}
      alerting: {name: Carts}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, diags := budget.Decode("slo/x.yaml", []byte(tc.doc))
			if f == nil || diags.HasErrors() {
				t.Fatalf("Decode:\n%s", diags.Error())
			}
			if got, want := strings.Join(f.Docs[0].SLOPluginIDs, " "), "acme/doc sloth.dev/contrib/info_labels/v1 acme/slo"; got != want {
				t.Errorf("SLOPluginIDs = %q, want %q", got, want)
			}
			if got := f.Docs[0].SLOs[0].PluginID; got != "acme_sli" {
				t.Errorf("PluginID = %q, want acme_sli", got)
			}
		})
	}
}

// TestDecodeInvalid: every problem of a file, each at its line and column.
func TestDecodeInvalid(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"empty", "", []string{"x.yaml: empty file"}},
		{"not yaml", "version: [", []string{"x.yaml:1:1: not valid YAML"}},
		{"unknown format", "version: v9\nslos: []\n", []string{"x.yaml:1:1: not a budget SLO document"}},
		{"sloth problems", `version: prometheus/v1
service: "-carts"
slos:
  - name: a
    objective: 120
    sli:
      events:
        error_query: sum(rate(errors_total[5m]))
        total_query: sum(rate(errors_total[5m]))
    alerting:
      nmae: X
  - name: a
    objective: "high"
    sli: {}
`, []string{
			`x.yaml:2:10: the document.service "-carts": a name starts and ends with a letter or digit`,
			`x.yaml:4:11: slos[0].name "a": a name starts and ends`,
			`x.yaml:5:16: slos[0].objective must be a percentage above 0 and at most 100`,
			`x.yaml:8:22: slos[0].sli.events.error_query must use the {{.window}} placeholder`,
			`x.yaml:9:22: slos[0].sli.events.total_query must use the {{.window}} placeholder`,
			`x.yaml:9:22: slos[0].sli.events: error_query and total_query are the same query`,
			`x.yaml:11:7: warning: unknown key "nmae" in slos[0].alerting, ignored; did you mean "name"?`,
			`x.yaml:12:11: slos[1].name "a": a name starts and ends`,
			`x.yaml:12:11: slos[1]: SLO name "a" is used twice (first at line 4)`,
			`x.yaml:13:16: slos[1].objective must be a number, not the string "high"`,
			`x.yaml:14:10: slos[1].sli has no indicator: give events, raw or plugin`,
		}},
		{"kubernetes kind", "apiVersion: sloth.slok.dev/v1\nkind: ServiceLevel\nspec: {service: carts, slos: []}\n", []string{
			`x.yaml:2:7: kind must be PrometheusServiceLevel`,
			`x.yaml:3:30: slos is empty`,
		}},
		{"openslo problems", `apiVersion: openslo/v1alpha
kind: SLO
metadata: {name: av}
spec:
  service: carts
  timeWindows: [{count: 7, unit: Week}]
  objectives:
    - target: 99.9
      ratioMetrics:
        good: {source: datadog, queryType: promql, query: "sum(rate(ok[{{.window}}]))"}
`, []string{
			`x.yaml:6:25: spec.timeWindows[0].count 7: Sloth's burn-rate windows exist for 28 and 30 days`,
			`x.yaml:6:34: spec.timeWindows[0].unit "Week": Sloth supports Day only`,
			`x.yaml:8:15: spec.objectives[0].target must be a ratio above 0 and below 1`,
			`x.yaml:10:9: spec.objectives[0].ratioMetrics: total is missing`,
			`x.yaml:10:24: spec.objectives[0].ratioMetrics.good.source "datadog"`,
		}},
		{"billion laughs", func() string {
			doc, alias := yamlnodetest.Nested(6, 10)
			return doc + "version: prometheus/v1\nservice: carts\nslos: " + alias + "\n"
		}(), []string{"over tend's limit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, diags := budget.Decode("x.yaml", []byte(tc.doc))
			if f != nil {
				t.Errorf("decoded %+v despite errors", f)
			}
			lines := strings.Split(diags.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("got %d diagnostics, want %d:\n%s", len(lines), len(tc.want), diags.Error())
			}
			for i, w := range tc.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("diagnostic %d:\n got %s\nwant %s", i, lines[i], w)
				}
			}
		})
	}
}

func TestDefaultAlertName(t *testing.T) {
	for _, tc := range []struct{ service, slo, want string }{
		{"carts", "requests-availability", "CartsRequestsAvailabilityBudgetBurn"},
		{"k8s-apiserver", "latency.p99", "K8sApiserverLatencyP99BudgetBurn"},
		{"9lives", "x", "SLO9livesXBudgetBurn"},
	} {
		if got := budget.DefaultAlertName(tc.service, tc.slo); got != tc.want {
			t.Errorf("DefaultAlertName(%q, %q) = %q, want %q", tc.service, tc.slo, got, tc.want)
		}
	}
}

// FuzzDecode: any input decodes to a file exactly when there is no error,
// every diagnostic names the file, and a document past yamlnode's node
// limit is refused.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		f.Add(readFile(f, file))
	}
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("version: prometheus/v1\nservice: s\nslos: [{name: ab, objective: 1, sli: {raw: {error_ratio_query: '{{.window}}'}}, alerting: ~}]\n---\napiVersion: openslo/v1alpha\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, diags := budget.Decode("fuzz.yaml", data)
		if (file == nil) != diags.HasErrors() {
			t.Fatalf("nil file = %v but HasErrors = %v:\n%s", file == nil, diags.HasErrors(), diags.Error())
		}
		for _, d := range diags {
			if d.File != "fuzz.yaml" || d.Message == "" || d.Line < 0 {
				t.Fatalf("malformed diagnostic %+v", d)
			}
		}
		var doc yaml.Node
		if yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc) == nil && yamlnode.Size(&doc, yamlnode.MaxNodes) > yamlnode.MaxNodes && file != nil {
			t.Fatal("a document over the node limit was decoded")
		}
		if file != nil {
			for _, d := range file.Docs {
				if len(d.Source) == 0 || budget.Detect(d.Source) != d.Format {
					t.Fatalf("document source %q is not of format %s", d.Source, d.Format)
				}
			}
		}
	})
}
