package event

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"
)

// minimal is a valid CloudEvents 1.0 Keptn event; cases edit it.
const minimal = `{"specversion":"1.0","id":"e1","source":"test","type":"sh.keptn.event.evaluation.triggered",` +
	`"time":"2024-01-02T03:04:05.123Z","shkeptncontext":"0B4A6F7C-1111-4222-8333-444455556666",` +
	`"data":{"project":"sockshop","stage":"production","service":"carts"}}`

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  []string // substrings of the error, in order of the problems
		field string   // Field of the first problem
	}{
		{"empty input", "", []string{"the event is empty"}, ""},
		{"only spaces", " \n ", []string{"the event is empty"}, ""},
		{"array", `[1]`, []string{"a CloudEvent must be a JSON object, got an array"}, ""},
		{"string", `"x"`, []string{"a CloudEvent must be a JSON object, got a string"}, ""},
		{"null", `null`, []string{"a CloudEvent must be a JSON object, got null"}, ""},
		{"cut short", `{"specversion":"1.0"`, []string{"invalid JSON at line 1, column 21 (byte 20): unexpected end of JSON input"}, ""},
		{"bad token on line 2", "{\n  \"id\": x}", []string{"invalid JSON at line 2, column 9 (byte 10): invalid character 'x'"}, ""},
		{"trailing data", `{"specversion":"1.0"} {}`, []string{"invalid JSON at line 1, column 23 (byte 22): invalid character '{' after top-level value"}, ""},
		{"invalid UTF-8", "{\"id\":\"\xff\"}", []string{"invalid JSON at line 1, column 8 (byte 7): the event is not valid UTF-8"}, ""},
		{"duplicate attribute", `{"type":"a","type":"b"}`, []string{`attribute "type" appears twice`}, "type"},
		{"no specversion", `{"type":"x","source":"s","data":{}}`, []string{`"specversion" is required: a CloudEvent names its version, "1.0"`}, "specversion"},
		{"null specversion", `{"specversion":null}`, []string{`"specversion" is required`}, "specversion"},
		{"numeric specversion", `{"specversion":1.0}`, []string{`"specversion" must be a string such as "1.0", got a number`}, "specversion"},
		{"unknown specversion", `{"specversion":"2.0"}`, []string{`"specversion" must be "1.0" (or Keptn 0.6's "0.2"), got "2.0"`}, "specversion"},
		{"alertmanager message", `{"version":"4","alerts":[],"status":"firing"}`, []string{"looks like an Alertmanager webhook message"}, "specversion"},
		{"event list", `{"events":[]}`, []string{"looks like a list of events"}, "specversion"},
		{
			"everything missing",
			`{"specversion":"1.0"}`,
			[]string{`"type" is required`, `"source" is required`, `"data" is required`},
			"type",
		},
		{"empty type", edit(`"type":"sh.keptn.event.evaluation.triggered"`, `"type":""`), []string{`"type" is required`}, "type"},
		{"numeric id", edit(`"id":"e1"`, `"id":7`), []string{`"id" must be a string, got a number`}, "id"},
		{"bad time", edit(`"2024-01-02T03:04:05.123Z"`, `"02.01.2024"`), []string{`"time" must be RFC 3339, e.g. "2006-01-02T15:04:05.999Z", got "02.01.2024"`}, "time"},
		{"time before year 0 in UTC", edit(`"2024-01-02T03:04:05.123Z"`, `"0000-01-01T00:00:00+01:00"`), []string{`"time" "0000-01-01T00:00:00+01:00" is out of range`}, "time"},
		{"time after year 9999 in UTC", edit(`"2024-01-02T03:04:05.123Z"`, `"9999-12-31T23:59:59-01:00"`), []string{`"time" "9999-12-31T23:59:59-01:00" is out of range`}, "time"},
		{"time without zone", edit(`"2024-01-02T03:04:05.123Z"`, `"2024-01-02T03:04:05"`), []string{`"time" must be RFC 3339`}, "time"},
		{"data is a string", edit(`"data":{"project":"sockshop","stage":"production","service":"carts"}`, `"data":"{}"`), []string{`"data" must be a JSON object for Keptn events, got a string`}, "data"},
		{"data is an array", edit(`"data":{"project":"sockshop","stage":"production","service":"carts"}`, `"data":[]`), []string{`"data" must be a JSON object for Keptn events, got an array`}, "data"},
		{"data is null", edit(`"data":{"project":"sockshop","stage":"production","service":"carts"}`, `"data":null`), []string{`"data" is required`}, "data"},
		{"data_base64", edit(`"data":{`, `"data_base64":"e30=","data":{`), []string{`"data_base64" is not supported`}, "data_base64"},
		{"xml content type", edit(`"data":{`, `"datacontenttype":"application/xml","data":{`), []string{`"datacontenttype" must be application/json (or another JSON media type) for Keptn events, got "application/xml"`}, "datacontenttype"},
		{"uppercase extension", edit(`"data":{`, `"myExt":"x","data":{`), []string{`attribute name "myExt" is invalid`}, "myExt"},
		{"object extension", edit(`"data":{`, `"myext":{"a":1},"data":{`), []string{`extension "myext" must be a string, number or boolean, got an object`}, "myext"},
		{"numeric project", edit(`"project":"sockshop"`, `"project":5`), []string{`"data.project" must be a string, got a number`}, "data.project"},
		{"uppercase service", edit(`"service":"carts"`, `"service":"Carts"`), []string{`"data.service" must be a Keptn name: a lower-case letter, then lower-case letters, digits or '-', not ending in '-'; got "Carts"`}, "data.service"},
		{"placeholder stage", edit(`"stage":"production"`, `"stage":"$STAGE"`), []string{`got "$STAGE" (an unexpanded template placeholder?)`}, "data.stage"},
		{"labels not an object", edit(`"service":"carts"`, `"service":"carts","labels":["a"]`), []string{`"data.labels" must be a JSON object of names to strings, got an array`}, "data.labels"},
		{"numeric result", edit(`"service":"carts"`, `"service":"carts","result":1`), []string{`"data.result" must be a string, got a number`}, "data.result"},
		{
			"several problems at once",
			`{"specversion":"1.0","id":1,"time":"yesterday","data":{"project":"A"}}`,
			[]string{`"id" must be a string`, `"type" is required`, `"source" is required`, `"time" must be RFC 3339`, `"data.project" must be a Keptn name`},
			"id",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse accepted %s as %+v", tt.in, e)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not match ErrInvalid: %v", err)
			}
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("error is %T, want *ValidationError", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "invalid event: ") {
				t.Errorf("error %q lacks the prefix", msg)
			}
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error\n  %s\nwant, in order,\n  %s", msg, strings.Join(tt.want, "\n  "))
				}
				rest = rest[i+len(w):]
			}
			if len(verr.Problems) < len(tt.want) {
				t.Errorf("got %d problems, want at least %d: %v", len(verr.Problems), len(tt.want), verr.Problems)
			}
			if verr.Problems[0].Field != tt.field {
				t.Errorf("first problem's Field = %q, want %q", verr.Problems[0].Field, tt.field)
			}
		})
	}
}

