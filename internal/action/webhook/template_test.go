package webhook

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/action"
)

// testRequest is a webhook request for the tutorial's problem.
func testRequest(value any) action.Request {
	return action.Request{
		Key:         "rem-1/2",
		Project:     "sockshop",
		Stage:       "production",
		Service:     "carts",
		Action:      ActionWebhook,
		Name:        "Restart carts",
		Description: "Ask the platform to restart carts",
		Value:       value,
		Problem: action.Problem{
			ID:     "p-42",
			Title:  "Response time degradation",
			State:  "OPEN",
			URL:    "https://monitoring.example/problems/42",
			Labels: map[string]string{"severity": "critical"},
		},
	}
}

func TestRenderBody(t *testing.T) {
	tricky := testRequest(nil)
	tricky.Problem.Title = "p90 \"slow\"\nline two\t<b>&\\ \u2028 end"
	tests := []struct {
		name    string
		src     string
		req     action.Request
		want    string
		wantErr string
	}{
		{
			name: "problem, project and action fields",
			src:  "{{ .Problem.Title }} ({{ .Problem.ID }}) in {{ .Project }}/{{ .Stage }}/{{ .Service }} by {{ .Action.Name }} [{{ .Action.Type }}] key {{ .Key }} sev {{ .Problem.Labels.severity }}",
			req:  testRequest(nil),
			want: "Response time degradation (p-42) in sockshop/production/carts by Restart carts [webhook] key rem-1/2 sev critical",
		},
		{name: "missing label reads empty", src: "[{{ .Problem.Labels.nope }}]", req: testRequest(nil), want: "[]"},
		{name: "missing labels map reads empty", src: "[{{ .Problem.Labels.nope }}]", req: action.Request{}, want: "[]"},
		{
			name: "json escapes quotes, newlines and keeps HTML characters readable",
			src:  `{"title": {{ json .Problem.Title }}}`,
			req:  tricky,
			want: `{"title": "p90 \"slow\"\nline two\t<b>&\\ \u2028 end"}`,
		},
		{name: "json of a map", src: `{{ json .Problem.Labels }}`, req: testRequest(nil), want: `{"severity":"critical"}`},
		{name: "empty body", src: "", req: testRequest(nil), want: ""},
		{name: "syntax error names the field", src: "{{ .Problem.Title ", req: testRequest(nil), wantErr: "body: template: body:1: unclosed action"},
		{name: "unknown field names the field", src: "{{ .Problem.Nope }}", req: testRequest(nil), wantErr: "body: template: body:1:11: executing \"body\" at <.Problem.Nope>: can't evaluate field Nope"},
		{name: "unknown function", src: "{{ shout .Project }}", req: testRequest(nil), wantErr: `function "shout" not defined`},
		{name: "secrets are refused in the body", src: "{{ .Secrets.token }}", req: testRequest(nil), wantErr: `body: references secret "token"; secrets may be used only in headers`},
		{name: "too large", src: `{{ range 300 }}` + strings.Repeat("y", 1000) + `{{ end }}`, req: testRequest(nil), wantErr: "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RenderBody(tt.src, tt.req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("RenderBody(%q) error = %v, want one containing %q", tt.src, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("RenderBody(%q): %v", tt.src, err)
			}
			if got != tt.want {
				t.Errorf("RenderBody(%q) =\n%s\nwant\n%s", tt.src, got, tt.want)
			}
		})
	}
}

func TestDefaultBodyIsJSON(t *testing.T) {
	req := testRequest(nil)
	req.Problem.Title = "a \"quoted\"\ntitle"
	got, err := RenderBody(DefaultBody, req)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Key     string `json:"key"`
		Project string `json:"project"`
		Action  struct {
			Name   string `json:"name"`
			Action string `json:"action"`
		} `json:"action"`
		Problem action.Problem `json:"problem"`
	}
	if err := json.Unmarshal([]byte(got), &doc); err != nil {
		t.Fatalf("default body %s is not JSON: %v", got, err)
	}
	if doc.Key != "rem-1/2" || doc.Project != "sockshop" || doc.Action.Name != "Restart carts" || doc.Action.Action != "webhook" || !reflect.DeepEqual(doc.Problem, req.Problem) {
		t.Errorf("default body = %s, which lost some of the request", got)
	}
}

