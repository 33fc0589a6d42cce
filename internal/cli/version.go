package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// Build information, set by the Makefile through
// -ldflags "-X github.com/tendhq/tend/internal/cli.version=...". A plain
// `go build` leaves the defaults, and buildInfo then falls back to what the
// Go toolchain stamped into the binary.
var (
	version   = "dev"
	commit    = ""
	buildDate = ""
)

// versionInfo is what `tend version` reports; its JSON keys are the -o json
// answer.
type versionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// buildInfo combines the -ldflags values with the toolchain's build
// information: the module version of `go install ...@v1.2.3`, and the VCS
// revision and time of a build inside a Git clone.
func buildInfo() versionInfo {
	v := versionInfo{
		Version:   version,
		Commit:    commit,
		BuildDate: buildDate,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.time":
				if v.BuildDate == "" {
					v.BuildDate = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && commit == "" && v.Commit != "" {
			v.Commit += "-dirty"
		}
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	if v.BuildDate == "" {
		v.BuildDate = "unknown"
	}
	return v
}

func newVersionCommand(s *streams) *cobra.Command {
	var format outputFormat
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print tend's version, commit, build date and Go version",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			info := buildInfo()
			return writeOutput(s.out, format, info, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
				fmt.Fprintf(tw, "tend\t%s\n", info.Version)
				fmt.Fprintf(tw, "commit:\t%s\n", info.Commit)
				fmt.Fprintf(tw, "built:\t%s\n", info.BuildDate)
				fmt.Fprintf(tw, "go:\t%s %s\n", info.GoVersion, info.Platform)
				return tw.Flush()
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}
