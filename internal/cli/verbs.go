package cli

import (
	"github.com/spf13/cobra"
)

// The verbs of keptn's CLI (create, get, delete, send, onboard) group the
// online commands; each noun's subcommands live in its own file (token.go,
// project.go, service.go, resource.go, event.go). Later nouns join the
// lists here.

// groupCommand is a verb without an action of its own: alone it prints its
// help; with an unknown noun it is a usage error (exit 2), not help with
// exit 0 as cobra would do.
func groupCommand(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(subs...)
	return cmd
}

func newCreateCommand(s *streams) *cobra.Command {
	return groupCommand("create", "Create a token, project or service on the tend server",
		newCreateTokenCommand(s),
		newCreateProjectCommand(s),
		newCreateServiceCommand(s),
	)
}

func newGetCommand(s *streams) *cobra.Command {
	return groupCommand("get", "Show tokens, projects, services, resources and events",
		newGetTokensCommand(s),
		newGetProjectsCommand(s),
		newGetProjectCommand(s),
		newGetServicesCommand(s),
		newGetServiceCommand(s),
		newGetResourcesCommand(s),
		newGetResourceCommand(s),
		newGetEventCommand(s),
		newGetEventsCommand(s),
		newGetProblemsCommand(s),
		newGetProblemCommand(s),
		newGetRemediationsCommand(s),
		newGetRemediationCommand(s),
		newGetSequencesCommand(s),
		newGetConfigCommand(s),
		newGetIntegrationsCommand(s),
		newGetSLOsCommand(s),
	)
}

func newDeleteCommand(s *streams) *cobra.Command {
	return groupCommand("delete", "Delete a token, project, service or resource",
		newDeleteTokenCommand(s),
		newDeleteProjectCommand(s),
		newDeleteServiceCommand(s),
		newDeleteResourceCommand(s),
	)
}

func newSendCommand(s *streams) *cobra.Command {
	ev := newSendEventCommand(s)
	ev.AddCommand(newSendEventNewArtifactCommand(s))
	return groupCommand("send", "Send a Keptn CloudEvent to the tend server", ev)
}

// newAbortCommand is the abort verb; sequence is its noun.
func newAbortCommand(s *streams) *cobra.Command {
	return groupCommand("abort", "Abort work on the tend server", newSequenceControlCommand(s, "abort"))
}

// newOnboardCommand keeps keptn's older verb: `onboard service` is
// `create service` that also stores the service's Helm chart (--chart).
func newOnboardCommand(s *streams) *cobra.Command {
	return groupCommand("onboard", "Keptn's older verb for create service, with the service's Helm chart", newOnboardServiceCommand(s))
}
