package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
)

// problemStateFlag is --state of get problems; a wrong value is a flag
// error (exit 2) before anything is sent.
type problemStateFlag string

func (f *problemStateFlag) String() string { return string(*f) }

func (f *problemStateFlag) Set(v string) error {
	switch v {
	case "open", "closed", "unmatched":
		*f = problemStateFlag(v)
		return nil
	}
	return fmt.Errorf("unknown problem state %q: want open, closed or unmatched", v)
}

func (f *problemStateFlag) Type() string { return "state" }

func newGetProblemsCommand(s *streams) *cobra.Command {
	var (
		f      client.ProblemFilter
		state  problemStateFlag
		format outputFormat
		conn   *connFlags
	)
	cmd := &cobra.Command{
		Use:   "problems [--project P] [--stage S] [--service X] [--state open|closed|unmatched]",
		Short: "List problems with the remediation acting on each",
		Long: `Get problems lists the problems tend took in (Alertmanager alerts, Dynatrace
and Keptn problem events), newest first: open and closed ones, and the
unmatched ones that named no usable project, stage or service. Each row shows
the remediation acting on the problem and its state; a problem without one
says why (for example "remediation not enabled in stage").

Repeated notifications of one problem (retries, HA Alertmanager copies,
re-notifications) are one problem; the KEY column is its identity.

Exit status 0, 2 on a refused token or bad flags, 3 when the server failed or
could not be reached.`,
		Example: `  tend get problems --project sockshop
  tend get problems --project sockshop --state open
  tend get problems --state unmatched -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			f.State = string(state)
			ps, err := c.ListProblems(cmd.Context(), f)
			if err != nil {
				return apiFailure(err)
			}
			if format == formatTable && len(ps) == 0 {
				fmt.Fprintln(s.err, "No problems.")
				return nil
			}
			return writeOutput(s.out, format, apitypes.ProblemList{Problems: ps, PageSize: len(ps)}, func(w io.Writer) error {
				return printProblems(w, ps)
			})
		},
	}
	conn = addConnFlags(cmd)
	addProblemFilterFlags(cmd, &f)
	cmd.Flags().Var(&state, "state", "only problems in this state: open, closed or unmatched")
	addOutputFlag(cmd, &format)
	return cmd
}

func addProblemFilterFlags(cmd *cobra.Command, f *client.ProblemFilter) {
	cmd.Flags().StringVar(&f.Project, "project", "", "only this project (default: every project the token may read)")
	cmd.Flags().StringVar(&f.Stage, "stage", "", "only this stage")
	cmd.Flags().StringVar(&f.Service, "service", "", "only this service")
}

func printProblems(w io.Writer, ps []apitypes.Problem) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tPROJECT\tSTAGE\tSERVICE\tTITLE\tOPENED\tREMEDIATION\tREMEDIATION STATE")
	for _, p := range ps {
		rem, remState := dash(p.RemediationID), dash(p.RemediationState)
		if p.RemediationID == "" && p.Reason != "" {
			remState = p.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.State, dash(p.Project), dash(p.Stage), dash(p.Service),
			dash(flatText(p.Title)), formatTime(p.OpenedAt), rem, remState)
	}
	return tw.Flush()
}

// flatText keeps a table row on one line.
func flatText(s string) string { return strings.Join(strings.Fields(s), " ") }

func newGetProblemCommand(s *streams) *cobra.Command {
	return getOneCommand(s, &cobra.Command{
		Use:   "problem ID",
		Short: "Show one problem",
		Long: `Get problem shows one problem: where it is, what its source said, when it
opened and closed, and the remediation acting on it. -o json prints the
server's answer unchanged.

Exit status 0, 2 on an unknown problem or a refused token, 3 when the server
failed or could not be reached.`,
		Example: `  tend get problem 0d6f2a52-0c9e-4a39-8d0c-2f8a3b7c5e11`,
	}, client.ProblemPath, (*client.Client).GetProblem, printProblem)
}

func printProblem(w io.Writer, p *apitypes.Problem) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	closed := "-"
	if p.ClosedAt != nil {
		closed = formatTime(*p.ClosedAt)
	}
	rows := [][2]string{
		{"ID", p.ID}, {"Key", p.Key}, {"State", p.State}, {"Source", p.Source},
		{"Project", dash(p.Project)}, {"Stage", dash(p.Stage)}, {"Service", dash(p.Service)},
		{"Title", dash(flatText(p.Title))}, {"Root cause", dash(p.RootCause)}, {"URL", dash(p.URL)},
		{"Keptn context", dash(p.KeptnContext)}, {"Opened", formatTime(p.OpenedAt)}, {"Closed", closed},
		{"Remediation", dash(p.RemediationID)}, {"Remediation state", dash(p.RemediationState)},
	}
	if p.Reason != "" {
		rows = append(rows, [2]string{"Reason", p.Reason})
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

func newGetRemediationsCommand(s *streams) *cobra.Command {
	var (
		f      client.ProblemFilter
		format outputFormat
		conn   *connFlags
	)
	cmd := &cobra.Command{
		Use:   "remediations [--project P] [--stage S] [--service X] [--state STATE] [--running]",
		Short: "List remediations and their state",
		Long: `Get remediations lists remediations, newest first, with their state (waiting,
preparing, applying, settling, verifying, paused, resolved, escalated,
stopped), their problems and how far their actions got. A service has at
most one running remediation; new problems of the service join it.

Exit status 0, 2 on a refused token or bad flags, 3 when the server failed or
could not be reached.`,
		Example: `  tend get remediations --project sockshop
  tend get remediations --running -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			rs, err := c.ListRemediations(cmd.Context(), f)
			if err != nil {
				return apiFailure(err)
			}
			if format == formatTable && len(rs) == 0 {
				fmt.Fprintln(s.err, "No remediations.")
				return nil
			}
			return writeOutput(s.out, format, apitypes.RemediationList{Remediations: rs, PageSize: len(rs)}, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATE\tPROJECT\tSTAGE\tSERVICE\tTITLE\tPROBLEMS\tACTIONS\tCREATED")
				for _, r := range rs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.ID, r.State, r.Project, r.Stage, r.Service,
						dash(flatText(r.Title)), len(r.Problems), actionProgress(r.Actions), formatTime(r.CreatedAt))
				}
				return tw.Flush()
			})
		},
	}
	conn = addConnFlags(cmd)
	addProblemFilterFlags(cmd, &f)
	cmd.Flags().StringVar(&f.State, "state", "", "only remediations in this state")
	cmd.Flags().BoolVar(&f.Running, "running", false, "only remediations that have not ended")
	addOutputFlag(cmd, &format)
	return cmd
}

