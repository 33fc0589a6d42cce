package webhook

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseValue(t *testing.T) {
	tests := []struct {
		name    string
		value   any
		want    Config
		wantErr string
	}{
		{
			name:  "plain string is the URL, POST with the default body",
			value: "https://hooks.example/x",
			want:  Config{URL: "https://hooks.example/x", Method: "POST", Body: DefaultBody},
		},
		{
			name: "full map",
			value: map[string]any{
				"url": "http://127.0.0.1:9/hook?a=1", "method": "put",
				"headers": map[string]any{"Authorization": "Bearer {{ .Secrets.t }}", "X-Count": 3},
				"body":    "hello", "timeout": "2s",
			},
			want: Config{URL: "http://127.0.0.1:9/hook?a=1", Method: "PUT", Headers: map[string]string{"Authorization": "Bearer {{ .Secrets.t }}", "X-Count": "3"}, Body: "hello", Timeout: 2 * time.Second},
		},
		{name: "map with any keys", value: map[any]any{"url": "https://h/x"}, want: Config{URL: "https://h/x", Method: "POST", Body: DefaultBody}},
		{name: "map of strings", value: map[string]string{"url": "https://h/x", "method": "GET"}, want: Config{URL: "https://h/x", Method: "GET"}},
		{name: "explicit empty body", value: map[string]any{"url": "https://h/x", "body": ""}, want: Config{URL: "https://h/x", Method: "POST"}},
		{name: "timeout in seconds", value: map[string]any{"url": "https://h/x", "method": "DELETE", "timeout": 30}, want: Config{URL: "https://h/x", Method: "DELETE", Timeout: 30 * time.Second}},

		{name: "nil value", value: nil, wantErr: "the value is empty"},
		{name: "list value", value: []any{"x"}, wantErr: "the value is a []interface {}"},
		{name: "no url", value: map[string]any{"method": "POST"}, wantErr: "url is missing"},
		{name: "url not a string", value: map[string]any{"url": 3}, wantErr: "url is a int"},
		{name: "ftp url", value: "ftp://h/x", wantErr: `scheme "ftp" is not http or https`},
		{name: "relative url", value: "/hook", wantErr: `scheme "" is not http or https`},
		{name: "no host", value: "https:///x", wantErr: "has no host"},
		{name: "credentials in url", value: "https://user:pw@h/x?token=q", wantErr: "carries credentials"},
		{name: "unknown key", value: map[string]any{"url": "https://h/x", "bdy": "x"}, wantErr: `unknown key(s) "bdy"`},
		{name: "unknown method", value: map[string]any{"url": "https://h/x", "method": "TRACE"}, wantErr: `method "TRACE" is not one of`},
		{name: "body with GET", value: map[string]any{"url": "https://h/x", "method": "GET", "body": "x"}, wantErr: "method GET sends none"},
		{name: "body not a string", value: map[string]any{"url": "https://h/x", "body": map[string]any{"a": 1}}, wantErr: "body is a map"},
		{name: "bad header name", value: map[string]any{"url": "https://h/x", "headers": map[string]any{"X Bad": "1"}}, wantErr: "not a valid HTTP header name"},
		{name: "reserved header", value: map[string]any{"url": "https://h/x", "headers": map[string]any{"idempotency-key": "1"}}, wantErr: "Idempotency-Key is set by tend"},
		{name: "header twice", value: map[string]any{"url": "https://h/x", "headers": map[string]any{"X-A": "1", "x-a": "2"}}, wantErr: "are the same header"},
		{name: "header value a list", value: map[string]any{"url": "https://h/x", "headers": map[string]any{"X-A": []any{1}}}, wantErr: "headers.X-A: is a []interface {}"},
		{name: "headers not a map", value: map[string]any{"url": "https://h/x", "headers": 3}, wantErr: "headers: the value is a int"},
		{name: "bad timeout", value: map[string]any{"url": "https://h/x", "timeout": "soon"}, wantErr: `timeout: "soon" is not a duration`},
		{name: "timeout too long", value: map[string]any{"url": "https://h/x", "timeout": "1h"}, wantErr: "out of range"},
		{name: "timeout zero", value: map[string]any{"url": "https://h/x", "timeout": 0}, wantErr: "out of range"},
		{name: "huge timeout does not wrap around", value: map[string]any{"url": "https://h/x", "timeout": 18446744074}, wantErr: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseValue(tt.value)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseValue(%#v) error = %v, want one containing %q", tt.value, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseValue(%#v): %v", tt.value, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseValue(%#v) =\n%#v\nwant\n%#v", tt.value, got, tt.want)
			}
		})
	}
}

