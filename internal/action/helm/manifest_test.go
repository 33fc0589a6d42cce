package helm

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const cartsDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: carts
  labels:
    app: carts
spec:
  replicas: 3
  selector:
    matchLabels:
      app: carts
  template:
    metadata:
      labels:
        app: carts
        app.kubernetes.io/version: 0.11.1
    spec:
      containers:
      - name: carts
        image: docker.io/keptnexamples/carts:0.11.1
`

const cartsService = `apiVersion: v1
kind: Service
metadata:
  name: carts
spec:
  type: NodePort
  clusterIP: 10.0.0.12
  ports:
  - name: http
    port: 80
    targetPort: 8080
    nodePort: 30080
  selector:
    app: carts
`

// summary describes objects in one line each, in order: kind, name and
// the fields blue/green changes.
func summary(t testing.TB, objs []object) []string {
	t.Helper()
	var out []string
	for _, o := range objs {
		switch o.Kind {
		case "Deployment":
			sel, _ := stringMap(lookup(o.doc, "spec", "selector", "matchLabels"))
			labels, _ := stringMap(lookup(o.doc, "spec", "template", "metadata", "labels"))
			out = append(out, fmt.Sprintf("Deployment %s %s selector %s labels %s replicas %s image %s", o.Name, o.APIVersion, labelString(sel), labelString(labels), scalar(o.doc, "spec", "replicas"), image([]object{o}, o.Name)))
		case "Service":
			sel, _ := stringMap(lookup(o.doc, "spec", "selector"))
			out = append(out, fmt.Sprintf("Service %s selector %s clusterIP %q nodePort %q", o.Name, labelString(sel), scalar(o.doc, "spec", "clusterIP"), scalar(lookup(o.doc, "spec", "ports").Content[0], "nodePort")))
		default:
			out = append(out, o.Kind+" "+o.Name)
		}
	}
	return out
}

func mustParse(t testing.TB, docs ...string) []object {
	t.Helper()
	objs, err := parseManifests([]byte(strings.Join(docs, "---\n")))
	if err != nil {
		t.Fatalf("parseManifests: %v", err)
	}
	return objs
}

func TestPrimaryObjects(t *testing.T) {
	tests := []struct {
		name string
		docs []string
		want []string
	}{
		{
			name: "carts",
			docs: []string{cartsDeployment, cartsService, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: carts-config\n"},
			want: []string{
				"Deployment carts-primary apps/v1 selector app=carts-primary labels app=carts-primary,app.kubernetes.io/version=0.11.1 replicas 3 image docker.io/keptnexamples/carts:0.11.1",
				`Service carts-primary selector app=carts-primary clusterIP "" nodePort ""`,
				`Service carts-canary selector app=carts clusterIP "" nodePort ""`,
			},
		},
		{
			name: "two selector labels, the service selects by one",
			docs: []string{
				strings.Replace(cartsDeployment, "      app: carts\n  template", "      app: carts\n      tier: api\n  template", 1),
				cartsService,
			},
			want: []string{
				"Deployment carts-primary apps/v1 selector app=carts-primary,tier=api-primary labels app=carts-primary,app.kubernetes.io/version=0.11.1,tier=api-primary replicas 3 image docker.io/keptnexamples/carts:0.11.1",
				`Service carts-primary selector app=carts-primary clusterIP "" nodePort ""`,
				`Service carts-canary selector app=carts clusterIP "" nodePort ""`,
			},
		},
		{
			name: "the service also selects a label outside the selector",
			docs: []string{cartsDeployment, strings.Replace(cartsService, "    app: carts\n", "    app: carts\n    app.kubernetes.io/version: 0.11.1\n", 1)},
			want: []string{
				"Deployment carts-primary apps/v1 selector app=carts-primary labels app=carts-primary,app.kubernetes.io/version=0.11.1 replicas 3 image docker.io/keptnexamples/carts:0.11.1",
				`Service carts-primary selector app=carts-primary,app.kubernetes.io/version=0.11.1 clusterIP "" nodePort ""`,
				`Service carts-canary selector app=carts,app.kubernetes.io/version=0.11.1 clusterIP "" nodePort ""`,
			},
		},
		{
			name: "a service in front of something else is left alone",
			docs: []string{cartsDeployment, strings.ReplaceAll(cartsService, "carts", "carts-db")},
			want: []string{
				"Deployment carts-primary apps/v1 selector app=carts-primary labels app=carts-primary,app.kubernetes.io/version=0.11.1 replicas 3 image docker.io/keptnexamples/carts:0.11.1",
			},
		},
		{
			name: "an extensions/v1beta1 deployment without a selector",
			docs: []string{strings.Replace(strings.Replace(cartsDeployment, "apps/v1", "extensions/v1beta1", 1), "  selector:\n    matchLabels:\n      app: carts\n", "", 1)},
			want: []string{
				"Deployment carts-primary apps/v1 selector app=carts-primary,app.kubernetes.io/version=0.11.1-primary labels app=carts-primary,app.kubernetes.io/version=0.11.1-primary replicas 3 image docker.io/keptnexamples/carts:0.11.1",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := mustParse(t, tc.docs...)
			upgradeAPIs(objs)
			bg, err := analyze(objs)
			if err != nil {
				t.Fatalf("analyze: %v", err)
			}
			prim := primaryObjects(bg)
			// Through YAML and back, as the generated chart holds them.
			data, err := encodeManifests(prim)
			if err != nil {
				t.Fatal(err)
			}
			got := summary(t, mustParse(t, string(data)))
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("primary objects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			// The chart's own objects are unchanged.
			if s := summary(t, objs[:1])[0]; !strings.Contains(s, "Deployment carts apps/v1 selector app=carts") && !strings.Contains(s, "selector app=carts,app.kubernetes.io") {
				t.Errorf("the chart's deployment changed: %s", s)
			}
		})
	}
}

func TestAnalyzeRefuses(t *testing.T) {
	long := strings.Repeat("x", 60)
	tests := []struct {
		name string
		docs []string
		want string
	}{
		{"no deployment", []string{cartsService}, "renders no Deployment"},
		{"match expressions", []string{strings.Replace(cartsDeployment, "    matchLabels:\n      app: carts\n", "    matchExpressions:\n    - {key: app, operator: In, values: [carts]}\n", 1)}, "matchExpressions"},
		{"no selector", []string{strings.Replace(cartsDeployment, "  selector:\n    matchLabels:\n      app: carts\n", "", 1)}, "has no spec.selector.matchLabels"},
		{"label too long", []string{strings.ReplaceAll(cartsDeployment, "app: carts", "app: "+long)}, "too long for its primary value"},
		{"service by a label outside the selector", []string{cartsDeployment, strings.Replace(cartsService, "    app: carts\n", "    app.kubernetes.io/version: 0.11.1\n", 1)}, "select it by one of app=carts"},
		{"every problem", []string{
			strings.Replace(cartsDeployment, "    matchLabels:\n      app: carts\n", "    matchExpressions: []\n", 1),
			strings.ReplaceAll(strings.ReplaceAll(cartsDeployment, "app: carts", "app: "+long), "name: carts", "name: other"),
		}, "matchLabels only; deployment other: selector label"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := analyze(mustParse(t, tc.docs...))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("analyze = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestParseManifestsErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"a list", "- a\n- b\n", "document 1 (line 1) is a list, not a Kubernetes object"},
		{"no kind", "apiVersion: v1\nmetadata:\n  name: x\n", "has no kind or metadata.name"},
		{"syntax", "kind: Service\nmetadata: {name: x\n", "document 1"},
		{"second document", "kind: Service\nmetadata: {name: x}\n---\n42\n", "document 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseManifests([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseManifests = %v, want an error saying %q", err, tc.want)
			}
		})
	}
	objs, err := parseManifests([]byte("---\n# only a comment\n---\n\n---\nkind: Service\nmetadata: {name: x}\n"))
	if err != nil || len(objs) != 1 {
		t.Errorf("empty documents: %d objects, %v; want the one Service", len(objs), err)
	}
}

// TestPostRender runs the post-renderer over what Helm hands it: one
// stream with the file of each document in an annotation, which must
// come back.
func TestPostRender(t *testing.T) {
	annotate := func(doc, file string) string {
		return strings.Replace(doc, "metadata:\n", "metadata:\n  annotations:\n    postrenderer.helm.sh/postrender-filename: "+file+"\n", 1)
	}
	in := annotate(strings.Replace(cartsDeployment, "apps/v1", "extensions/v1beta1", 1), "carts/templates/deployment.yaml") + "---\n" + annotate(cartsService, "carts/templates/service.yaml")
	for _, blueGreen := range []bool{false, true} {
		t.Run(fmt.Sprint("blue/green ", blueGreen), func(t *testing.T) {
			pr := &postRender{blueGreen: blueGreen}
			out, err := pr.Run(bytes.NewBufferString(in))
			if err != nil {
				t.Fatal(err)
			}
			objs := mustParse(t, out.String())
			wantSelector := "app=carts"
			if blueGreen {
				wantSelector = "app=carts-primary"
				if len(pr.routes) != 1 || pr.routes[0].service != "carts" || labelString(pr.routes[0].canary) != "app=carts" || labelString(pr.routes[0].primary) != "app=carts-primary" {
					t.Errorf("routes = %+v", pr.routes)
				}
			}
			got := summary(t, objs)
			want := []string{
				"Deployment carts apps/v1 selector app=carts labels app=carts,app.kubernetes.io/version=0.11.1 replicas 3 image docker.io/keptnexamples/carts:0.11.1",
				`Service carts selector ` + wantSelector + ` clusterIP "10.0.0.12" nodePort "30080"`,
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("post-rendered:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for _, o := range objs {
				if scalar(o.doc, "metadata", "annotations", "postrenderer.helm.sh/postrender-filename") == "" {
					t.Errorf("%s %s lost its file annotation", o.Kind, o.Name)
				}
			}
			if len(pr.converted) != 1 || pr.converted[0] != "carts" {
				t.Errorf("converted = %v, want [carts]", pr.converted)
			}
		})
	}
}

func TestRoutesOf(t *testing.T) {
	objs := mustParse(t, cartsDeployment, cartsService)
	bg, err := analyze(objs)
	if err != nil {
		t.Fatal(err)
	}
	routes := routesOf(primaryObjects(bg))
	if len(routes) != 1 || routes[0].service != "carts" || labelString(routes[0].canary) != "app=carts" || labelString(routes[0].primary) != "app=carts-primary" {
		t.Errorf("routes = %+v", routes)
	}
	if uris := serviceURIs(objs, "sockshop-dev"); len(uris) != 1 || uris[0] != "http://carts.sockshop-dev:80" || canaryURI(uris[0]) != "http://carts-canary.sockshop-dev:80" {
		t.Errorf("URIs = %v", uris)
	}
}

func TestGeneratedChartIsVerbatim(t *testing.T) {
	// Text a template would read ({{ }}) in a rendered manifest stays text.
	doc := strings.Replace(cartsDeployment, "        image:", "        args: [\"{{ .Values.nothing }}\"]\n        image:", 1)
	bg, err := analyze(mustParse(t, doc))
	if err != nil {
		t.Fatal(err)
	}
	data, err := encodeManifests(primaryObjects(bg))
	if err != nil {
		t.Fatal(err)
	}
	ch := generatedChart(nil, "carts", data)
	if len(ch.Templates) != 1 || strings.Contains(string(ch.Templates[0].Data), "nothing") || !bytes.Contains(ch.Files[0].Data, []byte("{{ .Values.nothing }}")) {
		t.Errorf("generated chart: template %q, file %q", ch.Templates[0].Data, ch.Files[0].Data)
	}
	if err := ch.Validate(); err != nil {
		t.Errorf("generated chart is invalid: %v", err)
	}
}

// FuzzPrimary feeds rendered manifests (user charts' output) through the
// parser and the blue/green derivation: nothing panics, and what is
// derived is the primary.
func FuzzPrimary(f *testing.F) {
	f.Add(cartsDeployment + "---\n" + cartsService)
	f.Add("kind: Deployment\nmetadata: {name: a}\nspec: {selector: {matchLabels: {x: &a y}}, template: {metadata: {labels: {x: *a}}}}\n")
	f.Add("kind: Service\nmetadata:\n  name: s\nspec:\n  selector: [1]\n")
	f.Add("apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {metadata: {labels: {app: d}}}}\n")
	f.Add("a: &a [*a]\n")
	f.Fuzz(func(t *testing.T, in string) {
		objs, err := parseManifests([]byte(in))
		if err != nil {
			return
		}
		upgradeAPIs(objs)
		if _, err := encodeManifests(objs); err != nil {
			return
		}
		bg, err := analyze(objs)
		if err != nil {
			return
		}
		data, err := encodeManifests(primaryObjects(bg))
		if err != nil {
			t.Fatalf("encode primary: %v", err)
		}
		prim, err := parseManifests(data)
		if err != nil {
			t.Fatalf("primary does not parse again: %v\n%s", err, data)
		}
		for _, o := range prim {
			if o.Kind == "Deployment" {
				sel, ok := stringMap(lookup(o.doc, "spec", "selector", "matchLabels"))
				if !ok || len(sel) == 0 || !strings.HasSuffix(o.Name, "-primary") {
					t.Fatalf("primary deployment %s has selector %v", o.Name, sel)
				}
				for _, v := range sel {
					if !strings.HasSuffix(v, primarySuffix) {
						t.Fatalf("primary deployment %s selects %v", o.Name, sel)
					}
				}
			}
		}
		var n yaml.Node
		_ = yaml.Unmarshal(data, &n)
	})
}
