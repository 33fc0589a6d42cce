package intake

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// amDecodersAgree checks decodeAlertmanager against the reference,
// parseAlertmanagerJSON, on body: when the fast path reads a message, the
// reference reads the very same one without error. It reports whether the
// fast path read it.
func amDecodersAgree(t *testing.T, body []byte, opts AlertmanagerOptions) bool {
	t.Helper()
	opts = opts.withDefaults()
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return false // ParseAlertmanager refuses these before either decoder
	}
	fast, ok := decodeAlertmanager(trimmed, opts)
	ref, err := parseAlertmanagerJSON(trimmed, opts)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("the fast path read %q, the reference fails: %v", body, err)
	}
	if !reflect.DeepEqual(fast, ref) {
		t.Fatalf("the decoders differ on %q:\nfast      %+v\nreference %+v", body, fast, ref)
	}
	got, err := ParseAlertmanager(body, opts)
	if err != nil || !reflect.DeepEqual(got, ref) {
		t.Fatalf("ParseAlertmanager(%q) = %+v, %v; want the reference's %+v", body, got, err, ref)
	}
	return true
}

// benchIntakeMessage is a message as `tend bench intake` sends it.
const benchIntakeMessage = `{"version":"4","groupKey":"{}:{alertname=\"bench1\"}","truncatedAlerts":0,"status":"firing","receiver":"tend",` +
	`"groupLabels":{"alertname":"bench1"},"commonLabels":{"project":"p","stage":"production","service":"carts","severity":"warning"},` +
	`"commonAnnotations":{},"externalURL":"http://alertmanager:9093","alerts":[` +
	`{"status":"firing","labels":{"alertname":"bench1","instance":"7-0","project":"p","stage":"production","service":"carts","severity":"warning"},` +
	`"annotations":{"summary":"response_time_p90","description":"The 90th percentile of the response time is above 1000 ms for 5 minutes."},` +
	`"startsAt":"2024-05-01T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",` +
	`"generatorURL":"http://prometheus:9090/graph?g0.expr=response_time_p90%3E1000&g0.tab=1","fingerprint":"0000000000000000"}]}`

// TestAlertmanagerFastPath checks that the messages Alertmanager and its
// users send take the fast path and read as the reference reads them.
func TestAlertmanagerFastPath(t *testing.T) {
	escaped := located("firing", "cpu", map[string]string{"pod": "carts-ü", "expr": `rate(x[5m]) > 0.5 & "quoted"`})
	escaped["generatorURL"] = "http://prometheus:9090/graph?g0.expr=a%3Eb&g0.tab=1<>"
	escaped["annotations"] = map[string]string{"summary": "line 1\nline 2\t\u2028", "description": "€ \\ /"}
	resolved := located("resolved", "mem", map[string]string{"service": ""})
	resolved["endsAt"] = "2024-05-06T07:10:00+02:00"
	bodies := map[string][]byte{
		"tend bench intake": []byte(benchIntakeMessage),
		"two alerts":        amBody(t, located("firing", "cpu", nil), resolved),
		"escapes (json.Marshal writes & < > as \\u00XX)": amBody(t, escaped),
		"no alerts":            []byte(`{"alerts":[]}`),
		"unknown fields":       []byte(` {"version":"4","alerts":[{"labels":{},"x":[1,-2.5e+3,true,false,null,{"a":[]}]}],"unknownField":{"x":1}} `),
		"alert without status": []byte(`{"alerts":[{"labels":{"project":"a","stage":"b","service":"c"}}]}`),
		"escaped key":          []byte(`{"\u0061lerts":[{"st\u0061tus":"firing","labels":{"\u00fc":"\ud7ff"}}]}`),
		"bad time":             []byte(`{"alerts":[{"status":"firing","startsAt":"yesterday","labels":{"project":"a","stage":"b","service":"c"}}]}`),
		"unknown status":       []byte(`{"alerts":[{"status":"pending"}]}`),
		"truncated":            []byte(`{"truncatedAlerts":-3,"alerts":[]}`),
	}
	for rel := range problemExamples {
		if strings.HasPrefix(rel, "prometheus-service/0.") && strings.Contains(rel, "alert") && examplesRootOrEmpty() != "" {
			bodies[rel] = readExample(t, rel)
		}
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			if !amDecodersAgree(t, body, AlertmanagerOptions{}) {
				t.Errorf("the fast path refused %s", body)
			}
			if !amDecodersAgree(t, body, AlertmanagerOptions{ProjectLabel: "team", StageLabel: "env"}) {
				t.Errorf("the fast path refused %s with other labels", body)
			}
		})
	}
}

