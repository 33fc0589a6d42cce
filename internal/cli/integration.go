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

func newGetIntegrationsCommand(s *streams) *cobra.Command {
	var (
		f      client.IntegrationFilter
		format outputFormat
		conn   *connFlags
	)
	cmd := &cobra.Command{
		Use:     "integrations [--name N] [--project P]",
		Aliases: []string{"integration", "uniform"},
		Short:   "List the Keptn integrations connected to the server",
		Long: `Get integrations lists the Keptn integrations (services built on Keptn's Go
SDK, the job-executor, webhook services) that registered with the server
through Keptn's uniform API: each one's name, version, where it runs, when it
last pinged, and the events it subscribes to with their filters. An
integration pings every few seconds while it runs, so an old LAST SEEN means
it stopped.

A project-restricted token sees only the subscriptions that concern its
project. docs/integrations.md says how to connect an integration.

Exit status 0, 2 on a refused token or bad flags, 3 when the server failed or
could not be reached.`,
		Example: `  tend get integrations
  tend get integrations --project sockshop
  tend get integrations --name job-executor-service -o yaml`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			ins, err := c.ListIntegrations(cmd.Context(), f)
			if err != nil {
				return apiFailure(err)
			}
			if format == formatTable && len(ins) == 0 {
				fmt.Fprintln(s.err, "No integrations.")
				return nil
			}
			return writeOutput(s.out, format, ins, func(w io.Writer) error {
				return printIntegrations(w, ins)
			})
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().StringVar(&f.Name, "name", "", "only integrations of this name")
	cmd.Flags().StringVar(&f.ID, "id", "", "only the integration with this id")
	cmd.Flags().StringVar(&f.Project, "project", "", "only integrations subscribed to this project")
	cmd.Flags().StringVar(&f.Stage, "stage", "", "only integrations subscribed to this stage")
	cmd.Flags().StringVar(&f.Service, "service", "", "only integrations subscribed to this service")
	addOutputFlag(cmd, &format)
	return cmd
}

// printIntegrations writes one row per subscription, the integration's
// columns on its first row only.
func printIntegrations(w io.Writer, ins []apitypes.KeptnIntegration) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tLOCATION\tLAST SEEN\tID\tSUBSCRIPTION\tFILTER")
	for _, in := range ins {
		seen := "-"
		if in.MetaData.LastSeen != nil {
			seen = formatTime(*in.MetaData.LastSeen)
		}
		head := fmt.Sprintf("%s\t%s\t%s\t%s\t%s", flatText(in.Name), dash(flatText(in.MetaData.IntegrationVersion)),
			dash(flatText(in.MetaData.Location)), seen, in.ID)
		if len(in.Subscriptions) == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\n", head)
			continue
		}
		for i, sub := range in.Subscriptions {
			if i > 0 {
				head = "\t\t\t\t"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", head, flatText(sub.Event), subscriptionFilter(sub.Filter))
		}
	}
	return tw.Flush()
}

// subscriptionFilter shows a filter as project=a,b stage=dev, or "all".
func subscriptionFilter(f apitypes.KeptnSubscriptionFilter) string {
	var parts []string
	for _, p := range []struct {
		name  string
		names []string
	}{{"project", f.Projects}, {"stage", f.Stages}, {"service", f.Services}} {
		if len(p.names) > 0 {
			parts = append(parts, p.name+"="+flatText(strings.Join(p.names, ",")))
		}
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, " ")
}
