package cli

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const monitoringSecret = "pw-1b2c3d4e-secret"

const maskedSetting = `{"key":"monitoring","value":{"provider":"prometheus","url":"http://prom:9090","user":"tend","password":"****"},"secrets":{"password":{"set":true}},"updatedAt":"2024-05-01T10:00:00Z"}`

func TestConfigureMonitoring(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secretFile, []byte(monitoringSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		ex      []exchange
		code    int
		wantOut string
		wantErr string
	}{
		{
			name: "prometheus with the password from the environment",
			args: []string{"configure", "monitoring", "prometheus", "--project", "sockshop", "--url", "http://prom:9090", "--user", "tend", "--password", "env:PROM_PW"},
			env:  map[string]string{"PROM_PW": monitoringSecret},
			ex: []exchange{{method: "PUT", path: "/api/v1/project/sockshop/config/monitoring",
				body: `{"provider":"prometheus","url":"http://prom:9090","user":"tend","password":"` + monitoringSecret + `"}`, answer: maskedSetting}},
			wantOut: "Monitoring of project sockshop: prometheus at http://prom:9090\n",
		},
		{
			name: "keptn's --project --service habit",
			args: []string{"configure", "monitoring", "prometheus", "--project=sockshop", "--service=carts", "--url=http://prom:9090", "--bearer-token", "file:" + secretFile},
			ex: []exchange{{method: "PUT", path: "/api/v1/project/sockshop/config/monitoring",
				body: `{"provider":"prometheus","url":"http://prom:9090","bearerToken":"` + monitoringSecret + `","service":"carts"}`, answer: maskedSetting},
				// With a service, the alerting rules of its self-healing stages follow (alertrules.go).
				{method: "GET", path: "/api/v1/project/sockshop/service/carts/alert-rules",
					answer: `{"project":"sockshop","service":"carts","stages":[{"stage":"production","remediationEnabled":true,"status":"no-slo","reason":"no slo.yaml","rules":0}],"groups":[],"ruleFile":""}`}},
			wantOut: "Monitoring of project sockshop, service carts in every stage: prometheus at http://prom:9090\n" +
				"No alerting rules were generated: service carts has no slo.yaml in stage production, where self-healing is enabled; add one with tend add-resource --resourceUri slo.yaml.\n",
		},
		{
			name: "dynatrace with the token from a file",
			args: []string{"configure", "monitoring", "dynatrace", "--project", "sockshop", "--stage", "production", "--url", "https://abc.live.dynatrace.com", "--token", "file:" + secretFile},
			ex: []exchange{{method: "PUT", path: "/api/v1/project/sockshop/config/monitoring",
				body: `{"provider":"dynatrace","url":"https://abc.live.dynatrace.com","token":"` + monitoringSecret + `","stage":"production"}`, answer: maskedSetting}},
			wantOut: "Monitoring of project sockshop, stage production: dynatrace at https://abc.live.dynatrace.com\n",
		},
		{name: "no url", args: []string{"configure", "monitoring", "prometheus", "--project", "sockshop"}, code: ExitBadInput, wantErr: "--url is required"},
		{name: "user without password", args: []string{"configure", "monitoring", "prometheus", "--project", "sockshop", "--url", "http://p", "--user", "u"}, code: ExitBadInput, wantErr: "go together"},
		{name: "bearer and basic", args: []string{"configure", "monitoring", "prometheus", "--project", "sockshop", "--url", "http://p", "--user", "u", "--password", "x", "--bearer-token", "y"}, code: ExitBadInput, wantErr: "not both"},
		{name: "dynatrace without token", args: []string{"configure", "monitoring", "dynatrace", "--project", "sockshop", "--url", "https://t"}, code: ExitBadInput, wantErr: "--token is required"},
		{name: "missing environment variable", args: []string{"configure", "monitoring", "prometheus", "--project", "sockshop", "--url", "http://p", "--user", "u", "--password", "env:NOPE_NOT_SET"}, code: ExitBadInput, wantErr: "NOPE_NOT_SET is not set"},
		{name: "no project", args: []string{"configure", "monitoring", "prometheus", "--url", "http://p"}, code: ExitBadInput, wantErr: "project"},
		{
			name: "server refuses the configuration",
			args: []string{"configure", "monitoring", "prometheus", "--project", "sockshop", "--url", "http://u@p"},
			ex: []exchange{{method: "PUT", path: "/api/v1/project/sockshop/config/monitoring", body: `{"provider":"prometheus","url":"http://u@p"}`,
				status: 400, answer: `{"code":400,"message":"invalid monitoring configuration: url carries credentials"}`}},
			code: ExitBadInput, wantErr: "url carries credentials",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, tt.ex...)
			useConfig(t, srv.url)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			r := runOnline(t, "", tt.args...)
			wantExit(t, r, tt.code)
			if tt.wantOut != "" && r.stdout != tt.wantOut {
				t.Errorf("stdout %q; want %q", r.stdout, tt.wantOut)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr %q; want %q", r.stderr, tt.wantErr)
			}
			if strings.Contains(r.stdout+r.stderr, monitoringSecret) {
				t.Errorf("the secret was printed:\n%s%s", r.stdout, r.stderr)
			}
		})
	}
}

