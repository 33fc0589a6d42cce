package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/evaluation"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/spec"
)

// newTriggerCommand is keptn's `trigger` verb; evaluation is its noun.
func newTriggerCommand(s *streams) *cobra.Command {
	return groupCommand("trigger", "Start a sequence on the tend server",
		newTriggerEvaluationCommand(s),
		newTriggerSequenceCommand(s),
		newTriggerDeliveryCommand(s),
	)
}

// watchPoll is how often --watch asks for the context's new events.
const watchPoll = 250 * time.Millisecond

func newTriggerEvaluationCommand(s *streams) *cobra.Command {
	var (
		project, stage, service string
		timeframe, start, end   string
		labels                  map[string]string
		watch                   bool
		watchTimeout            time.Duration
		format                  outputFormat
		conn                    *connFlags
	)
	cmd := &cobra.Command{
		Use:   "evaluation --project P --stage S --service X (--timeframe 5m | --start T [--end T | --timeframe D]) [--labels k=v,...] [--watch]",
		Short: "Run the quality gate of a service on live monitoring data",
		Long: `Trigger evaluation runs Keptn's evaluation sequence on the server: the SLIs
of the service's slo.yaml are fetched from the configured SLI provider (tend
configure monitoring) for the window given, scored against the SLO and
compared with earlier evaluations, all in one keptn context.

The window: --timeframe alone ends now; --start alone runs until now;
--start with --end, or --start with --timeframe. --end together with
--timeframe is an error. Times are RFC 3339 (2024-05-01T12:00:00Z); a
timeframe is a duration such as 5m or 1h30m. No window flag means the last
5 minutes. --labels become the events' labels ($LABEL.<name> in queries).

Without --watch it prints the keptn context and exits 0 once the server has
accepted the evaluation. With --watch it prints each event of the context as
it arrives (on stderr), then the evaluation (-o json: the
evaluation.finished event), and exits as tend evaluate does: 0 for pass or
warning, 1 for fail. "tend get event evaluation.finished --keptn-context ID"
shows the result later.

Exit status 2 on bad flags or a refused token, 3 when the server failed or
could not be reached, or the evaluation did not finish within
--watch-timeout.`,
		Example: `  tend trigger evaluation --project sockshop --stage production --service carts --timeframe 5m
  tend trigger evaluation --project sockshop --stage production --service carts --start 2024-05-01T12:00:00Z --end 2024-05-01T12:10:00Z --watch
  tend trigger evaluation --project sockshop --stage production --service carts --timeframe 10m --labels buildId=42,runner=ci --watch -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := evaluation.Window(time.Now(), timeframe, start, end); err != nil {
				return &usageError{err: flagWords(err)}
			}
			if watchTimeout <= 0 {
				return &usageError{err: fmt.Errorf("--watch-timeout %s: want a positive duration", watchTimeout)}
			}
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			req := apitypes.TriggerEvaluationRequest{Timeframe: timeframe, Start: start, End: end, Labels: labels}
			ctx := cmd.Context()
			var kctx string
			if format != formatTable && !watch {
				body, err := json.Marshal(req)
				if err != nil {
					return err
				}
				_, raw, err := c.Raw(ctx, http.MethodPost, client.EvaluationPath(project, stage, service), nil, body)
				if err != nil {
					return apiFailure(err)
				}
				return printRaw(s, format, raw)
			}
			kctx, err = c.TriggerEvaluation(ctx, project, stage, service, req)
			if err != nil {
				return apiFailure(err)
			}
			if !watch {
				fmt.Fprintf(s.out, "ID of Keptn context: %s\n", kctx)
				return nil
			}
			progress(s, "ID of Keptn context: %s", kctx)
			raw, err := watchEvaluation(ctx, s, c, project, kctx, watchTimeout)
			if err != nil {
				return err
			}
			return printEvaluation(s, format, raw)
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "the project (required)")
	cmd.Flags().StringVar(&stage, "stage", "", "the stage (required)")
	cmd.Flags().StringVar(&service, "service", "", "the service (required)")
	cmd.Flags().StringVar(&timeframe, "timeframe", "", "length of the window, e.g. 5m (ends now, or at --start plus it)")
	cmd.Flags().StringVar(&start, "start", "", "start of the window, RFC 3339")
	cmd.Flags().StringVar(&end, "end", "", "end of the window, RFC 3339 (needs --start; not with --timeframe)")
	cmd.Flags().StringToStringVar(&labels, "labels", nil, "labels of the evaluation, k=v,k2=v2")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "follow the evaluation and exit with its result (0 pass/warning, 1 fail)")
	cmd.Flags().DurationVar(&watchTimeout, "watch-timeout", 10*time.Minute, "give up watching after this long (exit 3)")
	addOutputFlag(cmd, &format)
	for _, f := range []string{"project", "stage", "service"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// flagWords turns the window error's field names into the flags' names.
func flagWords(err error) error {
	msg := strings.TrimPrefix(err.Error(), evaluation.ErrWindow.Error()+": ")
	for _, w := range []string{"timeframe", "start", "end"} {
		msg = strings.ReplaceAll(msg, w+" ", "--"+w+" ")
		msg = strings.ReplaceAll(msg, w+",", "--"+w+",")
	}
	msg = strings.ReplaceAll(msg, "the --end", "the end")
	msg = strings.ReplaceAll(msg, "the --start", "the start")
	return errors.New(msg)
}

// watchEvaluation prints the context's events as they arrive until its
// evaluation.finished, and returns that event.
func watchEvaluation(ctx context.Context, s *streams, c *client.Client, project, kctx string, timeout time.Duration) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	seen := map[string]bool{}
	tick := time.NewTicker(watchPoll)
	defer tick.Stop()
	for {
		page, err := c.ListEvents(ctx, client.EventFilter{Project: project, KeptnContext: kctx, PageSize: 500})
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return nil, apiFailure(err)
		}
		var fin json.RawMessage
		for i := len(page.Events) - 1; i >= 0; i-- {
			raw := page.Events[i]
			var ev struct {
				ID, Type string
			}
			_ = json.Unmarshal(raw, &ev)
			if seen[ev.ID] {
				continue
			}
			seen[ev.ID] = true
			sum := summarizeEvent(raw)
			progress(s, "%s  %-34s %s", sum.time, shortEventType(ev.Type), strings.TrimSpace(sum.result+" "+sum.status))
			if ev.Type == event.TypeEvaluationFinished {
				fin = raw
			}
		}
		if fin != nil {
			return fin, nil
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
			continue
		}
		break
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, withExit(ExitServer, fmt.Errorf("evaluation %s did not finish within --watch-timeout %s; look later with: tend get event evaluation.finished --keptn-context %s", kctx, timeout, kctx))
	}
	return nil, withExit(ExitServer, fmt.Errorf("stopped watching evaluation %s: %w", kctx, ctx.Err()))
}

// finishedEvent is what the CLI reads of evaluation.finished.
type finishedEvent struct {
	Data struct {
		Result     string `json:"result"`
		Message    string `json:"message"`
		Evaluation *struct {
			slo.Evaluation
			SLOFileContent string `json:"sloFileContent"`
		} `json:"evaluation"`
	} `json:"data"`
}

// printEvaluation prints an evaluation.finished event (the raw event for
// -o json and yaml, the evaluation table otherwise) and returns the gate's
// exit status.
func printEvaluation(s *streams, format outputFormat, raw json.RawMessage) error {
	var f finishedEvent
	if err := json.Unmarshal(raw, &f); err != nil {
		return withExit(ExitServer, fmt.Errorf("read evaluation.finished: %w", err))
	}
	ev := slo.Evaluation{Result: slo.Result(f.Data.Result), Message: f.Data.Message}
	var objective *slo.SLO
	if e := f.Data.Evaluation; e != nil {
		ev = e.Evaluation
		if ev.Message == "" {
			ev.Message = f.Data.Message
		}
		if b, err := base64.StdEncoding.DecodeString(e.SLOFileContent); err == nil && len(b) > 0 {
			if sl, diags := spec.DecodeSLO("slo.yaml", b); sl != nil && !diags.HasErrors() {
				objective = sl
			}
		}
	}
	if ev.Result == "" {
		ev.Result = slo.Fail
	}
	if format != formatTable {
		if err := printRaw(s, format, raw); err != nil {
			return err
		}
	} else if err := writeEvaluationTable(s.out, objective, &ev); err != nil {
		return fmt.Errorf("print evaluation: %w", err)
	}
	return gateExit(ev.Result, slo.Fail)
}
