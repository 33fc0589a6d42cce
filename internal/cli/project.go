package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/spec"
)

func newCreateProjectCommand(s *streams) *cobra.Command {
	var (
		shipyard, remoteURL, gitUser, gitToken string
		conn                                   *connFlags
	)
	cmd := &cobra.Command{
		Use:   "project NAME --shipyard FILE",
		Short: "Create a project from a shipyard file",
		Long: `Create project creates a project with the stages of a shipyard file (Keptn's
legacy format or spec.keptn.sh/0.2.x). The shipyard is validated here first:
problems are printed as FILE:LINE:COL: message and nothing is sent.

An upstream Git repository, which every resource write is pushed to, is given
with --git-remote-url, --git-user and --git-token. The token may be given as
"-" (stdin), "file:PATH" or "env:NAME" to keep it out of the shell's history.

Exit status 0 when created, 2 on an invalid shipyard, a name in use or a
refused token, 3 when the server failed or could not be reached.`,
		Example: `  tend create project sockshop --shipyard shipyard.yaml
  tend create project sockshop --shipyard shipyard.yaml \
    --git-remote-url https://github.com/me/sockshop.git --git-user me --git-token env:GIT_TOKEN`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if remoteURL == "" && (gitUser != "" || gitToken != "") {
				return &usageError{err: errors.New("--git-user and --git-token need --git-remote-url")}
			}
			file, data, err := readInput(s, shipyard, &conn.stdinRead)
			if err != nil {
				return inputError(fmt.Errorf("--shipyard %s: %w", file, err))
			}
			if err := checkSpecFile(s, file, data, spec.KindShipyard); err != nil {
				return inputError(fmt.Errorf("shipyard %s is invalid; project %s was not created", file, name))
			}
			req := apitypes.CreateProjectRequest{Name: name, Shipyard: string(data), GitRemoteURL: remoteURL, GitUser: gitUser}
			if gitToken != "" {
				if req.GitToken, err = readSecret(s, "git-token", gitToken, &conn.stdinRead); err != nil {
					return inputError(err)
				}
			}
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			progress(s, "Creating project %s...", name)
			p, err := c.CreateProject(cmd.Context(), req)
			if err != nil {
				return apiFailure(err)
			}
			fmt.Fprintf(s.out, "Project %s created with stages %s\n", p.ProjectName, stageNames(p))
			return nil
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().StringVar(&shipyard, "shipyard", "", `shipyard file ("-" reads standard input)`)
	cmd.Flags().StringVar(&remoteURL, "git-remote-url", "", "upstream Git repository that resource writes are pushed to")
	cmd.Flags().StringVar(&gitUser, "git-user", "", "user name for the upstream repository")
	cmd.Flags().StringVar(&gitToken, "git-token", "", `token for the upstream repository, or "-", "file:PATH", "env:NAME"`)
	_ = cmd.MarkFlagRequired("shipyard")
	return cmd
}

// checkSpecFile validates a Keptn file locally, printing every problem to
// stderr as FILE:LINE:COL: message, and fails when any is an error. The
// server validates again; this gives the answer before anything is sent.
func checkSpecFile(s *streams, file string, data []byte, kind spec.Kind) error {
	_, diags := spec.Validate(file, data, kind)
	for _, d := range diags {
		fmt.Fprintln(s.err, d.String())
	}
	if diags.HasErrors() {
		return diags
	}
	return nil
}

func stageNames(p *apitypes.Project) string {
	names := make([]string, len(p.Stages))
	for i, st := range p.Stages {
		names[i] = st.StageName
	}
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

// serviceNames lists a project's services once each, in the order the
// stages first name them.
func serviceNames(p *apitypes.Project) []string {
	seen := map[string]bool{}
	var names []string
	for _, st := range p.Stages {
		for _, sv := range st.Services {
			if !seen[sv.ServiceName] {
				seen[sv.ServiceName] = true
				names = append(names, sv.ServiceName)
			}
		}
	}
	return names
}

func newGetProjectsCommand(s *streams) *cobra.Command {
	var (
		format outputFormat
		conn   *connFlags
	)
	cmd := &cobra.Command{
		Use:   "projects",
		Short: "List the projects",
		Long: `Get projects lists the projects the API token may see, with their stages and
services. -o json prints the server's answer unchanged.

Exit status 0, 2 on a refused token, 3 when the server failed or could not be
reached.`,
		Example: `  tend get projects
  tend get projects -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			if format != formatTable {
				return printAllPages(cmd.Context(), s, c, format, client.PathProjects, "projects")
			}
			projects, err := c.ListProjects(cmd.Context())
			if err != nil {
				return apiFailure(err)
			}
			return printList(s, "projects", "NAME\tSTAGES\tSERVICES\tCREATED", projects, func(w io.Writer, p *apitypes.Project) {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", p.ProjectName, stageNames(p),
					dash(strings.Join(serviceNames(p), ", ")), formatTime(p.CreationDate))
			})
		},
	}
	conn = addConnFlags(cmd)
	addOutputFlag(cmd, &format)
	return cmd
}

func newGetProjectCommand(s *streams) *cobra.Command {
	return getOneCommand(s, &cobra.Command{
		Use:   "project NAME",
		Short: "Show a project's stages and services",
		Long: `Get project shows a project: its shipyard version, upstream repository, and
a table of its stages with their services and whether self-healing runs
there. -o json prints the server's answer unchanged.

Exit status 0, 2 on an unknown project or a refused token, 3 when the server
failed or could not be reached.`,
		Example: `  tend get project sockshop
  tend get project sockshop -o yaml`,
	}, client.ProjectPath, (*client.Client).GetProject, printProject)
}

func printProject(w io.Writer, p *apitypes.Project) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "Project:\t%s\n", p.ProjectName)
	fmt.Fprintf(tw, "Shipyard:\t%s\n", dash(p.ShipyardVersion))
	fmt.Fprintf(tw, "Created:\t%s\n", formatTime(p.CreationDate))
	if p.GitRemoteURL != "" {
		upstream := p.GitRemoteURL
		if p.GitUser != "" {
			upstream += " (user " + p.GitUser + ")"
		}
		fmt.Fprintf(tw, "Upstream:\t%s\n", upstream)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tSELF-HEALING\tSERVICES")
	for _, st := range p.Stages {
		names := make([]string, len(st.Services))
		for i, sv := range st.Services {
			names[i] = sv.ServiceName
		}
		healing := "off"
		if st.RemediationEnabled {
			healing = "on"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", st.StageName, healing, dash(strings.Join(names, ", ")))
	}
	return tw.Flush()
}

func newDeleteProjectCommand(s *streams) *cobra.Command {
	return deleteCommand(s, &cobra.Command{
		Use:   "project NAME",
		Short: "Delete a project with its services, resources and events",
		Long: `Delete project deletes a project with its services, resources and events.
An upstream Git repository is left as it is.

Exit status 0 when deleted, 2 on an unknown project or a refused token, 3 when
the server failed or could not be reached.`,
		Example: `  tend delete project sockshop`,
	}, "Project", (*client.Client).DeleteProject)
}
