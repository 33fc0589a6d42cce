package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/event"
)

// newInvalidateCommand holds `invalidate evaluation`, Keptn's "ignore for
// comparison" of the Bridge.
func newInvalidateCommand(s *streams) *cobra.Command {
	return groupCommand("invalidate", "Withdraw a result from later comparisons",
		newInvalidateEvaluationCommand(s),
	)
}

func newInvalidateEvaluationCommand(s *streams) *cobra.Command {
	var (
		kctx                    string
		project, stage, service string
		conn                    *connFlags
	)
	cmd := &cobra.Command{
		Use:   "evaluation --keptn-context ID [--project P --stage S --service X]",
		Short: "Keep an evaluation out of later baselines (Keptn's ignore for comparison)",
		Long: `Invalidate evaluation marks the finished evaluation of a keptn context as
invalid with the event sh.keptn.event.evaluation.invalidated: later
evaluations of the same project, stage and service no longer compare with
it. The evaluation itself and its events stay. Without --project, --stage
and --service they are read from the evaluation. Invalidating twice is
harmless.

Exit status 0, 2 on bad flags, a refused token or when the context holds no
finished evaluation, 3 when the server failed or could not be reached.`,
		Example: `  tend invalidate evaluation --keptn-context 9c7f0e9e-4e0c-4c39-9d51-46f3c1b5c0aa`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if project == "" || stage == "" || service == "" {
				page, err := c.ListEvents(ctx, client.EventFilter{Project: project, Stage: stage, Service: service, KeptnContext: kctx, Type: event.TypeEvaluationFinished})
				if err != nil {
					return apiFailure(err)
				}
				where := map[[3]string]bool{}
				for _, raw := range page.Events {
					var ev struct {
						Data struct{ Project, Stage, Service string } `json:"data"`
					}
					if json.Unmarshal(raw, &ev) == nil {
						where[[3]string{ev.Data.Project, ev.Data.Stage, ev.Data.Service}] = true
					}
				}
				switch len(where) {
				case 0:
					return inputError(fmt.Errorf("keptn context %s holds no finished evaluation; check the ID (tend get events --keptn-context %s)", kctx, kctx))
				case 1:
					for w := range where {
						project, stage, service = w[0], w[1], w[2]
					}
				default:
					return &usageError{err: errors.New("keptn context " + kctx + " holds evaluations of several services; name one with --project, --stage and --service")}
				}
			}
			if err := c.InvalidateEvaluation(ctx, project, stage, service, kctx); err != nil {
				return apiFailure(err)
			}
			fmt.Fprintf(s.out, "Evaluation %s of %s/%s/%s invalidated: later evaluations do not compare with it\n", kctx, project, stage, service)
			return nil
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().StringVar(&kctx, "keptn-context", "", "the keptn context of the evaluation (required)")
	cmd.Flags().StringVar(&project, "project", "", "the evaluation's project (default: read from the evaluation)")
	cmd.Flags().StringVar(&stage, "stage", "", "the evaluation's stage (default: read from the evaluation)")
	cmd.Flags().StringVar(&service, "service", "", "the evaluation's service (default: read from the evaluation)")
	_ = cmd.MarkFlagRequired("keptn-context")
	return cmd
}
