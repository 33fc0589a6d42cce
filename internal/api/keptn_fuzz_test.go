package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/event"
)

// The parsers of outside input on Keptn's paths never panic, and what they
// accept is well-formed.

func FuzzStructuredEvent(f *testing.F) {
	f.Add("1.0", "id-1", "src", "sh.keptn.event.test.finished", "application/json", `{"project":"p"}`, "")
	f.Add("0.2", "", "a%20b", "sh.keptn.events.problem", "text/plain", "hello", "ce-Foo")
	f.Add("1.0", "x", "%zz", "t", "", "", "ce-")
	f.Fuzz(func(t *testing.T, spec, id, source, typ, ct, body, extra string) {
		h := http.Header{}
		h.Set("Ce-Specversion", spec)
		h.Set("Ce-Id", id)
		h.Set("Ce-Source", source)
		h.Set("Ce-Type", typ)
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		if extra != "" {
			h.Set(extra, "v")
		}
		out, err := structuredEvent(h, []byte(body))
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) || he.status != http.StatusBadRequest {
				t.Fatalf("error %v is not a 400", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("structured body is not JSON: %s", out)
		}
		// Whatever event.Parse makes of it, it does not panic.
		_, _ = event.Parse(out)
	})
}

func FuzzDecodeKeptnProject(f *testing.F) {
	f.Add(`{"name":"sockshop","shipyard":"YQ=="}`)
	f.Add(`{"name":"s","gitCredentials":{"remoteURL":"https://x/y.git","user":"u","https":{"token":"t","insecureSkipTLS":false}}}`)
	f.Add(`{"name":"s","gitCredentials":{"remoteURL":"ssh://x","ssh":{"privateKey":"k"}}}`)
	f.Add(`{"name":1}`)
	f.Fuzz(func(t *testing.T, body string) {
		req, err := decodeKeptnProject([]byte(body))
		if err != nil {
			return
		}
		if req.GitRemoteURL == "" && (req.GitUser != "" || req.GitToken != "") {
			t.Fatalf("credentials without a remote accepted: %+v", req)
		}
	})
}

func FuzzDecodeKeptnResources(f *testing.F) {
	f.Add(`{"resources":[{"resourceURI":"slo.yaml","resourceContent":"YQ=="}]}`)
	f.Add(`{"resources":[{"resourceURI":"a","metadata":{"branch":"b","version":"v"}}]}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		_, _ = decodeKeptnResources([]byte(body))
	})
}

func FuzzDecodeKeptnSecret(f *testing.F) {
	f.Add(`{"name":"slack","scope":"keptn-webhook-service","data":{"url":"x"}}`)
	f.Add(`{"name":"a.b","data":{}}`)
	f.Fuzz(func(t *testing.T, body string) {
		s, err := decodeKeptnSecret([]byte(body))
		if err != nil {
			return
		}
		if strings.Contains(s.Name, ".") || len(s.Data) == 0 {
			t.Fatalf("accepted %+v", s)
		}
	})
}

func FuzzKeptnEventQuery(f *testing.F) {
	f.Add("project=sockshop&fromTime=2024-01-01T10:00:00.000Z&root=true&pageSize=5", "data.project:sockshop AND data.result:pass")
	f.Add("fromTime=0001-01-01T00:00:00.000Z&beforeTime=9999-12-31T23:59:59Z", "shkeptncontext:abc")
	f.Add("pageSize=-1", ":")
	f.Fuzz(func(t *testing.T, query, filter string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		if fl, err := keptnEventFilter(q, ""); err == nil && fl.PageSize < 0 {
			t.Fatalf("negative page size accepted: %+v", fl)
		}
		if tf, err := parseTypeFilter(filter); err == nil {
			_ = tf.matches([]byte(`{"data":{"project":"sockshop","result":"pass"}}`))
		}
	})
}
