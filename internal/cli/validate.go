package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/spec"
)

// stdinName is how diagnostics name the standard input ("-" on the command
// line).
const stdinName = "<stdin>"

// kindFlag is the value of --kind; it accepts only the kinds spec knows, so
// a typo is a usage error before any file is read.
type kindFlag spec.Kind

func (k *kindFlag) String() string { return string(*k) }

func (k *kindFlag) Set(v string) error {
	for _, ok := range spec.Kinds {
		if spec.Kind(v) == ok {
			*k = kindFlag(ok)
			return nil
		}
	}
	return fmt.Errorf("unknown kind %q: want one of %s", v, kindList())
}

func (k *kindFlag) Type() string { return "kind" }

func kindList() string {
	names := make([]string, len(spec.Kinds))
	for i, k := range spec.Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

func newValidateCommand(s *streams) *cobra.Command {
	var (
		kind   kindFlag
		strict bool
	)
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check SLO, SLI, remediation and shipyard files and Helm charts",
		Long: `Validate checks Keptn SLO, SLI, remediation and shipyard files, and budget
SLO files (slo/*.yaml: Sloth prometheus/v1, Sloth's PrometheusServiceLevel,
OpenSLO v1alpha SLO; docs/error-budgets.md), and prints
every problem as FILE:LINE:COL: message (warnings as FILE:LINE:COL: warning:
message). The kind of each file comes from its apiVersion and kind (or
Sloth's version), else its name or a folder named slo, else its top-level
keys; --kind overrides. "-" reads standard input.
A folder or a .tgz file is taken as a Helm chart and checked as onboard
service and the server check charts.

Exit status 0 when every file is valid, 2 otherwise. Warnings (constructs
Keptn ignored, such as unknown keys) leave the status 0 unless --strict.`,
		Example: `  tend validate slo.yaml prometheus/sli.yaml remediation.yaml
  tend validate --strict --kind slo - < slo.yaml
  tend validate ./carts carts.tgz`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(_ *cobra.Command, args []string) error {
			return runValidate(s, args, spec.Kind(kind), strict)
		},
	}
	cmd.Flags().Var(&kind, "kind", "treat every file as this kind: "+kindList())
	cmd.Flags().BoolVar(&strict, "strict", false, "treat warnings as errors")
	return cmd
}

func runValidate(s *streams, files []string, kind spec.Kind, strict bool) error {
	var (
		invalid, errs, warns int
		stdinRead            bool
	)
	for _, file := range files {
		var diags spec.Diagnostics
		if kind == "" && isChartPath(file) {
			if _, _, err := readChart(file); err != nil {
				diags = spec.Diagnostics{{File: file, Severity: spec.SeverityError, Message: "Helm chart: " + err.Error()}}
			}
		} else if name, data, err := readInput(s, file, &stdinRead); err != nil {
			diags = spec.Diagnostics{{File: name, Severity: spec.SeverityError, Message: err.Error()}}
		} else {
			_, diags = spec.Validate(name, data, kind)
		}
		if strict {
			diags = diags.Strict()
		}
		for _, d := range diags {
			if d.Severity == spec.SeverityWarning {
				warns++
			} else {
				errs++
			}
			fmt.Fprintln(s.out, d.String())
		}
		if diags.HasErrors() {
			invalid++
		}
	}
	fmt.Fprintln(s.err, validateSummary(len(files), invalid, errs, warns))
	if invalid > 0 {
		return silentExit(ExitBadInput)
	}
	return nil
}

// isChartPath reports whether a file named on the command line is a Helm
// chart: a folder, or a .tgz archive.
func isChartPath(file string) bool {
	if strings.HasSuffix(file, ".tgz") {
		return true
	}
	fi, err := os.Stat(file)
	return err == nil && fi.IsDir()
}

// validateSummary is the one line validate prints to stderr, e.g.
// "3 files: 2 valid, 1 invalid (4 errors, 1 warning)".
func validateSummary(files, invalid, errs, warns int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d valid, %d invalid", plural(files, "file"), files-invalid, invalid)
	if errs > 0 || warns > 0 {
		fmt.Fprintf(&b, " (%s, %s)", plural(errs, "error"), plural(warns, "warning"))
	}
	return b.String()
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// readInput reads a file named on the command line, or standard input for
// "-". It returns the name diagnostics should use. Standard input can be read
// only once; stdinRead remembers that across calls.
func readInput(s *streams, file string, stdinRead *bool) (name string, data []byte, err error) {
	if file == "-" {
		if *stdinRead {
			return stdinName, nil, fmt.Errorf("standard input (-) given more than once")
		}
		*stdinRead = true
		data, err = io.ReadAll(s.in)
		if err != nil {
			return stdinName, nil, fmt.Errorf("read standard input: %w", err)
		}
		return stdinName, data, nil
	}
	data, err = os.ReadFile(file)
	if err != nil {
		return file, nil, fmt.Errorf("cannot read file: %w", unwrapPathError(err))
	}
	return file, data, nil
}

// readSLO reads and decodes the SLO file named on the command line
// (readInput), printing its diagnostics on stderr; an unreadable or
// unusable file is an input error.
func readSLO(s *streams, file string, stdinRead *bool) (*slo.SLO, error) {
	name, data, err := readInput(s, file, stdinRead)
	if err != nil {
		return nil, inputError(fmt.Errorf("%s: %w", name, err))
	}
	objective, diags := spec.DecodeSLO(name, data)
	for _, d := range diags {
		fmt.Fprintln(s.err, d.String())
	}
	if objective == nil || diags.HasErrors() {
		return nil, inputError(fmt.Errorf("%s is not a usable SLO file; fix the errors above", name))
	}
	return objective, nil
}

// unwrapPathError drops the "open FILE:" prefix of an *os.PathError because
// every diagnostic already starts with the file name.
func unwrapPathError(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return pe.Err
	}
	return err
}
