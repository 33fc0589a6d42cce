package event

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		minimal,
		`{"specversion":"0.2","type":"sh.keptn.event.problem.open","source":"s","contenttype":"application/json","data":{"State":"OPEN"}}`,
		`{"specversion":"1.0","id":"","time":"","type":"t","source":"s","shkeptncontext":"PID-1","data":{"labels":{"a":{"b":1}}},"x":1,"y":true}`,
		`{"specversion":"1.0","type":"t","source":"s","data":{"project":"$P"}}`,
		`{"version":"4","alerts":[]}`,
		`{"a":1,}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	// The real Keptn payloads make the best seeds.
	if root := os.Getenv("TEND_KEPTN_EXAMPLES"); root != "" || dirExists(examplesDir) {
		if root == "" {
			root = examplesDir
		}
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(path, ".json") {
				if b, err := os.ReadFile(path); err == nil {
					f.Add(b)
				}
			}
			return nil
		})
	}
	p := Parser{
		Now:   func() time.Time { return time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC) },
		NewID: func() string { return "00000000-0000-4000-8000-000000000001" },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := p.Parse(data)
		if err != nil {
			if e != nil {
				t.Fatalf("Parse returned an event and an error: %v", err)
			}
			return
		}
		if e.ID == "" || e.Source == "" || e.Type == "" || e.Time.IsZero() || !IsUUID(e.KeptnContext) || len(e.Data) == 0 {
			t.Fatalf("accepted event lacks a guaranteed field: %+v", e)
		}
		if _, err := e.Common(); err != nil {
			t.Fatalf("Common of an accepted event: %v", err)
		}
		out, err := e.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON of an accepted event: %v", err)
		}
		again, err := p.Parse(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if diff := envelopeDiff(e, again); diff != "" {
			t.Fatalf("round trip changed the event: %s\n%s", diff, out)
		}
	})
}

func dirExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// FuzzMembers checks the hand-written object walker against encoding/json:
// for every valid JSON object, members finds the same names with the same
// values (the last one for a repeated name).
func FuzzMembers(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, ` { "a" : [1,{"b":"}"}] , "c":"\"}" ,"a":null} `,
		`{"k\u0041":"v","x":{"y":[[],{}]},"n":-1.5e3,"t":true}`, `[]`, `"s"`, `1`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Parse rejects invalid UTF-8 before members runs; encoding/json
		// would replace it in names, members keeps the bytes.
		if !json.Valid(data) || !utf8.Valid(data) {
			return
		}
		got, ok := members(data)
		var want map[string]json.RawMessage
		err := json.Unmarshal(data, &want)
		if isObject := err == nil && want != nil; ok != isObject {
			t.Fatalf("members ok = %v, but encoding/json says object = %v (%v)", ok, isObject, err)
		}
		if !ok {
			return
		}
		names := make(map[string]bool)
		for _, a := range got {
			names[a.name] = true
		}
		if len(names) != len(want) {
			t.Fatalf("members found names %v, encoding/json %v", names, want)
		}
		for name, w := range want {
			g := got.get(name)
			var gc, wc bytes.Buffer
			if json.Compact(&gc, g) != nil || json.Compact(&wc, w) != nil || !bytes.Equal(gc.Bytes(), wc.Bytes()) {
				t.Fatalf("member %q: members %s, encoding/json %s", name, g, w)
			}
		}
	})
}
