package cli

import (
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/chart"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/spec"
)

// levelFlags are keptn's --project, --stage and --service, which name the
// level a resource lives on.
type levelFlags struct {
	project, stage, service string
}

func addLevelFlags(cmd *cobra.Command) *levelFlags {
	f := &levelFlags{}
	addProjectFlag(cmd, &f.project)
	cmd.Flags().StringVar(&f.stage, "stage", "", "the stage (default: the project level)")
	cmd.Flags().StringVar(&f.service, "service", "", "the service; needs --stage")
	return f
}

// ref checks the flags as keptn add-resource did: a service lives in every
// stage, so --service alone does not say which stage's files are meant.
func (f *levelFlags) ref() (client.ResourceRef, error) {
	if f.service != "" && f.stage == "" {
		return client.ResourceRef{}, &usageError{err: fmt.Errorf("--service %s needs --stage: a service exists in every stage, so say which stage's files are meant", f.service)}
	}
	return client.ResourceRef{Project: f.project, Stage: f.stage, Service: f.service}, nil
}

// resourceURI makes a path given on the command line a resource URI: slash
// separated and relative, so "./slo.yaml" and "slo.yaml" name one file.
// ".." would leave the level and is refused.
func resourceURI(flag, p string) (string, error) {
	u := path.Clean(filepath.ToSlash(p))
	u = strings.TrimLeft(u, "/")
	for _, seg := range strings.Split(u, "/") {
		if seg == ".." {
			return "", &usageError{err: fmt.Errorf("%s %q: a resource URI must not contain \"..\"; give --resourceUri with the path inside the level, like slo.yaml", flag, p)}
		}
	}
	if u == "" || u == "." {
		return "", &usageError{err: fmt.Errorf("%s %q: not a file path", flag, p)}
	}
	return u, nil
}

// specKindOfURI says which of Keptn's files a resource URI names, so it can
// be validated before it is sent: the names the services that read them
// look for.
func specKindOfURI(uri string) (spec.Kind, bool) {
	switch base := path.Base(uri); {
	case base == "slo.yaml":
		return spec.KindSLO, true
	case base == "remediation.yaml":
		return spec.KindRemediation, true
	case base == "shipyard.yaml":
		return spec.KindShipyard, true
	case base == "sli.yaml" && strings.Contains(uri, "/"):
		return spec.KindSLI, true
	}
	return "", false
}

// pushFailure reports a write whose commit is stored but whose push to the
// project's upstream repository failed. It exits 3 so scripts notice:
// the two copies now differ until the next successful push.
func pushFailure(v *apitypes.Version) error {
	if v.PushError == "" {
		return nil
	}
	return withExit(ExitServer, fmt.Errorf("commit %s is stored on the tend server, but pushing it to the project's upstream Git repository failed: %s", v.CommitID, v.PushError))
}

func newAddResourceCommand(s *streams) *cobra.Command {
	var (
		file, uri string
		conn      *connFlags
		level     *levelFlags
	)
	cmd := &cobra.Command{
		Use:   "add-resource --project P [--stage S [--service X]] --resource FILE [--resourceUri PATH]",
		Short: "Add a file to a project, stage or service",
		Long: `Add-resource stores a local file as a resource of a project, of a stage, or
of a service in a stage, as keptn add-resource did: one Git commit per write.
--resourceUri (also --resource-uri) is the path the file gets there; it
defaults to the path of --resource as given. --service needs --stage.

Files that tend reads (slo.yaml, remediation.yaml, shipyard.yaml and
PROVIDER/sli.yaml, by the URI's name) are validated here first: problems are
printed as FILE:LINE:COL: message and nothing is sent. A Helm chart archive
(helm/<service>.tgz, as Keptn 0.8+ onboarded charts) is checked too and
stored byte for byte.

It prints the commit. When the project has an upstream repository and the
push fails, the commit is still stored: the failure is printed and the exit
status is 3.

Exit status 0 when stored (and pushed), 2 on an invalid file, bad flags, an
unknown project, stage or service or a refused token, 3 when the server
failed, could not be reached, or could not push to the upstream repository.`,
		Example: `  tend add-resource --project sockshop --stage production --service carts \
    --resource slo-self-healing.yaml --resourceUri slo.yaml
  tend add-resource --project sockshop --stage production --service carts \
    --resource sli.yaml --resourceUri prometheus/sli.yaml
  tend add-resource --project sockshop --stage dev --service carts \
    --resource carts.tgz --resourceUri helm/carts.tgz`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ref, err := level.ref()
			if err != nil {
				return err
			}
			if uri == "" {
				if file == "-" {
					return &usageError{err: errors.New("--resource - needs --resourceUri: standard input has no file name")}
				}
				uri = file
			}
			if uri, err = resourceURI("--resourceUri", uri); err != nil {
				return err
			}
			name, data, err := readInput(s, file, &conn.stdinRead)
			if err != nil {
				return inputError(fmt.Errorf("--resource %s: %w", name, err))
			}
			if kind, ok := specKindOfURI(uri); ok {
				if err := checkSpecFile(s, name, data, kind); err != nil {
					return inputError(fmt.Errorf("%s is not a valid %s file; it was not added", name, kind))
				}
			}
			if chart.IsChartURI(uri) {
				if _, err := chart.Load(data); err != nil {
					return inputError(fmt.Errorf("%s is not a Helm chart archive tend can deploy (%s): %w; it was not added", name, uri, err))
				}
			}
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			progress(s, "Adding resource %s to %s...", uri, ref)
			v, err := c.PutResources(cmd.Context(), ref, []client.ResourceFile{{URI: uri, Content: data}})
			if err != nil {
				return apiFailure(err)
			}
			fmt.Fprintf(s.out, "Resource %s added to %s: commit %s\n", uri, ref, v.CommitID)
			return pushFailure(v)
		},
	}
	conn = addConnFlags(cmd)
	level = addLevelFlags(cmd)
	cmd.Flags().StringVar(&file, "resource", "", `local file to add ("-" reads standard input)`)
	cmd.Flags().StringVar(&uri, "resourceUri", "", "path of the resource in the level (default: --resource as given)")
	// Keptn spelt it --resourceUri; the rest of tend's flags are kebab case.
	// Both spellings set the same flag.
	cmd.Flags().SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "resource-uri" {
			name = "resourceUri"
		}
		return pflag.NormalizedName(name)
	})
	_ = cmd.MarkFlagRequired("resource")
	return cmd
}