// edit replaces old, which must occur in minimal, with new.
func edit(old, new string) string {
	if !strings.Contains(minimal, old) {
		panic("edit: " + old + " not in minimal")
	}
	return strings.Replace(minimal, old, new, 1)
}

func TestParseSyntaxErrorPosition(t *testing.T) {
	in := "{\n  \"specversion\": \"1.0\",\n  \"data\": {\"a\": 1,}\n}"
	_, err := Parse([]byte(in))
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v, want *ValidationError", err)
	}
	// The '}' after the trailing comma is on line 3, column 19.
	if verr.Line != 3 || verr.Column != 19 || in[verr.Offset] != '}' {
		t.Errorf("position line %d, column %d, offset %d (%q); want line 3, column 19 at the '}'",
			verr.Line, verr.Column, verr.Offset, in[verr.Offset:])
	}
}

func TestParseNormalises(t *testing.T) {
	fixed := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	p := Parser{Now: func() time.Time { return fixed }, NewID: func() string { return "11111111-2222-4333-8444-555555555555" }}
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, e *Event)
	}{
		{"UUID context is lower-cased", minimal, func(t *testing.T, e *Event) {
			if e.KeptnContext != "0b4a6f7c-1111-4222-8333-444455556666" {
				t.Errorf("KeptnContext = %q", e.KeptnContext)
			}
		}},
		{"non-UUID context maps to the name-based UUID", edit(`"0B4A6F7C-1111-4222-8333-444455556666"`, `"-6478017825120311599_1641223491837V2"`), func(t *testing.T, e *Event) {
			if e.KeptnContext != "0bb0fab6-f28c-55a1-860b-c9e80b5f9b51" {
				t.Errorf("KeptnContext = %q", e.KeptnContext)
			}
		}},
		{"missing context is generated", edit(`"shkeptncontext":"0B4A6F7C-1111-4222-8333-444455556666",`, ``), func(t *testing.T, e *Event) {
			if e.KeptnContext != "11111111-2222-4333-8444-555555555555" {
				t.Errorf("KeptnContext = %q", e.KeptnContext)
			}
		}},
		{"empty id and time are filled", edit(`"id":"e1","source":"test","type":"sh.keptn.event.evaluation.triggered","time":"2024-01-02T03:04:05.123Z"`,
			`"id":"","source":"test","type":"sh.keptn.event.evaluation.triggered","time":""`), func(t *testing.T, e *Event) {
			if e.ID != "11111111-2222-4333-8444-555555555555" || !e.Time.Equal(fixed) {
				t.Errorf("ID %q, Time %v; want the generated id and the fixed clock", e.ID, e.Time)
			}
		}},
		{"time keeps nanoseconds and becomes UTC", edit(`"2024-01-02T03:04:05.123Z"`, `"2024-01-02T05:04:05.123456789+02:00"`), func(t *testing.T, e *Event) {
			want := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)
			if !e.Time.Equal(want) || e.Time.Location() != time.UTC {
				t.Errorf("Time = %v, want %v in UTC", e.Time, want)
			}
		}},
		{"0.2 contenttype becomes datacontenttype", edit(`"specversion":"1.0"`, `"specversion":"0.2","contenttype":"application/json; charset=utf-8"`), func(t *testing.T, e *Event) {
			if e.SpecVersion != "1.0" || e.DataContentType != "application/json; charset=utf-8" {
				t.Errorf("SpecVersion %q, DataContentType %q", e.SpecVersion, e.DataContentType)
			}
		}},
		{"schemaurl becomes dataschema", edit(`"specversion":"1.0"`, `"specversion":"0.3","schemaurl":"https://example.com/s.json"`), func(t *testing.T, e *Event) {
			if e.DataSchema != "https://example.com/s.json" {
				t.Errorf("DataSchema = %q", e.DataSchema)
			}
		}},
		{"datacontenttype wins over contenttype", edit(`"data":{`, `"contenttype":"text/json","datacontenttype":"application/cloudevents+json","data":{`), func(t *testing.T, e *Event) {
			if e.DataContentType != "application/cloudevents+json" {
				t.Errorf("DataContentType = %q", e.DataContentType)
			}
		}},
		{"missing datacontenttype is JSON", minimal, func(t *testing.T, e *Event) {
			if e.DataContentType != JSONContentType {
				t.Errorf("DataContentType = %q", e.DataContentType)
			}
		}},
		{"extensions are kept, null ones dropped", edit(`"data":{`, `"shkeptnspecversion":"0.2.3","attempt":3,"retry":true,"gone":null,"subject":null,"data":{`), func(t *testing.T, e *Event) {
			if v, _ := e.Extension("shkeptnspecversion"); v != "0.2.3" {
				t.Errorf("shkeptnspecversion = %q", v)
			}
			if v, _ := e.Extension("attempt"); v != "3" {
				t.Errorf("attempt = %q", v)
			}
			if v, _ := e.Extension("retry"); v != "true" {
				t.Errorf("retry = %q", v)
			}
			if _, ok := e.Extension("gone"); ok || len(e.Extensions) != 3 {
				t.Errorf("Extensions = %v, want the three non-null ones", e.Extensions)
			}
		}},
		{"data is compacted", edit(`"data":{"project":"sockshop","stage":"production","service":"carts"}`, "\"data\": { \"project\" : \"sockshop\",\n \"x\": [1, 2] }"), func(t *testing.T, e *Event) {
			if string(e.Data) != `{"project":"sockshop","x":[1,2]}` {
				t.Errorf("Data = %s", e.Data)
			}
		}},
		{"triggeredid and gitcommitid", edit(`"data":{`, `"triggeredid":"$TRIGGERED_ID","gitcommitid":"abc","data":{`), func(t *testing.T, e *Event) {
			if e.TriggeredID != "$TRIGGERED_ID" || e.GitCommitID != "abc" {
				t.Errorf("TriggeredID %q, GitCommitID %q", e.TriggeredID, e.GitCommitID)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := p.Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.check(t, e)
			checkRoundTrip(t, e)
		})
	}
}

