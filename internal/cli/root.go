// Package cli is tend's command line: one cobra command per file, built fresh
// for every run so tests can run many commands in one process. Commands
// return errors carrying their exit status (exit.go) and Run maps them.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// streams are the standard streams a command reads and writes. Commands never
// touch os.Stdin, os.Stdout or os.Stderr directly.
type streams struct {
	in  io.Reader
	out io.Writer
	err io.Writer
}

// Run executes the tend command line args and returns the process exit
// status. It prints errors to stderr itself, so main only has to exit.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := &streams{in: stdin, out: stdout, err: stderr}
	root := newRootCommand(s)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	code := exitCode(err)
	if ee, ok := errors.AsType[*exitError](err); ok && ee.err == nil {
		return code
	}
	fmt.Fprintf(stderr, "Error: %v\n", err)
	if _, ok := errors.AsType[*exitError](err); !ok && cmd != nil {
		// Cobra's own parse errors and usage errors: point at the help.
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// newRootCommand builds the whole command tree writing to s. Every call makes
// new commands and flags, so nothing leaks from one run into the next.
func newRootCommand(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "tend",
		Short: "Keep services inside their SLOs: quality gates and self-healing",
		Long: `tend evaluates SLOs against monitoring data (quality gates) and heals
services when they leave them. It reads Keptn's slo.yaml, sli.yaml,
remediation.yaml and shipyard.yaml files and events unchanged.

Exit statuses: 0 ok, 1 a quality gate failed, 2 bad input or usage,
3 the server failed or could not be reached.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Keep the tree to what tend does; shells get completion from
		// `tend completion` below.
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &usageError{err: err}
	})
	root.AddCommand(
		newVersionCommand(s),
		newValidateCommand(s),
		newEvaluateCommand(s),
		newAuthCommand(s),
		newCreateCommand(s),
		newGetCommand(s),
		newDeleteCommand(s),
		newOnboardCommand(s),
		newAddResourceCommand(s),
		newSendCommand(s),
		newServeCommand(s),
		newConfigureCommand(s),
		newTriggerCommand(s),
		newInvalidateCommand(s),
		newBenchCommand(s),
		newGenerateCommand(s),
		newDemoCommand(s),
		newPauseCommand(s),
		newResumeCommand(s),
		newAbortCommand(s),
		newApprovalCommand(s, true),
		newApprovalCommand(s, false),
	)
	return root
}

// usageArgs wraps a cobra argument check so that its complaint is reported as
// a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &usageError{err: err}
		}
		return nil
	}
}