func newGetResourceCommand(s *streams) *cobra.Command {
	var (
		version string
		history bool
		format  outputFormat
		conn    *connFlags
		level   *levelFlags
	)
	cmd := &cobra.Command{
		Use:   "resource URI --project P [--stage S [--service X]] [--version COMMIT | --history]",
		Short: "Print a resource's content, or its history",
		Long: `Get resource prints a resource's content exactly as stored, with nothing
added, so it can be redirected to a file. --version reads it at an earlier
commit. --history lists the commits that changed it instead.

-o json and -o yaml print the server's answer (content base64-encoded, as in
Keptn's API).

Exit status 0, 2 on an unknown project, stage, service, resource or commit,
or a refused token, 3 when the server failed or could not be reached.`,
		Example: `  tend get resource slo.yaml --project sockshop --stage production --service carts > slo.yaml
  tend get resource slo.yaml --project sockshop --stage production --service carts --history
  tend get resource shipyard.yaml --project sockshop --version 1f0c3a7`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := level.ref()
			if err != nil {
				return err
			}
			if history && version != "" {
				return &usageError{err: errors.New("--history lists every version; it does not take --version")}
			}
			uri, err := resourceURI("resource", args[0])
			if err != nil {
				return err
			}
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if format != formatTable {
				p := ref.ResourcePath(uri)
				var q map[string][]string
				switch {
				case history:
					p = ref.ResourceHistoryPath(uri)
				case version != "":
					q = map[string][]string{"gitCommitID": {version}}
				}
				return printAnswer(ctx, s, c, format, p, q)
			}
			if history {
				h, err := c.ResourceHistory(ctx, ref, uri)
				if err != nil {
					return apiFailure(err)
				}
				tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "COMMIT\tTIME\tAUTHOR\tMESSAGE")
				for _, cm := range h.Commits {
					msg, _, _ := strings.Cut(cm.Message, "\n")
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cm.CommitID, formatTime(cm.Time), dash(cm.Author), dash(msg))
				}
				return tw.Flush()
			}
			rf, err := c.GetResource(ctx, ref, uri, version)
			if err != nil {
				return apiFailure(err)
			}
			_, err = s.out.Write(rf.Content)
			return err
		},
	}
	conn = addConnFlags(cmd)
	level = addLevelFlags(cmd)
	cmd.Flags().StringVar(&version, "version", "", "read the resource at this Git commit")
	cmd.Flags().BoolVar(&history, "history", false, "list the commits that changed the resource")
	addOutputFlag(cmd, &format)
	return cmd
}

func newGetResourcesCommand(s *streams) *cobra.Command {
	var (
		format outputFormat
		conn   *connFlags
		level  *levelFlags
	)
	cmd := &cobra.Command{
		Use:   "resources --project P [--stage S [--service X]]",
		Short: "List the resources of a project, stage or service",
		Long: `Get resources lists the resources of one level with the commit each was last
written in. -o json prints the server's answer unchanged.

Exit status 0, 2 on an unknown project, stage or service or a refused token,
3 when the server failed or could not be reached.`,
		Example: `  tend get resources --project sockshop --stage production --service carts`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ref, err := level.ref()
			if err != nil {
				return err
			}
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			if format != formatTable {
				return printAllPages(cmd.Context(), s, c, format, ref.ResourcesPath(), "resources")
			}
			list, err := c.ListResources(cmd.Context(), ref)
			if err != nil {
				return apiFailure(err)
			}
			return printList(s, fmt.Sprintf("resources in %s", ref), "URI\tVERSION", list, func(w io.Writer, r *apitypes.Resource) {
				fmt.Fprintf(w, "%s\t%s\n", r.ResourceURI, dash(r.Version))
			})
		},
	}
	conn = addConnFlags(cmd)
	level = addLevelFlags(cmd)
	addOutputFlag(cmd, &format)
	return cmd
}

func newDeleteResourceCommand(s *streams) *cobra.Command {
	var (
		conn  *connFlags
		level *levelFlags
	)
	cmd := &cobra.Command{
		Use:   "resource URI --project P [--stage S [--service X]]",
		Short: "Delete a resource",
		Long: `Delete resource removes a resource in one Git commit and prints the commit.
Earlier versions stay readable with get resource --version.

Exit status 0 when deleted (and pushed), 2 on an unknown project, stage,
service or resource or a refused token, 3 when the server failed, could not
be reached, or could not push to the upstream repository.`,
		Example: `  tend delete resource remediation.yaml --project sockshop --stage production --service carts`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := level.ref()
			if err != nil {
				return err
			}
			uri, err := resourceURI("resource", args[0])
			if err != nil {
				return err
			}
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			v, err := c.DeleteResource(cmd.Context(), ref, uri)
			if err != nil {
				return apiFailure(err)
			}
			fmt.Fprintf(s.out, "Resource %s deleted from %s: commit %s\n", uri, ref, v.CommitID)
			return pushFailure(v)
		},
	}
	conn = addConnFlags(cmd)
	level = addLevelFlags(cmd)
	return cmd
}