// actionProgress says how many actions were reached out of how many.
func actionProgress(as []apitypes.RemediationAction) string {
	reached := 0
	for _, a := range as {
		if a.State != "" {
			reached++
		}
	}
	return fmt.Sprintf("%d/%d", reached, len(as))
}

func newGetRemediationCommand(s *streams) *cobra.Command {
	return getOneCommand(s, &cobra.Command{
		Use:   "remediation ID",
		Short: "Show one remediation: state, problems, actions and evaluations",
		Long: `Get remediation shows one remediation as stored: its state and why it ended,
the problems it acts on, each action of the remediation file with what became
of it, and the evaluations that verified them. Every step is also a Keptn
event in its keptn context (tend get event --keptn-context). -o json prints
the server's answer unchanged.

Exit status 0, 2 on an unknown remediation or a refused token, 3 when the
server failed or could not be reached.`,
		Example: `  tend get remediation 5b0e8d4e-2f7a-4c8e-9b1d-1c2e3f4a5b6c`,
	}, client.RemediationPath, (*client.Client).GetRemediation, printRemediation)
}

func printRemediation(w io.Writer, r *apitypes.Remediation) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	finished := "-"
	if r.FinishedAt != nil {
		finished = formatTime(*r.FinishedAt)
	}
	for _, row := range [][2]string{
		{"ID", r.ID}, {"State", r.State}, {"Project", r.Project}, {"Stage", r.Stage}, {"Service", r.Service},
		{"Title", dash(flatText(r.Title))}, {"Root cause", dash(r.RootCause)}, {"Keptn context", r.KeptnContext},
		{"Created", formatTime(r.CreatedAt)}, {"Finished", finished}, {"Reason", dash(r.Reason)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nProblems:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tCLOSED")
	for _, p := range r.Problems {
		fmt.Fprintf(tw, "  %s\t%t\n", p.ID, p.Closed)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nActions:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tNAME\tACTION\tSTATE\tCHANGES\tPLAN\tERROR")
	for _, a := range r.Actions {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Index+1, dash(a.Name), a.Action, dash(a.State), dash(changesText(a.Changes)), dash(flatText(a.Plan)), dash(flatText(a.Error)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Evaluations) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nEvaluations:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ACTION\tSTATE\tRESULT\tSCORE\tWINDOW")
	for _, e := range r.Evaluations {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s .. %s\n", e.Action+1, e.State, dash(e.Result), formatNumber(e.Score), formatTime(e.From), formatTime(e.To))
	}
	return tw.Flush()
}
