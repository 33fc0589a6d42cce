package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
)

// The pause and resume commands of issue 5; the remediation settings
// commands are settings.go's.

// newPauseCommand and newResumeCommand are the pause and resume verbs;
// remediation is their noun.
func newPauseCommand(s *streams) *cobra.Command {
	return groupCommand("pause", "Pause work on the tend server", newPauseRemediationCommand(s, true), newSequenceControlCommand(s, "pause"))
}

func newResumeCommand(s *streams) *cobra.Command {
	return groupCommand("resume", "Resume work on the tend server", newPauseRemediationCommand(s, false), newSequenceControlCommand(s, "resume"))
}

func newPauseRemediationCommand(s *streams, pause bool) *cobra.Command {
	var (
		project, service, reason string
		format                   outputFormat
		conn                     *connFlags
	)
	verb := "pause"
	long := `Pause remediation stops self-healing for a project or one service (in every
stage): running remediations stop after their current step (at once when
waiting or settling) and stay paused; new problems are recorded but not
acted on until tend resume remediation.`
	if !pause {
		verb = "resume"
		long = `Resume remediation lifts a pause of a project or service: paused
remediations go on with their next step, and new problems are acted on
again. A service cannot be resumed while its whole project is paused.`
	}
	cmd := &cobra.Command{
		Use:     "remediation --project P [--service X]",
		Short:   strings.ToUpper(verb[:1]) + verb[1:] + " remediation of a project or service",
		Long:    long + "\n\nExit status 0, 2 on bad flags or an unknown project or service, 3 when the\nserver failed or could not be reached.",
		Example: "  tend " + verb + " remediation --project sockshop --service carts",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			path := client.PausePath(project)
			if !pause {
				path = client.ResumePath(project)
			}
			b, _ := json.Marshal(apitypes.PauseRequest{Service: service, Reason: reason})
			_, raw, err := c.Raw(cmd.Context(), http.MethodPost, path, nil, b)
			if err != nil {
				return apiFailure(err)
			}
			if format != formatTable {
				return printRaw(s, format, raw)
			}
			var ans apitypes.PauseAnswer
			_ = json.Unmarshal(raw, &ans)
			what := "project " + project
			if service != "" {
				what = "service " + service + " of project " + project
			}
			state := "paused"
			if !pause {
				state = "resumed"
			}
			fmt.Fprintf(s.out, "Remediation of %s %s; %d running remediation(s) told.\n", what, state, len(ans.Remediations))
			return nil
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "the project (required)")
	_ = cmd.MarkFlagRequired("project")
	cmd.Flags().StringVar(&service, "service", "", "only this service (in every stage)")
	if pause {
		cmd.Flags().StringVar(&reason, "reason", "", "why, recorded with the pause")
	}
	addOutputFlag(cmd, &format)
	return cmd
}

// changesText shows an action's changes as "replicas 1 -> 2, ...".
func changesText(cs []apitypes.ActionChange) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Target + " " + c.From + " -> " + c.To
	}
	return strings.Join(parts, ", ")
}
