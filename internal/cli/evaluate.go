package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/slo"
)

// failOnFlag is the value of --fail-on: the weakest result that exits 1.
type failOnFlag slo.Result

func (f *failOnFlag) String() string { return string(*f) }

func (f *failOnFlag) Set(v string) error {
	switch r := slo.Result(v); r {
	case slo.Fail, slo.Warning:
		*f = failOnFlag(r)
		return nil
	}
	return fmt.Errorf("unknown result %q: want fail or warning", v)
}

func (f *failOnFlag) Type() string { return "result" }

func newEvaluateCommand(s *streams) *cobra.Command {
	var (
		sloFile, sliFile, prevFile string
		format                     outputFormat
		failOn                     = failOnFlag(slo.Fail)
	)
	cmd := &cobra.Command{
		Use:   "evaluate --slo FILE --sli FILE [--previous FILE]",
		Short: "Evaluate an SLO against SLI values: the offline quality gate",
		Long: `Evaluate scores SLI values against an SLO file as Keptn's quality gate did,
without a server. Relative criteria such as <=+10% compare with the earlier
evaluations in --previous, chosen by the SLO's comparison block.

--sli takes Keptn's indicatorValues list
  [{"metric": "response_time_p90", "value": 850, "success": true}]
or a plain object {"response_time_p90": 850}.
--previous takes a JSON list of earlier Keptn evaluation objects, newest
first (each with "result" and "indicatorResults"; "id" and "invalidated" are
optional), evaluation.finished event data or events, or the answer of
Keptn's events API ({"events": [...]}).

Exit status 0 for pass or warning, 1 for fail (and for warning with
--fail-on warning), 2 for unusable input.`,
		Example: `  tend evaluate --slo slo.yaml --sli values.json
  tend evaluate --slo slo.yaml --sli values.json --previous previous.json -o json
  tend evaluate --slo slo.yaml --sli values.json --fail-on warning`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			return runEvaluate(s, sloFile, sliFile, prevFile, format, slo.Result(failOn))
		},
	}
	cmd.Flags().StringVar(&sloFile, "slo", "", "SLO file (slo.yaml); - reads standard input")
	cmd.Flags().StringVar(&sliFile, "sli", "", "SLI values, JSON; - reads standard input")
	cmd.Flags().StringVar(&prevFile, "previous", "", "previous evaluations, JSON list, newest first")
	cmd.Flags().Var(&failOn, "fail-on", "weakest result that exits 1: fail or warning")
	addOutputFlag(cmd, &format)
	_ = cmd.MarkFlagRequired("slo")
	_ = cmd.MarkFlagRequired("sli")
	return cmd
}

func runEvaluate(s *streams, sloFile, sliFile, prevFile string, format outputFormat, failOn slo.Result) error {
	var stdinRead bool
	objective, err := readSLO(s, sloFile, &stdinRead)
	if err != nil {
		return err
	}

	name, data, err := readInput(s, sliFile, &stdinRead)
	if err != nil {
		return inputError(fmt.Errorf("%s: %w", name, err))
	}
	values, err := decodeSLIValues(name, data)
	if err != nil {
		return inputError(err)
	}

	var previous []slo.Previous
	if prevFile != "" {
		name, data, err = readInput(s, prevFile, &stdinRead)
		if err != nil {
			return inputError(fmt.Errorf("%s: %w", name, err))
		}
		previous, err = decodePrevious(name, data)
		if err != nil {
			return inputError(err)
		}
	}

	ev := slo.Evaluate(objective, values, previous)
	err = writeOutput(s.out, format, ev, func(w io.Writer) error {
		return writeEvaluationTable(w, objective, &ev)
	})
	if err != nil {
		return fmt.Errorf("print evaluation: %w", err)
	}
	return gateExit(ev.Result, failOn)
}

// gateExit turns an evaluation result into the exit status every gating
// command shares: fail exits 1, and so does warning when failOn is warning.
func gateExit(r slo.Result, failOn slo.Result) error {
	switch {
	case r == slo.Pass:
		return nil
	case r == slo.Warning && failOn != slo.Warning:
		return nil
	}
	return silentExit(ExitGateFailed)
}

// violatedMark follows a criterion that does not hold.
const violatedMark = " ✗"

