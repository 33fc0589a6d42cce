package keptncli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/testenv"
	"github.com/tendhq/tend/internal/testenv/tendapi"
	"github.com/tendhq/tend/internal/testenv/tendproc"
)

// approvalShipyard asks for a manual approval before every release.
const approvalShipyard = `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: shipyard-approval
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - name: approval
              properties:
                pass: manual
                warning: manual
        - name: hold
          tasks:
            - name: wait-for-me
`

// answerPrompts runs the keptn CLI and answers its prompts in turn (the
// prompts of send event approval.finished --service): each answer is
// written once the CLI's output shows the prompt it answers. The CLI reads
// each prompt's line through a new buffered reader, so the lines must not
// arrive together.
func (k keptn) answerPrompts(t *testing.T, prompts, answers []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+k.home, "KUBECONFIG="+filepath.Join(k.home, "no-kubeconfig"))
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &tendproc.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i, p := range prompts {
		for !strings.Contains(out.String(), p) {
			if ctx.Err() != nil {
				t.Fatalf("keptn %s: no prompt %q:\n%s", strings.Join(args, " "), p, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := io.WriteString(in, answers[i]+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	_ = in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("keptn %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out.String()
}

// stageState waits until the context's sequence in dev is in state want
// and returns it.
func stageState(t *testing.T, c *client.Client, kctx, want string) apitypes.KeptnSequenceStateStage {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last []byte
	for {
		_, raw, err := c.Raw(context.Background(), http.MethodGet, "/api/controlPlane/v1/sequence/sockshop", map[string][]string{"keptnContext": {kctx}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		last = raw
		var out apitypes.KeptnSequenceStates
		_ = json.Unmarshal(raw, &out)
		for _, s := range out.States {
			for _, st := range s.Stages {
				if st.Name == "dev" && st.State == want {
					return st
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sequence %s never reached %s: %s", kctx, want, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startedHold waits for the started hold sequence and returns its context.
func startedHold(t *testing.T, c *client.Client) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, raw, err := c.Raw(context.Background(), http.MethodGet, "/api/controlPlane/v1/sequence/sockshop", map[string][]string{"name": {"hold"}, "state": {"started"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out apitypes.KeptnSequenceStates
		_ = json.Unmarshal(raw, &out)
		if len(out.States) == 1 {
			return out.States[0].KeptnContext
		}
		if time.Now().After(deadline) {
			t.Fatalf("no started hold sequence: %s", raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKeptnCLISequences: manual approval through the keptn CLI (the
// sequence waits; send event approval.finished --id lets it go on; a
// decline through the interactive prompt ends it fail), and sequence
// control (pause, resume, abort) through keptn's and tend's verbs.
func TestKeptnCLISequences(t *testing.T) {
	bin := testenv.KeptnCLIPath(t)
	tend := tendproc.Build(t, "tend-keptncli-seq-")
	srv := tendapi.Start(t, tend, "")
	token := srv.Admin
	c := srv.AdminClient(t)
	dir := t.TempDir()
	k := newKeptn(t, bin, dir)
	k.run(t, "auth", "--endpoint", srv.URL, "--api-token", token)
	k.run(t, "create", "project", "sockshop", "--shipyard", writeFile(t, dir, "shipyard.yaml", approvalShipyard))
	k.run(t, "create", "service", "carts", "--project", "sockshop")
	tendCLI := func(t *testing.T, args ...string) string {
		t.Helper()
		cmd := exec.Command(tend, append(args, "--endpoint", srv.URL, "--api-token", token)...)
		cmd.Env = append(os.Environ(), "HOME="+k.home)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tend %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	t.Run("approve with send event approval.finished --id", func(t *testing.T) {
		kctx := keptnContext(t, k.run(t, "trigger", "delivery", "--project", "sockshop", "--service", "carts", "--image", "ghcr.io/podtato/carts:0.1.1"))
		st := stageState(t, c, kctx, "started")
		if st.CurrentTask != "approval" || st.CurrentTriggeredID == "" {
			t.Fatalf("the sequence does not wait for its approval: %+v", st)
		}
		// keptn get event approval.triggered lists what waits.
		if out := k.run(t, "get", "event", "approval.triggered", "--project", "sockshop", "--stage", "dev"); !strings.Contains(out, st.CurrentTriggeredID) {
			t.Errorf("get event approval.triggered does not list %s:\n%s", st.CurrentTriggeredID, out)
		}
		time.Sleep(200 * time.Millisecond)
		stageState(t, c, kctx, "started") // still waiting
		k.run(t, "send", "event", "approval.finished", "--project", "sockshop", "--stage", "dev", "--id", st.CurrentTriggeredID)
		done := stageState(t, c, kctx, "finished")
		if done.Result != "pass" {
			t.Errorf("approved sequence ended %+v", done)
		}
	})

	t.Run("decline through the keptn CLI's prompt", func(t *testing.T) {
		kctx := keptnContext(t, k.run(t, "trigger", "delivery", "--project", "sockshop", "--service", "carts", "--image", "ghcr.io/podtato/carts:0.1.2"))
		stageState(t, c, kctx, "started")
		// Option 1 (the only open approval), then (d)ecline.
		k.answerPrompts(t, []string{"Select the option", "(a)pprove or (d)ecline"}, []string{"1", "d"},
			"send", "event", "approval.finished", "--project", "sockshop", "--stage", "dev", "--service", "carts")
		done := stageState(t, c, kctx, "finished")
		if done.Result != "fail" {
			t.Errorf("declined sequence ended %+v", done)
		}
	})

	t.Run("tend approve and decline", func(t *testing.T) {
		kctx := keptnContext(t, tendCLI(t, "trigger", "delivery", "--project", "sockshop", "--service", "carts", "--image", "ghcr.io/podtato/carts", "--tag", "0.1.3"))
		stageState(t, c, kctx, "started")
		out := tendCLI(t, "get", "sequences", "--project", "sockshop", "--state", "started")
		if !strings.Contains(out, kctx) || !strings.Contains(out, "approval") {
			t.Errorf("tend get sequences:\n%s", out)
		}
		tendCLI(t, "approve", "--project", "sockshop", "--keptn-context", kctx, "--stage", "dev")
		if st := stageState(t, c, kctx, "finished"); st.Result != "pass" || st.Image != "ghcr.io/podtato/carts:0.1.3" {
			t.Errorf("approved: %+v", st)
		}
		kctx = keptnContext(t, tendCLI(t, "send", "event", "new-artifact", "--project", "sockshop", "--service", "carts", "--image", "ghcr.io/podtato/carts", "--tag", "0.1.4"))
		stageState(t, c, kctx, "started")
		tendCLI(t, "decline", "--project", "sockshop", "--keptn-context", kctx, "--stage", "dev")
		if st := stageState(t, c, kctx, "finished"); st.Result != "fail" {
			t.Errorf("declined: %+v", st)
		}
	})

	t.Run("pause, resume and abort", func(t *testing.T) {
		// keptn trigger sequence prints no context: the sequence list has it.
		k.run(t, "trigger", "sequence", "hold", "--project", "sockshop", "--stage", "dev", "--service", "carts")
		kctx := startedHold(t, c)
		k.run(t, "pause", "sequence", "--project", "sockshop", "--keptn-context", kctx)
		stageState(t, c, kctx, "paused")
		k.run(t, "resume", "sequence", "--project", "sockshop", "--keptn-context", kctx, "--stage", "dev")
		stageState(t, c, kctx, "started")
		tendCLI(t, "pause", "sequence", "--project", "sockshop", "--keptn-context", kctx)
		stageState(t, c, kctx, "paused")
		tendCLI(t, "resume", "sequence", "--project", "sockshop", "--keptn-context", kctx)
		stageState(t, c, kctx, "started")
		k.run(t, "abort", "sequence", "--project", "sockshop", "--keptn-context", kctx)
		if st := stageState(t, c, kctx, "aborted"); st.Status != "aborted" {
			t.Errorf("aborted: %+v", st)
		}
		// The aborted task is no longer offered to executors.
		_, raw, err := c.Raw(context.Background(), http.MethodGet, "/api/controlPlane/v1/event/triggered/sh.keptn.event.wait-for-me.triggered", map[string][]string{"project": {"sockshop"}}, nil)
		if err != nil || !strings.Contains(string(raw), `"events":[]`) {
			t.Errorf("the aborted task is still open: %s %v", raw, err)
		}
		kctx = keptnContext(t, tendCLI(t, "trigger", "sequence", "--project", "sockshop", "--stage", "dev", "--sequence", "hold", "--service", "carts", "--labels", "run=2"))
		stageState(t, c, kctx, "started")
		tendCLI(t, "abort", "sequence", "--project", "sockshop", "--keptn-context", kctx, "--stage", "dev")
		stageState(t, c, kctx, "aborted")
	})
}
