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

// addProjectFlag registers the required --project of the service and
// resource commands.
func addProjectFlag(cmd *cobra.Command, project *string) {
	cmd.Flags().StringVar(project, "project", "", "the project")
	_ = cmd.MarkFlagRequired("project")
}

func newCreateServiceCommand(s *streams) *cobra.Command {
	var (
		project string
		conn    *connFlags
	)
	cmd := &cobra.Command{
		Use:   "service NAME --project P",
		Short: "Create a service in every stage of a project",
		Long: `Create service adds a service to a project; it exists in every stage of the
project's shipyard. "tend onboard service" is the same command under keptn's
older name.

Exit status 0 when created, 2 on an unknown project, a name in use or a
refused token, 3 when the server failed or could not be reached.`,
		Example: `  tend create service carts --project sockshop
  tend onboard service carts --project sockshop`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			progress(s, "Creating service %s in project %s...", args[0], project)
			sv, err := c.CreateService(cmd.Context(), project, args[0])
			if err != nil {
				return apiFailure(err)
			}
			fmt.Fprintf(s.out, "Service %s created in project %s\n", dash(sv.ServiceName), project)
			return nil
		},
	}
	conn = addConnFlags(cmd)
	addProjectFlag(cmd, &project)
	return cmd
}

func newGetServicesCommand(s *streams) *cobra.Command {
	var (
		project string
		format  outputFormat
		conn    *connFlags
	)
	cmd := &cobra.Command{
		Use:   "services --project P",
		Short: "List a project's services and the image each runs per stage",
		Long: `Get services lists the services of a project with a column per stage of the
shipyard: the image the service runs there, as Keptn's Bridge showed it (the
newest deployment, release or rollback that finished with pass or warning
and named an image; "-" when none did). -o json prints the server's answer
unchanged.

Exit status 0, 2 on an unknown project or a refused token, 3 when the server
failed or could not be reached.`,
		Example: `  tend get services --project sockshop`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			if format != formatTable {
				return printAnswer(cmd.Context(), s, c, format, client.ServicesPath(project), nil)
			}
			services, err := c.ListServices(cmd.Context(), project)
			if err != nil {
				return apiFailure(err)
			}
			return printList(s, "services in project "+project, servicesHeader(services), services, func(w io.Writer, sv *apitypes.Service) {
				fmt.Fprint(w, sv.ServiceName)
				for _, st := range sv.Stages {
					fmt.Fprint(w, "\t"+dash(st.DeployedImage))
				}
				fmt.Fprintf(w, "\t%s\n", formatTime(sv.CreationDate))
			})
		},
	}
	conn = addConnFlags(cmd)
	addProjectFlag(cmd, &project)
	addOutputFlag(cmd, &format)
	return cmd
}

func newGetServiceCommand(s *streams) *cobra.Command {
	var (
		project string
		format  outputFormat
		conn    *connFlags
	)
	cmd := &cobra.Command{
		Use:   "service NAME --project P",
		Short: "Show one service of a project",
		Long: `Get service shows one service of a project. -o json prints the server's
answer unchanged.

Exit status 0, 2 on an unknown project or service or a refused token, 3 when
the server failed or could not be reached.`,
		Example: `  tend get service carts --project sockshop`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			if format != formatTable {
				return printAnswer(cmd.Context(), s, c, format, client.ServicePath(project, args[0]), nil)
			}
			sv, err := c.GetService(cmd.Context(), project, args[0])
			if err != nil {
				return apiFailure(err)
			}
			tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPROJECT\tCREATED")
			fmt.Fprintf(tw, "%s\t%s\t%s\n", sv.ServiceName, project, formatTime(sv.CreationDate))
			if len(sv.Stages) > 0 {
				fmt.Fprintln(tw, "\nSTAGE\tIMAGE\tDEPLOYED\tKEPTN CONTEXT")
				for _, st := range sv.Stages {
					at := "-"
					if st.DeployedAt != nil {
						at = formatTime(*st.DeployedAt)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", st.StageName, dash(st.DeployedImage), at, dash(st.KeptnContext))
				}
			}
			return tw.Flush()
		},
	}
	conn = addConnFlags(cmd)
	addProjectFlag(cmd, &project)
	addOutputFlag(cmd, &format)
	return cmd
}

func newDeleteServiceCommand(s *streams) *cobra.Command {
	var (
		project string
		conn    *connFlags
	)
	cmd := &cobra.Command{
		Use:   "service NAME --project P",
		Short: "Delete a service from a project",
		Long: `Delete service removes a service from every stage of a project.

Exit status 0 when deleted, 2 on an unknown project or service or a refused
token, 3 when the server failed or could not be reached.`,
		Example: `  tend delete service carts --project sockshop`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			if err := c.DeleteService(cmd.Context(), project, args[0]); err != nil {
				return apiFailure(err)
			}
			fmt.Fprintf(s.out, "Service %s deleted from project %s\n", args[0], project)
			return nil
		},
	}
	conn = addConnFlags(cmd)
	addProjectFlag(cmd, &project)
	return cmd
}

// servicesHeader is the header of get services: the name, a column per
// stage (the stages of the first service; every service has the same),
// the creation time.
func servicesHeader(services []apitypes.Service) string {
	h := "NAME"
	if len(services) > 0 {
		for _, st := range services[0].Stages {
			h += "\t" + strings.ToUpper(st.StageName)
		}
	}
	return h + "\tCREATED"
}