func TestGetConfig(t *testing.T) {
	answer := `{"project":"sockshop","settings":[` + maskedSetting + `,{"stage":"production","service":"carts","key":"monitoring","value":{"provider":"dynatrace","url":"https://t","token":"****"},"secrets":{"token":{"set":true}},"updatedAt":"2024-05-01T10:00:00Z"}]}`
	t.Run("table", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/project/sockshop/config", answer: answer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "config", "--project", "sockshop")
		wantExit(t, r, ExitOK)
		for _, want := range []string{
			"STAGE       SERVICE  KEY         VALUE",
			"*           *        monitoring  password=**** provider=prometheus url=http://prom:9090 user=tend  password",
			"production  carts    monitoring  provider=dynatrace token=**** url=https://t",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout\n%s\nlacks %q", r.stdout, want)
			}
		}
	})
	t.Run("json is the server's answer", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/project/sockshop/config", answer: answer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "config", "--project", "sockshop", "-o", "json")
		wantExit(t, r, ExitOK)
		if compactJSON(t, r.stdout) != compactJSON(t, answer) {
			t.Errorf("stdout %s", r.stdout)
		}
	})
}

const evalContext = "9c7f0e9e-4e0c-4c39-9d51-46f3c1b5c0aa"

func finishedEventJSON(result string) string {
	slo := base64.StdEncoding.EncodeToString([]byte("spec_version: \"1.0\"\nobjectives:\n  - sli: response_time_p90\n    pass: [{criteria: [\"<1000\"]}]\ntotal_score: {pass: \"90%\"}\n"))
	value, status, score := "850", "pass", "1"
	if result == "fail" {
		value, status, score = "1500", "fail", "0"
	}
	return `{"specversion":"1.0","id":"f1","source":"tend","type":"sh.keptn.event.evaluation.finished","time":"2024-05-01T10:00:05Z","shkeptncontext":"` + evalContext + `","triggeredid":"t1",` +
		`"data":{"project":"sockshop","stage":"production","service":"carts","status":"succeeded","result":"` + result + `",` +
		`"evaluation":{"result":"` + result + `","score":` + map[string]string{"pass": "100", "fail": "0"}[result] + `,"timeStart":"2024-05-01T09:55:00Z","timeEnd":"2024-05-01T10:00:00Z","sloFileContent":"` + slo + `","gitCommit":"abc",` +
		`"comparedEvents":[],"indicatorResults":[{"score":` + score + `,"status":"` + status + `","displayName":"","keySli":false,"value":{"metric":"response_time_p90","value":` + value + `,"comparedValue":0,"success":true},"passTargets":[{"criteria":"<1000","targetValue":1000,"violated":` + map[string]string{"pass": "false", "fail": "true"}[result] + `}],"warningTargets":null}]}}}`
}

