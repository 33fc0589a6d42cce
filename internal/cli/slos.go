package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/apitypes"
)

func newGetSLOsCommand(s *streams) *cobra.Command {
	var (
		project, stage, service string
		format                  outputFormat
		conn                    *connFlags
	)
	cmd := &cobra.Command{
		Use:     "slos --project P [--stage S] [--service S]",
		Aliases: []string{"slo", "budgets"},
		Short:   "List the budget SLOs of a project with their remaining error budget and burn rates",
		Long: `Get slos lists the budget SLOs (Sloth and OpenSLO SLOs) whose recording rules
run in the project's Prometheus, the one "tend configure monitoring
prometheus" set: each SLO's objective and period, the share of the period's
error budget that remains, and the burn rate over 5m, 1h, 6h and 3d (the
windows' SLI error ratio divided by the budget ratio; 1 spends the budget
exactly over the period). The page thresholds of Sloth's burn-rate alerts
are shown beside them. The SLOs are found from the series of
slo:objective:ratio, so they show as soon as Prometheus loads the rules.
The same SLO in two stages is two rows (the rules carry the stage label).
docs/error-budgets.md says more.

Exit status 0, 2 on a refused token or bad flags, 3 when the server failed,
could not be reached or could not read Prometheus.`,
		Example: `  tend get slos --project sockshop
  tend get slos --project sockshop --stage production --service carts -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			out, err := c.GetBudgetSLOs(cmd.Context(), project, stage, service)
			if err != nil {
				return apiFailure(err)
			}
			if format == formatTable && len(out.SLOs) == 0 {
				fmt.Fprintf(s.err, "No budget SLOs in %s: its Prometheus has no series of slo:objective:ratio there. Add Sloth or OpenSLO specs as slo/*.yaml resources of the service and load the rules of tend generate alert-rules into Prometheus (docs/error-budgets.md).\n", apitypes.BudgetScope(project, stage, service))
				return nil
			}
			return writeOutput(s.out, format, out, func(w io.Writer) error {
				return printBudgetSLOs(w, out.SLOs)
			})
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "the project (required)")
	cmd.Flags().StringVar(&stage, "stage", "", "only the SLOs of this stage")
	cmd.Flags().StringVar(&service, "service", "", "only the SLOs of this service")
	_ = cmd.MarkFlagRequired("project")
	addOutputFlag(cmd, &format)
	return cmd
}

// budgetTableWindows are the burn-rate columns of the table.
var budgetTableWindows = []string{"5m", "1h", "6h", "3d"}

// printBudgetSLOs writes one row per SLO.
func printBudgetSLOs(w io.Writer, slos []apitypes.BudgetSLO) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"SLO", "STAGE", "SERVICE", "OBJECTIVE", "PERIOD", "REMAINING"}
	for _, win := range budgetTableWindows {
		head = append(head, "BURN "+win)
	}
	fmt.Fprintln(tw, strings.Join(append(head, "PAGE AT"), "\t"))
	for _, b := range slos {
		svc := b.TendService
		if svc == "" {
			svc = b.Service
		}
		remaining := "-"
		if b.Remaining != nil {
			remaining = strconv.FormatFloat(*b.Remaining*100, 'f', 1, 64) + "%"
		}
		row := []string{flatText(b.ID), dash(flatText(b.Stage)), dash(flatText(svc)), strconv.FormatFloat(b.Objective*100, 'f', -1, 64) + "%",
			strconv.FormatFloat(b.PeriodDays, 'f', -1, 64) + "d", remaining}
		for _, win := range budgetTableWindows {
			cell := "-"
			if v, ok := b.BurnRates[win]; ok {
				cell = strconv.FormatFloat(v, 'f', 2, 64)
			}
			row = append(row, cell)
		}
		var page []string
		for _, th := range b.Thresholds {
			if th.Severity == "page" {
				page = append(page, fmt.Sprintf("%g (%s/%s)", th.Factor, th.Short, th.Long))
			}
		}
		fmt.Fprintln(tw, strings.Join(append(row, dash(strings.Join(page, ", "))), "\t"))
	}
	return tw.Flush()
}