func TestCommonData(t *testing.T) {
	in := edit(`"service":"carts"`, `"service":"carts","labels":{"a":"b","n":1,"m":{"k":["v"]},"z":null},`+
		`"status":"succeeded","result":"warning","message":"ok"`)
	e, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.Common()
	if err != nil {
		t.Fatal(err)
	}
	want := CommonData{
		Project: "sockshop", Stage: "production", Service: "carts",
		Labels: map[string]string{"a": "b", "n": "1", "m": `{"k":["v"]}`, "z": ""},
		Status: StatusSucceeded, Result: ResultWarning, Message: "ok",
	}
	if c.Project != want.Project || c.Stage != want.Stage || c.Service != want.Service ||
		c.Status != want.Status || c.Result != want.Result || c.Message != want.Message || !maps.Equal(c.Labels, want.Labels) {
		t.Errorf("Common() = %+v, want %+v", c, want)
	}
	if e.Project() != "sockshop" || e.Stage() != "production" || e.Service() != "carts" ||
		e.Status() != "succeeded" || e.Result() != "warning" || e.Message() != "ok" || e.Labels()["a"] != "b" {
		t.Errorf("accessors disagree with Common: %q %q %q %q %q %q %v",
			e.Project(), e.Stage(), e.Service(), e.Status(), e.Result(), e.Message(), e.Labels())
	}
}

