package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/sequence"
)

// The commands of shipyard sequences: trigger sequence and delivery, send
// event new-artifact, approve and decline, pause/resume/abort sequence, get
// sequences. They speak Keptn's routes (POST /api/v1/event and
// /api/controlPlane/v1/sequence/...), as the keptn CLI does.

// cliSource is the source of the events these commands send.
const cliSource = "https://github.com/tendhq/tend/cli"

// sendSequenceTrigger posts <stage>.<name>.triggered with data and prints
// the keptn context.
func sendSequenceTrigger(ctx context.Context, s *streams, c *client.Client, format outputFormat, stage, name string, data map[string]any) error {
	ev, err := event.Builder{Source: cliSource}.New(event.SequenceType(stage, name, event.PhaseTriggered), "", "", data)
	if err != nil {
		return &usageError{err: err}
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if format != formatTable {
		_, raw, err := c.Raw(ctx, http.MethodPost, client.PathEvents, nil, body)
		if err != nil {
			return apiFailure(err)
		}
		return printRaw(s, format, raw)
	}
	kctx, err := c.SendEvent(ctx, body)
	if err != nil {
		return apiFailure(err)
	}
	fmt.Fprintf(s.out, "ID of Keptn context: %s\n", kctx)
	return nil
}

func newTriggerSequenceCommand(s *streams) *cobra.Command {
	var (
		project, stage, name, service string
		labels                        map[string]string
		format                        outputFormat
		conn                          *connFlags
	)
	cmd := &cobra.Command{
		Use:   "sequence --project P --stage S --sequence NAME [--service X] [--labels k=v,...]",
		Short: "Start a shipyard sequence in a stage",
		Long: `Trigger sequence sends sh.keptn.event.<stage>.<sequence>.triggered, as keptn
trigger sequence did: the server runs the sequence's tasks as the project's
shipyard lists them, one sequence at a time per project, stage and service
(a later one waits), and starts the sequences whose triggeredOn names it
when it finishes. "tend get sequences" follows it.

Exit status 0 when accepted, 2 on bad flags or a refused token, 3 when the
server failed or could not be reached.`,
		Example: `  tend trigger sequence --project sockshop --stage dev --sequence delivery-direct --service carts
  tend trigger sequence --project sockshop --stage production --sequence rollback --service carts --labels reason=incident-42`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			data := map[string]any{"project": project, "stage": stage}
			if service != "" {
				data["service"] = service
			}
			if len(labels) > 0 {
				data["labels"] = labels
			}
			return sendSequenceTrigger(cmd.Context(), s, c, format, stage, name, data)
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "the project (required)")
	cmd.Flags().StringVar(&stage, "stage", "", "the stage (required)")
	cmd.Flags().StringVar(&name, "sequence", "", "the sequence's name in the shipyard (required)")
	cmd.Flags().StringVar(&service, "service", "", "the service")
	cmd.Flags().StringToStringVar(&labels, "labels", nil, "labels carried into every task, k=v,k2=v2")
	addOutputFlag(cmd, &format)
	for _, f := range []string{"project", "stage", "sequence"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

func newTriggerDeliveryCommand(s *streams) *cobra.Command {
	var (
		project, stage, name, service, image, tag string
		values, labels                            map[string]string
		format                                    outputFormat
		conn                                      *connFlags
	)
	cmd := &cobra.Command{
		Use:   "delivery --project P --service X --image IMAGE[:TAG] [--stage S] [--sequence NAME] [--values k=v,...]",
		Short: "Deliver a new artifact of a service",
		Long: `Trigger delivery starts the delivery sequence (or --sequence) of a service in
--stage, by default the shipyard's first stage, as keptn trigger delivery
did. The data carries configurationChange.values.image (with --tag appended
when given) and --values, which every task receives; the following stages
run as their triggeredOn says.

Exit status 0 when accepted, 2 on bad flags, an unknown project or a
refused token, 3 when the server failed or could not be reached.`,
		Example: `  tend trigger delivery --project sockshop --service carts --image docker.io/keptnexamples/carts:0.13.1
  tend trigger delivery --project sockshop --service carts --image docker.io/keptnexamples/carts --tag 0.13.2 --stage staging --values replicas=2`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			return triggerDelivery(cmd.Context(), s, c, format, delivery{project: project, stage: stage, name: name, service: service,
				image: image, tag: tag, values: values, labels: labels})
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "the project (required)")
	cmd.Flags().StringVar(&service, "service", "", "the service (required)")
	cmd.Flags().StringVar(&image, "image", "", "the image to deliver (required)")
	cmd.Flags().StringVar(&tag, "tag", "", "the image's tag, appended to --image")
	cmd.Flags().StringVar(&stage, "stage", "", "the stage to start in (default: the shipyard's first)")
	cmd.Flags().StringVar(&name, "sequence", event.SequenceDelivery, "the sequence to start")
	cmd.Flags().StringToStringVar(&values, "values", nil, "further configurationChange values, k=v,k2=v2")
	cmd.Flags().StringToStringVar(&labels, "labels", nil, "labels carried into every task, k=v,k2=v2")
	addOutputFlag(cmd, &format)
	for _, f := range []string{"project", "service", "image"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

type delivery struct {
	project, stage, name, service, image, tag string
	values, labels                            map[string]string
}

func triggerDelivery(ctx context.Context, s *streams, c *client.Client, format outputFormat, d delivery) error {
	if d.stage == "" {
		p, err := c.GetProject(ctx, d.project)
		if err != nil {
			return apiFailure(err)
		}
		if len(p.Stages) == 0 {
			return &usageError{err: fmt.Errorf("project %s has no stages: give --stage", d.project)}
		}
		d.stage = p.Stages[0].StageName
	}
	img := d.image
	if d.tag != "" {
		img += ":" + d.tag
	}
	vals := map[string]any{"image": img}
	for k, v := range d.values {
		vals[k] = v
	}
	data := map[string]any{"project": d.project, "stage": d.stage, "service": d.service,
		"configurationChange": map[string]any{"values": vals}}
	if len(d.labels) > 0 {
		data["labels"] = d.labels
	}
	return sendSequenceTrigger(ctx, s, c, format, d.stage, d.name, data)
}

// newSendEventNewArtifactCommand is Keptn 0.6's "send event new-artifact":
// a delivery into the shipyard's first stage.
func newSendEventNewArtifactCommand(s *streams) *cobra.Command {
	var (
		project, service, image, tag string
		format                       outputFormat
		conn                         *connFlags
	)
	cmd := &cobra.Command{
		Use:   "new-artifact --project P --service X --image IMAGE [--tag TAG]",
		Short: "Deliver a new artifact into the first stage (Keptn 0.6's verb)",
		Long: `Send event new-artifact is Keptn 0.6's way to deliver a new image: tend
starts the delivery sequence of the service in the shipyard's first stage,
as tend trigger delivery does without --stage.`,
		Example: `  tend send event new-artifact --project sockshop --service carts --image docker.io/keptnexamples/carts --tag 0.13.1`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			return triggerDelivery(cmd.Context(), s, c, format, delivery{project: project, service: service, image: image, tag: tag, name: event.SequenceDelivery})
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "the project (required)")
	cmd.Flags().StringVar(&service, "service", "", "the service (required)")
	cmd.Flags().StringVar(&image, "image", "", "the image (required)")
	cmd.Flags().StringVar(&tag, "tag", "", "the image's tag")
	addOutputFlag(cmd, &format)
	for _, f := range []string{"project", "service", "image"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// newApprovalCommand is tend approve and tend decline.
func newApprovalCommand(s *streams, approve bool) *cobra.Command {
	var (
		project, kctx, stage, id string
		conn                     *connFlags
	)
	verb := "approve"
	if !approve {
		verb = "decline"
	}
	cmd := &cobra.Command{
		Use:   verb + " --project P (--keptn-context ID --stage S | --id TRIGGERED_ID)",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a manual approval that a sequence waits for",
		Long: `Approve and decline answer the open approval.triggered event of a sequence
(named by its keptn context and stage, or by the event's id) with
approval.finished: approve lets the sequence go on, decline ends it with
result fail. "tend get sequences --state started" and "keptn get event
approval.triggered" show what waits.

Exit status 0, 2 on bad flags or when no approval is open there, 3 when the
server failed or could not be reached.`,
		Example: "  tend " + verb + " --project sockshop --keptn-context 1b2c... --stage production",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (id == "") == (kctx == "" || stage == "") {
				return &usageError{err: errors.New("give --keptn-context and --stage, or --id")}
			}
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			trig, err := openApproval(ctx, c, project, kctx, stage, id)
			if err != nil {
				return err
			}
			ev, err := sequence.ApprovalAnswer(trig, approve, cliSource)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(ev)
			if _, err := c.SendEvent(ctx, body); err != nil {
				return apiFailure(err)
			}
			tc, _ := trig.Common()
			fmt.Fprintf(s.out, "%sd approval %s of stage %s (keptn context %s)\n", verb, trig.ID, tc.Stage, trig.KeptnContext)
			return nil
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "the project (required)")
	cmd.Flags().StringVar(&kctx, "keptn-context", "", "the sequence's keptn context")
	cmd.Flags().StringVar(&stage, "stage", "", "the stage whose approval to answer")
	cmd.Flags().StringVar(&id, "id", "", "the approval.triggered event's id")
	_ = cmd.MarkFlagRequired("project")
	return cmd
}

// openApproval finds the approval.triggered event that no approval.finished
// answers yet.
func openApproval(ctx context.Context, c *client.Client, project, kctx, stage, id string) (*event.Event, error) {
	q := url.Values{"project": {project}}
	if id != "" {
		q.Set("eventID", id)
	} else {
		q.Set("stage", stage)
	}
	_, raw, err := c.Raw(ctx, http.MethodGet, "/api/controlPlane/v1/event/triggered/"+event.TaskType(event.TaskApproval, event.PhaseTriggered), q, nil)
	if err != nil {
		return nil, apiFailure(err)
	}
	var list apitypes.TriggeredEventList
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, withExit(ExitServer, fmt.Errorf("read open approvals: %w", err))
	}
	for _, r := range list.Events {
		var ev event.Event
		if err := json.Unmarshal(r, &ev); err != nil {
			continue
		}
		if id != "" || ev.KeptnContext == event.ContextFor(kctx) {
			return &ev, nil
		}
	}
	if id != "" {
		return nil, &usageError{err: fmt.Errorf("no open approval with id %s in project %s", id, project)}
	}
	return nil, &usageError{err: fmt.Errorf("no open approval in stage %s of keptn context %s (project %s)", stage, kctx, project)}
}

// newSequenceControlCommand is "pause|resume|abort sequence".
func newSequenceControlCommand(s *streams, verb string) *cobra.Command {
	var (
		project, kctx, stage string
		conn                 *connFlags
	)
	cmd := &cobra.Command{
		Use:   "sequence --project P --keptn-context ID [--stage S]",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a running sequence",
		Long: `Pause, resume and abort control the sequence of a keptn context, in one
stage or in all, as keptn pause/resume/abort sequence did. A paused sequence
triggers no further task (the running task's answers are still recorded);
resume goes on; abort ends the running task's wait and finishes the
sequence with status aborted.

Exit status 0, 2 on bad flags, an unknown context or a sequence that cannot
take the control (an ended one), 3 when the server failed or could not be
reached.`,
		Example: "  tend " + verb + " sequence --project sockshop --keptn-context 1b2c... --stage staging",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(apitypes.KeptnSequenceControl{State: verb, Stage: stage})
			_, raw, err := c.Raw(cmd.Context(), http.MethodPost, "/api/controlPlane/v1/sequence/"+url.PathEscape(project)+"/"+url.PathEscape(kctx)+"/control", nil, body)
			if err != nil {
				return apiFailure(err)
			}
			var ans apitypes.KeptnSequenceControlAnswer
			_ = json.Unmarshal(raw, &ans)
			fmt.Fprintf(s.out, "%s sent to %d sequence(s) of keptn context %s\n", verb, len(ans.Sequences), kctx)
			return nil
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "the project (required)")
	cmd.Flags().StringVar(&kctx, "keptn-context", "", "the sequence's keptn context (required)")
	cmd.Flags().StringVar(&stage, "stage", "", "only this stage")
	_ = cmd.MarkFlagRequired("project")
	_ = cmd.MarkFlagRequired("keptn-context")
	return cmd
}

func newGetSequencesCommand(s *streams) *cobra.Command {
	var (
		project, stage, service, state, name string
		format                               outputFormat
		conn                                 *connFlags
	)
	cmd := &cobra.Command{
		Use:   "sequences --project P [--stage S] [--service X] [--state STATE] [--name NAME]",
		Short: "List a project's sequences and where they are",
		Long: `Get sequences lists the shipyard sequences of a project, newest first, one
line per stage they ran in: the keptn context, the sequence, the stage, its
state (waiting, started, paused, finished, aborted, timedOut), the task it
runs or waits for, and its result once ended. IMAGE is the image the
sequence deployed in the stage (from its deployment, release or rollback
finished events), else the image it delivers; EVALUATION is the stage's
quality gate, result and score.`,
		Example: "  tend get sequences --project sockshop --state started",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if state != "" && !validState(state) {
				return &usageError{err: fmt.Errorf("--state %q: use waiting, started, paused, finished, aborted or timedOut", state)}
			}
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			q := url.Values{"pageSize": {"500"}}
			for k, v := range map[string]string{"stage": stage, "service": service, "state": state, "name": name} {
				if v != "" {
					q.Set(k, v)
				}
			}
			_, raw, err := c.Raw(cmd.Context(), http.MethodGet, "/api/controlPlane/v1/sequence/"+url.PathEscape(project), q, nil)
			if err != nil {
				return apiFailure(err)
			}
			if format != formatTable {
				return printRaw(s, format, raw)
			}
			var out apitypes.KeptnSequenceStates
			if err := json.Unmarshal(raw, &out); err != nil {
				return withExit(ExitServer, fmt.Errorf("read sequences: %w", err))
			}
			return writeSequences(s.out, out)
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "the project (required)")
	cmd.Flags().StringVar(&stage, "stage", "", "only sequences that ran in this stage")
	cmd.Flags().StringVar(&service, "service", "", "only this service's sequences")
	cmd.Flags().StringVar(&state, "state", "", "only sequences in this state")
	cmd.Flags().StringVar(&name, "name", "", "only sequences of this name")
	addOutputFlag(cmd, &format)
	_ = cmd.MarkFlagRequired("project")
	return cmd
}

func validState(st string) bool {
	for _, s := range sequence.States {
		if string(s) == st {
			return true
		}
	}
	return false
}

func writeSequences(w io.Writer, out apitypes.KeptnSequenceStates) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEPTN CONTEXT\tSERVICE\tSEQUENCE\tSTAGE\tIMAGE\tSTATE\tTASK\tEVALUATION\tRESULT\tTIME")
	sort.SliceStable(out.States, func(i, j int) bool { return out.States[i].Time > out.States[j].Time })
	for _, st := range out.States {
		for _, sg := range st.Stages {
			task := sg.CurrentTask
			if task != "" && sg.CurrentTriggeredID != "" {
				task += " (" + sg.CurrentTriggeredID + ")"
			}
			gate := ""
			if e := sg.LatestEvaluation; e != nil {
				gate = fmt.Sprintf("%s (%s)", e.Result, strconv.FormatFloat(e.Score, 'f', -1, 64))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", st.KeptnContext, dash(st.Service), sg.Sequence, sg.Name, dash(sg.Image),
				sg.State, dash(task), dash(gate), dash(sg.Result), st.Time)
		}
	}
	return tw.Flush()
}