func TestParseValueErrorsHideTheQuery(t *testing.T) {
	for _, v := range []any{
		"https://user:pw@h/x?token=s3cr3t",
		"https://%zz/x?token=s3cr3t",
		map[string]any{"url": "https:///x?token=s3cr3t"},
	} {
		_, err := ParseValue(v)
		if err == nil {
			t.Fatalf("ParseValue(%#v) accepted a bad URL", v)
		}
		if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "pw") {
			t.Errorf("ParseValue(%#v) error %q shows the query or the password", v, err)
		}
	}
}

// TestParseValueFromYAML checks the shape yaml.v3 decodes a
// remediation.yaml value into.
func TestParseValueFromYAML(t *testing.T) {
	src := `
url: https://hooks.example.com/restart?x=1
method: post
headers:
  Authorization: "Bearer {{ .Secrets.hooks_token }}"
  X-Retries: 2
body: |
  {"title": {{ json .Problem.Title }}}
timeout: 5s
`
	var v any
	if err := yaml.Unmarshal([]byte(src), &v); err != nil {
		t.Fatal(err)
	}
	got, err := ParseValue(v)
	if err != nil {
		t.Fatalf("ParseValue: %v", err)
	}
	want := Config{
		URL:     "https://hooks.example.com/restart?x=1",
		Method:  "POST",
		Headers: map[string]string{"Authorization": "Bearer {{ .Secrets.hooks_token }}", "X-Retries": "2"},
		Body:    "{\"title\": {{ json .Problem.Title }}}\n",
		Timeout: 5 * time.Second,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseValue =\n%#v\nwant\n%#v", got, want)
	}
}

func FuzzParseValue(f *testing.F) {
	for _, s := range []string{
		"url: https://h/x",
		"https://h/x?q=1",
		"{url: 'http://[::1]:80/x', method: get, timeout: 1e300}",
		"{url: https://h/x, headers: {A: '{{ .Secrets.x }}'}, body: ''}",
		"{url: https://u:p@h/, timeout: -5}",
		"[1, 2]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var v any
		if yaml.Unmarshal([]byte(src), &v) != nil {
			v = src
		}
		for _, value := range []any{v, src, map[string]any{"url": src}, map[string]any{"url": "https://h/x", "headers": map[string]any{src: src}, "body": src, "timeout": src}} {
			cfg, err := ParseValue(value)
			if err != nil {
				continue
			}
			u, err := checkURL(cfg.URL)
			if err != nil {
				t.Fatalf("ParseValue(%#v) accepted URL %q that checkURL refuses: %v", value, cfg.URL, err)
			}
			if u.User != nil {
				t.Fatalf("ParseValue(%#v) accepted credentials in the URL", value)
			}
			if _, ok := methods[cfg.Method]; !ok {
				t.Fatalf("ParseValue(%#v) accepted method %q", value, cfg.Method)
			}
			if cfg.Timeout < 0 || cfg.Timeout > MaxTimeout {
				t.Fatalf("ParseValue(%#v) accepted timeout %v", value, cfg.Timeout)
			}
			for name := range cfg.Headers {
				if checkHeaderName(name) != nil {
					t.Fatalf("ParseValue(%#v) accepted header name %q", value, name)
				}
			}
		}
	})
}