func TestSecretRefs(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    []string
		wantErr bool
	}{
		{name: "none", src: "Bearer abc"},
		{name: "field", src: "Bearer {{ .Secrets.token }}", want: []string{"token"}},
		{name: "root variable", src: "{{ with .Problem }}{{ $.Secrets.b }}{{ end }}", want: []string{"b"}},
		{name: "index with a dash", src: `{{ index .Secrets "my-token" }}`, want: []string{"my-token"}},
		{name: "in a pipeline, if and else", src: `{{ if .Stage }}{{ .Secrets.a | printf "%s" }}{{ else }}{{ .Secrets.c }}{{ end }}`, want: []string{"a", "c"}},
		{name: "in a defined template", src: `{{ define "x" }}{{ .Secrets.d }}{{ end }}{{ template "x" . }}`, want: []string{"d"}},
		{name: "repeated", src: "{{ .Secrets.a }}{{ .Secrets.a }}", want: []string{"a"}},
		{name: "whole map", src: "{{ .Secrets }}", wantErr: true},
		{name: "ranged", src: "{{ range .Secrets }}{{ . }}{{ end }}", wantErr: true},
		{name: "dynamic index", src: "{{ index .Secrets .Stage }}", wantErr: true},
		{name: "through a variable", src: "{{ $s := .Secrets }}{{ $s.a }}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := compile("headers.X", tt.src)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("compile(%q) found secrets %v, want an error", tt.src, c.secrets)
				}
				if !strings.Contains(err.Error(), "headers.X: secrets must be named") {
					t.Errorf("compile(%q) error = %v, want one naming the field and the syntax", tt.src, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("compile(%q): %v", tt.src, err)
			}
			if !reflect.DeepEqual(c.secrets, tt.want) {
				t.Errorf("compile(%q) secrets = %v, want %v", tt.src, c.secrets, tt.want)
			}
		})
	}
}

// FuzzRenderBody renders a JSON template over random problem strings: it
// never panics, and the body is always valid JSON holding the strings
// (valid UTF-8 ones unchanged).
func FuzzRenderBody(f *testing.F) {
	f.Add("Response time degradation", "p-1", "severity", "critical", "carts")
	f.Add("a \"b\"\n\\c</script>", "\x00\xff", "", "\u2028", "{{ .X }}")
	f.Fuzz(func(t *testing.T, title, id, labelKey, labelValue, service string) {
		req := testRequest(nil)
		req.Problem.Title, req.Problem.ID, req.Service = title, id, service
		req.Problem.Labels = map[string]string{labelKey: labelValue}
		src := `{"title": {{ json .Problem.Title }}, "id": {{ json .Problem.ID }}, "service": {{ json .Service }}, "labels": {{ json .Problem.Labels }}, "problem": {{ json .Problem }}}`
		got, err := RenderBody(src, req)
		if err != nil {
			t.Fatalf("RenderBody: %v", err)
		}
		var doc struct {
			Title   string            `json:"title"`
			Service string            `json:"service"`
			Labels  map[string]string `json:"labels"`
		}
		if err := json.Unmarshal([]byte(got), &doc); err != nil {
			t.Fatalf("body %q is not JSON: %v", got, err)
		}
		if strings.ToValidUTF8(title, "\uFFFD") == title && doc.Title != title {
			t.Fatalf("title %q came back as %q", title, doc.Title)
		}
		if _, err := RenderBody(DefaultBody, req); err != nil {
			t.Fatalf("default body: %v", err)
		}
		// The strings as templates themselves: an error or a body, never
		// a panic.
		_, _ = RenderBody(title, req)
	})
}