// writeEvaluationTable prints an evaluation for people: one row per
// objective, then the total. s may be nil (an evaluation read back from an
// event); with it the table groups criteria into their blocks and shows
// weights and thresholds.
func writeEvaluationTable(w io.Writer, s *slo.SLO, ev *slo.Evaluation) error {
	var objectives []slo.Objective
	if s != nil && len(s.Objectives) == len(ev.IndicatorResults) {
		objectives = s.Objectives
	}
	noBaseline := len(ev.ComparedEvents) == 0
	anyViolated := false
	var notes []string

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECTIVE\tVALUE\tCOMPARED\tSTATUS\tSCORE\tPASS\tWARNING")
	for i := range ev.IndicatorResults {
		ir := &ev.IndicatorResults[i]
		var o *slo.Objective
		if objectives != nil {
			o = &objectives[i]
		}
		name := ir.DisplayName
		if name == "" {
			name = ir.Value.Metric
		}
		if ir.KeySLI {
			name += " (key)"
		}
		value := "-"
		if ir.Value.Success {
			value = formatNumber(ir.Value.Value)
		}
		if ir.Value.Message != "" {
			notes = append(notes, fmt.Sprintf("%s: %s", ir.Value.Metric, ir.Value.Message))
		}
		compared := "-"
		if !noBaseline {
			compared = formatNumber(ir.Value.ComparedValue)
		}
		score := "-"
		if ir.Status != slo.StatusInfo {
			score = formatNumber(ir.Score)
			if o != nil {
				score += "/" + formatNumber(o.Weight)
			}
		}
		var passBlocks, warnBlocks []slo.Block
		if o != nil {
			passBlocks, warnBlocks = o.Pass, o.Warning
		}
		pass, v1 := formatTargets(ir.PassTargets, passBlocks, ir.Value.ComparedValue, noBaseline)
		warn, v2 := formatTargets(ir.WarningTargets, warnBlocks, ir.Value.ComparedValue, noBaseline)
		anyViolated = anyViolated || v1 || v2
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, value, compared, ir.Status, score, pass, warn)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if anyViolated {
		fmt.Fprintf(w, "(%s marks a violated criterion; target values in parentheses)\n", strings.TrimSpace(violatedMark))
	}
	for _, n := range notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	total := formatNumber(ev.Score)
	if s != nil {
		total += fmt.Sprintf("%% (pass >= %s%%", formatNumber(s.TotalScore.Pass))
		if s.TotalScore.HasWarning {
			total += fmt.Sprintf(", warning >= %s%%", formatNumber(s.TotalScore.Warning))
		}
		total += ")"
	}
	fmt.Fprintf(tw, "Score:\t%s\n", total)
	fmt.Fprintf(tw, "Result:\t%s\n", ev.Result)
	fmt.Fprintf(tw, "Compared:\t%s\n", comparedSummary(ev.ComparedEvents))
	if ev.Message != "" {
		fmt.Fprintf(tw, "Message:\t%s\n", ev.Message)
	}
	return tw.Flush()
}

// formatTargets renders targets as "<=+10% (880) and <1000 (1000)", blocks
// joined by "or". Without blocks (or when they do not match the targets) the
// targets are listed in one comma-separated run. It reports whether any
// target was violated.
func formatTargets(ts []slo.Target, blocks []slo.Block, compared float64, noBaseline bool) (string, bool) {
	if len(ts) == 0 {
		return "-", false
	}
	var nonEmpty []slo.Block
	n := 0
	for _, b := range blocks {
		if len(b) > 0 {
			nonEmpty = append(nonEmpty, b)
			n += len(b)
		}
	}
	blocks = nonEmpty
	violated := false
	var b strings.Builder
	k := 0
	for i, t := range ts {
		if i > 0 {
			switch {
			case n != len(ts):
				b.WriteString(", ")
			case k == len(blocks[0]):
				b.WriteString(" or ")
				blocks, k = blocks[1:], 0
			default:
				b.WriteString(" and ")
			}
		}
		k++
		b.WriteString(t.Criteria)
		b.WriteString(" (")
		if isRelative(t.Criteria) && (noBaseline || (t.TargetValue == 0 && compared == 0 && !t.Violated)) {
			b.WriteString("no baseline")
		} else {
			b.WriteString(formatNumber(t.TargetValue))
		}
		b.WriteString(")")
		if t.Violated {
			b.WriteString(violatedMark)
			violated = true
		}
	}
	return b.String(), violated
}

func isRelative(criteria string) bool {
	c, err := slo.ParseCriterion(criteria)
	return err == nil && c.Relative
}

func comparedSummary(ids []string) string {
	switch len(ids) {
	case 0:
		return "none (no earlier evaluation to compare with)"
	case 1:
		return "1 evaluation: " + idOrUnnamed(ids[0])
	}
	named := make([]string, len(ids))
	for i, id := range ids {
		named[i] = idOrUnnamed(id)
	}
	return fmt.Sprintf("%d evaluations: %s", len(ids), strings.Join(named, ", "))
}

func idOrUnnamed(id string) string {
	if id == "" {
		return "(no id)"
	}
	return id
}