// TestAlertmanagerFastPathRefuses checks that what encoding/json reads in
// ways of its own is left to it: the fast path refuses, and
// ParseAlertmanager answers as the reference does.
func TestAlertmanagerFastPathRefuses(t *testing.T) {
	deep := `{"alerts":[],"x":` + strings.Repeat("[", maxSkipDepth+1) + strings.Repeat("]", maxSkipDepth+1) + `}`
	for name, body := range map[string]string{
		"syntax error":                     `{"alerts":[}`,
		"trailing data":                    `{"alerts":[]}{}`,
		"trailing comma":                   `{"alerts":[],}`,
		"version 3":                        `{"version":"3","alerts":[]}`,
		"version null":                     `{"version":null,"alerts":[]}`,
		"no alerts":                        `{"version":"4"}`,
		"alerts null":                      `{"alerts":null}`,
		"alert not an object":              `{"alerts":[1]}`,
		"alert null":                       `{"alerts":[null]}`,
		"label not a string":               `{"alerts":[{"labels":{"a":1}}]}`,
		"label null":                       `{"alerts":[{"labels":{"a":null}}]}`,
		"labels null":                      `{"alerts":[{"labels":null}]}`,
		"labels twice (merged)":            `{"alerts":[{"labels":{"a":"1"},"labels":{"b":"2"}}]}`,
		"status twice":                     `{"alerts":[{"status":"firing","status":"resolved"}]}`,
		"key in another case":              `{"alerts":[{"Status":"firing"}]}`,
		"envelope key in another case":     `{"Alerts":[]}`,
		"non-ASCII key (Kelvin sign)":      "{\"alerts\":[],\"\u212aey\":1}",
		"invalid UTF-8":                    "{\"alerts\":[{\"labels\":{\"a\":\"\xff\"}}]}",
		"surrogate pair":                   `{"alerts":[{"labels":{"a":"\ud83d\ude00"}}]}`,
		"lone surrogate":                   `{"alerts":[{"labels":{"a":"\ud800"}}]}`,
		"fraction for truncatedAlerts":     `{"truncatedAlerts":1.5,"alerts":[]}`,
		"truncatedAlerts too big":          `{"truncatedAlerts":99999999999999999999,"alerts":[]}`,
		"control character":                "{\"alerts\":[],\"groupKey\":\"a\tb\"}",
		"leading zero":                     `{"alerts":[],"x":01}`,
		"nested deeper than the fast path": deep,
	} {
		t.Run(name, func(t *testing.T) {
			if amDecodersAgree(t, []byte(body), AlertmanagerOptions{}) {
				t.Errorf("the fast path read %s; it should leave it to encoding/json", body)
			}
			got, gotErr := ParseAlertmanager([]byte(body), AlertmanagerOptions{})
			want, wantErr := parseAlertmanagerJSON(bytes.TrimSpace([]byte(body)), AlertmanagerOptions{}.withDefaults())
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
				t.Errorf("ParseAlertmanager = %+v, %v; want %+v, %v", got, gotErr, want, wantErr)
			}
		})
	}
}

// FuzzAlertmanagerDecodersAgree checks the fast path against
// encoding/json on arbitrary bodies: whatever it reads, it reads as the
// reference does.
func FuzzAlertmanagerDecodersAgree(f *testing.F) {
	f.Add([]byte(benchIntakeMessage))
	f.Add(amBody(f, located("firing", "cpu", nil), located("resolved", "mem", map[string]string{"service": ""})))
	f.Add([]byte(`{"alerts":[{"status":"firing","labels":{"project":"a","stage":"b","service":"c"}}]}`))
	f.Add([]byte(`{"version":"4","alerts":[1,"x",null,{}]}`))
	f.Add([]byte(`{"\u0061lerts":[{"St\u0061tus":"firing","labels":{"a":"\ud83d\ude00\n"}}],"x":[1e5,-0.0,{"y":true}]}`))
	f.Add([]byte(`{"alerts":[{"labels":{"a":"1"},"labels":{"b":"2"},"startsAt":"2024-05-06T09:00:00.500+02:00"}]}`))
	for rel := range problemExamples {
		if strings.HasPrefix(rel, "prometheus-service/0.") && strings.Contains(rel, "alert") && examplesRootOrEmpty() != "" {
			f.Add(readExample(f, rel))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		amDecodersAgree(t, body, AlertmanagerOptions{})
	})
}

func BenchmarkParseAlertmanagerReference(b *testing.B) {
	body := []byte(benchIntakeMessage)
	opts := AlertmanagerOptions{}.withDefaults()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseAlertmanagerJSON(body, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseAlertmanagerFast(b *testing.B) {
	body := []byte(benchIntakeMessage)
	opts := AlertmanagerOptions{}.withDefaults()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := decodeAlertmanager(body, opts); !ok {
			b.Fatal("refused")
		}
	}
}