func TestMarshalJSON(t *testing.T) {
	e := &Event{
		ID: "id-1", Source: "tend", Type: TypeActionTriggered,
		Time:            time.Date(2024, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600)),
		DataContentType: JSONContentType, KeptnContext: "ctx", TriggeredID: "t",
		Data: json.RawMessage("{ \"message\": \"a&b\" }"),
	}
	e.SetExtension("shkeptnspecversion", "0.2.3")
	e.SetExtension("url", "https://x?a=1&b=<2>")
	got, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"specversion":"1.0","id":"id-1","source":"tend","type":"sh.keptn.event.action.triggered",` +
		`"time":"2024-01-02T02:04:05.0000006Z","datacontenttype":"application/json","shkeptncontext":"ctx",` +
		`"triggeredid":"t","shkeptnspecversion":"0.2.3","url":"https://x?a=1&b=<2>","data":{"message":"a&b"}}`
	if string(got) != want {
		t.Errorf("Marshal =\n  %s\nwant\n  %s", got, want)
	}
	// encoding/json re-escapes <, > and & in what MarshalJSON returns; the
	// result must still parse to the same event.
	viaJSON, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(viaJSON)
	if err != nil {
		t.Fatalf("Parse(json.Marshal(e)): %v", err)
	}
	if v, _ := again.Extension("url"); v != "https://x?a=1&b=<2>" || again.Message() != "a&b" {
		t.Errorf("after json.Marshal and Parse: url %q, message %q", v, again.Message())
	}

	bad := []struct {
		name string
		ext  map[string]json.RawMessage
		data string
		want string
	}{
		{"extension named like an attribute", map[string]json.RawMessage{"type": json.RawMessage(`"x"`)}, "{}", `extension "type" collides`},
		{"invalid extension name", map[string]json.RawMessage{"Bad": json.RawMessage(`"x"`)}, "{}", `extension name "Bad" is invalid`},
		{"object extension", map[string]json.RawMessage{"obj": json.RawMessage(`{}`)}, "{}", `extension "obj" must be a string, number or boolean, got an object`},
		{"invalid data", nil, "{", `"data" is not valid JSON`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			e := Event{ID: "1", Source: "s", Type: "t", Extensions: tt.ext, Data: json.RawMessage(tt.data)}
			_, err := e.MarshalJSON()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("MarshalJSON error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestUnmarshalJSONList(t *testing.T) {
	var list struct {
		Events []Event `json:"events"`
	}
	in := `{"events":[` + minimal + `,` + edit(`"id":"e1"`, `"id":"e2"`) + `]}`
	if err := json.Unmarshal([]byte(in), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Events) != 2 || list.Events[1].ID != "e2" || list.Events[0].Project() != "sockshop" {
		t.Errorf("decoded %+v", list.Events)
	}
	bad := `{"events":[{"specversion":"1.0"}]}`
	if err := json.Unmarshal([]byte(bad), &list); !errors.Is(err, ErrInvalid) {
		t.Errorf("Unmarshal of an invalid event: err = %v, want ErrInvalid", err)
	}
}

func TestIsName(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"sockshop", true}, {"a", true}, {"carts-db", true}, {"production2", true}, {"e2e-project", true},
		{"", false}, {"Carts", false}, {"2e", false}, {"-a", false}, {"a-", false}, {"a_b", false},
		{"a.b", false}, {"$PROJECT", false}, {"ä", false},
	} {
		if got := IsName(tt.in); got != tt.want {
			t.Errorf("IsName(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
