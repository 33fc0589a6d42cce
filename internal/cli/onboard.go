package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tendhq/tend/internal/chart"
	"github.com/tendhq/tend/internal/client"
)

// newOnboardServiceCommand is Keptn 0.6's onboard service: create the
// service and store its Helm chart as helm/<service>.tgz in every stage,
// or in the one given.
func newOnboardServiceCommand(s *streams) *cobra.Command {
	var (
		project, chartPath, stage, strategy string
		conn                                *connFlags
	)
	cmd := &cobra.Command{
		Use:   "service NAME --project P [--chart DIR|FILE.tgz] [--stage S]",
		Short: "Create a service and store its Helm chart (keptn's older verb)",
		Long: `Onboard service creates the service when the project does not have it yet
(as create service does) and, with --chart, stores the service's Helm chart
as helm/<service>.tgz in every stage of the project, or in --stage only:
where tend's deployment task reads it.

--chart is a chart folder or a chart archive (.tgz). The chart is checked
here first, and nothing is created when it is broken. A folder is packed as
"helm package" packs it; an archive is stored byte for byte as given (Keptn's
archives, whose entries start with "./", are accepted). Keptn 0.6's
--deployment_strategy is accepted and ignored: the shipyard's deployment
task says the strategy.

Exit status 0 when the service exists and the chart is stored, 2 on a broken
chart, an unknown project or stage, bad flags or a refused token, 3 when the
server failed, could not be reached, or could not push to the upstream
repository.`,
		Example: `  tend onboard service carts --project sockshop --chart ./carts
  tend onboard service carts-db --project sockshop --chart carts-db.tgz --stage dev`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			service := args[0]
			if stage != "" && chartPath == "" {
				return &usageError{err: errors.New("--stage says where the chart goes; give --chart too")}
			}
			if strategy != "" {
				fmt.Fprintf(s.err, "Note: --deployment_strategy %s is ignored: the deployment task of the project's shipyard says the strategy (its deploymentstrategy property).\n", strategy)
			}
			var data []byte
			var name string
			if chartPath != "" {
				var err error
				if data, name, err = readChart(chartPath); err != nil {
					return inputError(fmt.Errorf("--chart %s: %w; service %s was not onboarded", chartPath, err, service))
				}
			}
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			progress(s, "Creating service %s in project %s...", service, project)
			switch _, err := c.CreateService(ctx, project, service); {
			case err == nil:
				fmt.Fprintf(s.out, "Service %s created in project %s\n", service, project)
			case client.IsConflict(err) && data != nil:
				fmt.Fprintf(s.out, "Service %s exists in project %s\n", service, project)
			default:
				return apiFailure(err)
			}
			if data == nil {
				return nil
			}
			stages := []string{stage}
			if stage == "" {
				p, err := c.GetProject(ctx, project)
				if err != nil {
					return apiFailure(err)
				}
				stages = stages[:0]
				for _, st := range p.Stages {
					stages = append(stages, st.StageName)
				}
			}
			uri := chart.ResourceURI(service)
			var pushErrs []error
			for _, st := range stages {
				ref := client.ResourceRef{Project: project, Stage: st, Service: service}
				progress(s, "Adding chart %s as %s to %s...", name, uri, ref)
				v, err := c.PutResources(ctx, ref, []client.ResourceFile{{URI: uri, Content: data}})
				if err != nil {
					return apiFailure(err)
				}
				fmt.Fprintf(s.out, "Chart %s added as %s to stage %s: commit %s\n", name, uri, st, v.CommitID)
				if err := pushFailure(v); err != nil {
					pushErrs = append(pushErrs, err)
				}
			}
			return errors.Join(pushErrs...)
		},
	}
	conn = addConnFlags(cmd)
	addProjectFlag(cmd, &project)
	cmd.Flags().StringVar(&chartPath, "chart", "", "the service's Helm chart: a folder or a .tgz archive")
	cmd.Flags().StringVar(&stage, "stage", "", "store the chart in this stage only (default: every stage)")
	cmd.Flags().StringVar(&strategy, "deployment_strategy", "", "Keptn 0.6's flag; ignored, the shipyard says the strategy")
	cmd.Flags().SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "deployment-strategy" {
			name = "deployment_strategy"
		}
		return pflag.NormalizedName(name)
	})
	return cmd
}

// readChart reads a chart folder or archive and returns the archive to
// store and the chart's name and version. A folder is packed; an archive
// is checked and kept as it is, so nothing accepted is altered.
func readChart(p string) (data []byte, name string, err error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, "", err
	}
	if fi.IsDir() {
		ch, err := chart.LoadPath(p)
		if err != nil {
			// LoadPath names the folder; the caller does too.
			return nil, "", errors.New(strings.TrimPrefix(err.Error(), p+": "))
		}
		if data, err = chart.Archive(ch); err != nil {
			return nil, "", err
		}
		return data, chartName(ch), nil
	}
	if fi.Size() > chart.MaxArchiveSize {
		return nil, "", fmt.Errorf("chart archive is %d bytes, more than the %d allowed", fi.Size(), chart.MaxArchiveSize)
	}
	if data, err = os.ReadFile(p); err != nil {
		return nil, "", err
	}
	ch, err := chart.Load(data)
	if err != nil {
		return nil, "", err
	}
	return data, chartName(ch), nil
}

// chartName is "name version" of a chart, as helm list shows it.
func chartName(ch *chart.Chart) string {
	if ch.Metadata == nil {
		return "?"
	}
	return strings.TrimSpace(ch.Metadata.Name + " " + ch.Metadata.Version)
}