func TestTriggerEvaluation(t *testing.T) {
	path := "/api/v1/project/sockshop/stage/production/service/carts/evaluation"
	base := []string{"trigger", "evaluation", "--project", "sockshop", "--stage", "production", "--service", "carts"}
	eventsQuery := "keptnContext=" + evalContext + "&pageSize=500&project=sockshop"
	triggered := `{"specversion":"1.0","id":"t1","source":"tend","type":"sh.keptn.event.evaluation.triggered","time":"2024-05-01T10:00:01Z","shkeptncontext":"` + evalContext + `","data":{"project":"sockshop","stage":"production","service":"carts"}}`
	tests := []struct {
		name    string
		args    []string
		ex      []exchange
		code    int
		wantOut []string
		wantErr string
	}{
		{name: "end with timeframe", args: []string{"--start", "2024-05-01T10:00:00Z", "--end", "2024-05-01T10:05:00Z", "--timeframe", "5m"}, code: ExitBadInput, wantErr: "--end and --timeframe cannot be combined"},
		{name: "end without start", args: []string{"--end", "2024-05-01T10:05:00Z"}, code: ExitBadInput, wantErr: "needs a start"},
		{name: "start not RFC 3339", args: []string{"--start", "10:00"}, code: ExitBadInput, wantErr: `--start "10:00" is not an RFC 3339 time`},
		{name: "end before start", args: []string{"--start", "2024-05-01T10:05:00Z", "--end", "2024-05-01T10:00:00Z"}, code: ExitBadInput, wantErr: "is not after the start"},
		{name: "bad timeframe", args: []string{"--timeframe", "5 min"}, code: ExitBadInput, wantErr: "--timeframe"},
		{name: "bad labels", args: []string{"--timeframe", "5m", "--labels", "novalue"}, code: ExitBadInput, wantErr: "labels"},
		{
			name:    "prints the keptn context",
			args:    []string{"--timeframe", "5m", "--labels", "buildId=42,runner=ci"},
			ex:      []exchange{{method: "POST", path: path, body: `{"timeframe":"5m","labels":{"buildId":"42","runner":"ci"}}`, answer: `{"keptnContext":"` + evalContext + `"}`}},
			wantOut: []string{"ID of Keptn context: " + evalContext + "\n"},
		},
		{
			name:    "start alone",
			args:    []string{"--start", "2024-05-01T10:00:00Z"},
			ex:      []exchange{{method: "POST", path: path, body: `{"start":"2024-05-01T10:00:00Z"}`, answer: `{"keptnContext":"` + evalContext + `"}`}},
			wantOut: []string{"ID of Keptn context: " + evalContext + "\n"},
		},
		{
			name: "watch a failing evaluation exits 1 with the table",
			args: []string{"--timeframe", "5m", "--watch"},
			ex: []exchange{
				{method: "POST", path: path, body: `{"timeframe":"5m"}`, answer: `{"keptnContext":"` + evalContext + `"}`},
				{method: "GET", path: "/api/v1/event", query: eventsQuery, answer: `{"events":[` + triggered + `],"pageSize":500,"totalCount":1}`},
				{method: "GET", path: "/api/v1/event", query: eventsQuery, answer: `{"events":[` + finishedEventJSON("fail") + `,` + triggered + `],"pageSize":500,"totalCount":2}`},
			},
			code:    ExitGateFailed,
			wantOut: []string{"response_time_p90", "1500", "<1000 (1000) ✗", "Result:   fail"},
			wantErr: "evaluation.finished",
		},
		{
			name: "watch a passing evaluation exits 0",
			args: []string{"--timeframe", "5m", "--watch"},
			ex: []exchange{
				{method: "POST", path: path, body: `{"timeframe":"5m"}`, answer: `{"keptnContext":"` + evalContext + `"}`},
				{method: "GET", path: "/api/v1/event", query: eventsQuery, answer: `{"events":[` + finishedEventJSON("pass") + `],"pageSize":500,"totalCount":1}`},
			},
			wantOut: []string{"Result:   pass"},
		},
		{
			name: "watch with json prints the event",
			args: []string{"--timeframe", "5m", "--watch", "-o", "json"},
			ex: []exchange{
				{method: "POST", path: path, body: `{"timeframe":"5m"}`, answer: `{"keptnContext":"` + evalContext + `"}`},
				{method: "GET", path: "/api/v1/event", query: eventsQuery, answer: `{"events":[` + finishedEventJSON("pass") + `],"pageSize":500,"totalCount":1}`},
			},
			wantOut: []string{`"type": "sh.keptn.event.evaluation.finished"`},
		},
		{
			name: "unknown service",
			args: []string{"--timeframe", "5m"},
			ex:   []exchange{{method: "POST", path: path, body: `{"timeframe":"5m"}`, status: 404, answer: `{"code":404,"message":"service \"carts\" does not exist in project \"sockshop\""}`}},
			code: ExitBadInput, wantErr: "does not exist",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, tt.ex...)
			useConfig(t, srv.url)
			r := runOnline(t, "", append(append([]string(nil), base...), tt.args...)...)
			wantExit(t, r, tt.code)
			for _, want := range tt.wantOut {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout\n%s\nlacks %q", r.stdout, want)
				}
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr %q; want %q", r.stderr, tt.wantErr)
			}
		})
	}
}

func TestInvalidateEvaluation(t *testing.T) {
	invalidate := exchange{method: "POST", path: "/api/v1/project/sockshop/stage/production/service/carts/evaluation/" + evalContext + "/invalidate", answer: `{"keptnContext":"` + evalContext + `"}`}
	lookup := func(events string) exchange {
		return exchange{method: "GET", path: "/api/v1/event", query: "keptnContext=" + evalContext + "&type=sh.keptn.event.evaluation.finished", answer: `{"events":[` + events + `]}`}
	}
	tests := []struct {
		name    string
		args    []string
		ex      []exchange
		code    int
		wantOut string
		wantErr string
	}{
		{name: "reads the service from the evaluation", args: nil, ex: []exchange{lookup(finishedEventJSON("pass")), invalidate},
			wantOut: "Evaluation " + evalContext + " of sockshop/production/carts invalidated: later evaluations do not compare with it\n"},
		{name: "with the service given", args: []string{"--project", "sockshop", "--stage", "production", "--service", "carts"}, ex: []exchange{invalidate},
			wantOut: "Evaluation " + evalContext + " of sockshop/production/carts invalidated: later evaluations do not compare with it\n"},
		{name: "no finished evaluation", ex: []exchange{lookup("")}, code: ExitBadInput, wantErr: "holds no finished evaluation"},
		{name: "no keptn context", ex: nil, code: ExitBadInput, wantErr: "keptn-context"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, tt.ex...)
			useConfig(t, srv.url)
			args := []string{"invalidate", "evaluation"}
			if tt.name != "no keptn context" {
				args = append(args, "--keptn-context", evalContext)
			}
			r := runOnline(t, "", append(args, tt.args...)...)
			wantExit(t, r, tt.code)
			if r.stdout != tt.wantOut {
				t.Errorf("stdout %q; want %q", r.stdout, tt.wantOut)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr %q; want %q", r.stderr, tt.wantErr)
			}
		})
	}
}
