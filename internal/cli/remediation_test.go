package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRemediationSettingsAndPause(t *testing.T) {
	const secret = "unleash-4f5e-secret"
	secretFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	answer := func(key, value string) string {
		return `{"key":"` + key + `","value":` + value + `,"updatedAt":"2024-05-01T10:00:00Z"}`
	}
	tests := []struct {
		name    string
		args    []string
		ex      []exchange
		code    int
		wantOut string
		wantErr string
	}{
		{
			name: "limits of a service",
			args: []string{"configure", "remediation", "--project", "sockshop", "--service", "carts", "--max-replicas", "5", "--cooldown", "30m", "--dry-run", "true"},
			ex: []exchange{{method: "PUT", path: "/api/v1/project/sockshop/config/remediation",
				body:   `{"maxReplicas":5,"cooldown":"30m","dryRun":true,"service":"carts"}`,
				answer: answer("remediation", `{"maxReplicas":5,"cooldown":"30m0s","dryRun":true}`)}},
			wantOut: "Remediation of project sockshop, service carts in every stage:\n  maxReplicas  5\n  cooldown     30m0s\n  dryRun       true\n",
		},
		{
			name: "zero is a value, not unset",
			args: []string{"configure", "remediation", "--project", "sockshop", "--max-actions-per-hour", "0"},
			ex: []exchange{{method: "PUT", path: "/api/v1/project/sockshop/config/remediation",
				body: `{"maxActionsPerHour":0}`, answer: answer("remediation", `{"maxActionsPerHour":0}`)}},
			wantOut: "Remediation of project sockshop:\n  maxActionsPerHour  0\n",
		},
		{name: "nothing to set", args: []string{"configure", "remediation", "--project", "sockshop"}, code: ExitBadInput, wantErr: "nothing to set"},
		{name: "bad dry run", args: []string{"configure", "remediation", "--project", "sockshop", "--dry-run", "maybe"}, code: ExitBadInput, wantErr: `--dry-run "maybe"`},
		{
			name: "kubernetes scale target",
			args: []string{"configure", "kubernetes", "--project", "sockshop", "--stage", "production", "--service", "carts", "--scale-url", "http://carts:8080/scale"},
			ex: []exchange{{method: "PUT", path: "/api/v1/project/sockshop/config/kubernetes",
				body:   `{"scaleURL":"http://carts:8080/scale","stage":"production","service":"carts"}`,
				answer: answer("kubernetes", `{"scaleURL":"http://carts:8080/scale"}`)}},
			wantOut: "Scaling of project sockshop, stage production, service carts:\n  scaleURL  http://carts:8080/scale\n",
		},
		{
			name: "unleash token from a file is sent, never printed",
			args: []string{"configure", "unleash", "--project", "sockshop", "--url", "http://unleash:4242", "--token", "file:" + secretFile},
			ex: []exchange{{method: "PUT", path: "/api/v1/project/sockshop/config/unleash",
				body:   `{"url":"http://unleash:4242","token":"` + secret + `"}`,
				answer: answer("unleash", `{"url":"http://unleash:4242","token":"****"}`)}},
			wantOut: "Unleash of project sockshop:\n  url    http://unleash:4242\n  token  ****\n",
		},
		{
			name: "webhook secret",
			args: []string{"configure", "secret", "restart-token", "--project", "sockshop", "--value", "file:" + secretFile, "--url", "https://hooks.example/restart"},
			ex: []exchange{{method: "PUT", path: "/api/v1/project/sockshop/config/secret/restart-token",
				body: `{"value":"` + secret + `","url":"https://hooks.example/restart"}`, answer: answer("secret/restart-token", `{"secret":"****","url":"https://hooks.example/restart"}`)}},
			wantOut: "Secret restart-token of project sockshop:\n  url     https://hooks.example/restart\n  secret  ****\n",
		},
		{name: "secret without value", args: []string{"configure", "secret", "x", "--project", "sockshop"}, code: ExitBadInput, wantErr: "--value is required"},
		{
			name: "pause a service",
			args: []string{"pause", "remediation", "--project", "sockshop", "--service", "carts", "--reason", "freeze"},
			ex: []exchange{{method: "POST", path: "/api/v1/project/sockshop/remediation/pause", body: `{"service":"carts","reason":"freeze"}`,
				answer: `{"project":"sockshop","service":"carts","paused":true,"remediations":["r1"]}`}},
			wantOut: "Remediation of service carts of project sockshop paused; 1 running remediation(s) told.\n",
		},
		{
			name: "resume a service of a paused project",
			args: []string{"resume", "remediation", "--project", "sockshop", "--service", "carts"},
			ex: []exchange{{method: "POST", path: "/api/v1/project/sockshop/remediation/resume", body: `{"service":"carts"}`,
				status: 409, answer: `{"code":409,"message":"remediation is paused for the whole project sockshop; resume the project (without service)"}`}},
			code: ExitBadInput, wantErr: "paused for the whole project",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, tt.ex...)
			useConfig(t, srv.url)
			r := runOnline(t, "", tt.args...)
			wantExit(t, r, tt.code)
			if tt.wantOut != "" && r.stdout != tt.wantOut {
				t.Errorf("stdout %q; want %q", r.stdout, tt.wantOut)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr %q; want %q", r.stderr, tt.wantErr)
			}
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("the secret was printed:\n%s%s", r.stdout, r.stderr)
			}
		})
	}
}

func TestServeRejectsABadConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tend.yaml")
	if err := os.WriteFile(path, []byte("escalation:\n  url: https://hooks.example/plain\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runOnline(t, "", "serve", "--config", path, "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0")
	wantExit(t, r, ExitBadInput)
	if !strings.Contains(r.stderr, path+":2:8: escalation.url: secrets must not be written here in plain text") {
		t.Errorf("stderr %q does not name the file, line and column", r.stderr)
	}
}
