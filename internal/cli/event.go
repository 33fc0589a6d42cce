package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/jsonpos"
)

// keptnEventPrefix starts the type of every Keptn task and sequence event;
// `get event evaluation.finished` means sh.keptn.event.evaluation.finished.
const keptnEventPrefix = "sh.keptn.event."

// fullEventType expands keptn's short event types. Types already under
// sh.keptn. (including the legacy sh.keptn.events.problem) stay as they are.
func fullEventType(t string) string {
	if t == "" || strings.HasPrefix(t, "sh.keptn.") {
		return t
	}
	return keptnEventPrefix + t
}

// shortEventType is the form tables show.
func shortEventType(t string) string {
	return strings.TrimPrefix(t, keptnEventPrefix)
}

func newSendEventCommand(s *streams) *cobra.Command {
	var (
		file   string
		format outputFormat
		conn   *connFlags
	)
	cmd := &cobra.Command{
		Use:   "event --file FILE",
		Short: "Send a Keptn CloudEvent (structured JSON)",
		Long: `Send event posts a CloudEvent in structured JSON, as keptn send event did,
and prints the keptn context it was filed under: the event's shkeptncontext,
a new one when it had none, or a deterministic UUID for a context that is not
a UUID (a Dynatrace problem id, for example). "-" reads standard input.

Exit status 0 when accepted, 2 when the file is not JSON or the server
refuses the event or the token, 3 when the server failed or could not be
reached.`,
		Example: `  tend send event --file evaluation-triggered.json
  cat event.json | tend send event --file - -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, data, err := readInput(s, file, &conn.stdinRead)
			if err != nil {
				return inputError(fmt.Errorf("--file %s: %w", name, err))
			}
			if err := checkEventJSON(data); err != nil {
				return inputError(fmt.Errorf("--file %s: %w", name, err))
			}
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			if format != formatTable {
				_, raw, err := c.Raw(cmd.Context(), http.MethodPost, client.PathEvents, nil, data)
				if err != nil {
					return apiFailure(err)
				}
				return printRaw(s, format, raw)
			}
			kctx, err := c.SendEvent(cmd.Context(), data)
			if err != nil {
				return apiFailure(err)
			}
			fmt.Fprintf(s.out, "ID of Keptn context: %s\n", kctx)
			return nil
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().StringVarP(&file, "file", "f", "", `the CloudEvent as structured JSON ("-" reads standard input)`)
	addOutputFlag(cmd, &format)
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// checkEventJSON catches a file that cannot be an event before it is sent;
// the server checks the CloudEvent itself.
func checkEventJSON(data []byte) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		if syn, ok := errors.AsType[*json.SyntaxError](err); ok {
			line, col := jsonpos.LineCol(data, syn.Offset-1) // Offset is just past the bad byte
			return fmt.Errorf("line %d, column %d: not valid JSON: %v; want one CloudEvent in structured JSON", line, col, err)
		}
		return fmt.Errorf("not a JSON object (%v); want one CloudEvent in structured JSON, {\"specversion\": \"1.0\", \"type\": ...}", err)
	}
	if _, ok := obj["type"]; !ok {
		return errors.New(`the event has no "type"; want a CloudEvent such as {"specversion": "1.0", "type": "sh.keptn.event.evaluation.triggered", "source": ..., "data": {...}}`)
	}
	return nil
}

// eventFlags are the filters of get event and get events.
type eventFlags struct {
	project, stage, service, keptnContext, typ string
	pageSize                                   int
	nextPageKey                                string
}

func (f *eventFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.project, "project", "", "only events of this project")
	cmd.Flags().StringVar(&f.stage, "stage", "", "only events of this stage")
	cmd.Flags().StringVar(&f.service, "service", "", "only events of this service")
	cmd.Flags().IntVar(&f.pageSize, "page-size", 0, "events per page (default: the server's)")
	cmd.Flags().StringVar(&f.nextPageKey, "next-page-key", "", "continue after an earlier page (its nextPageKey)")
}

func (f *eventFlags) filter() (client.EventFilter, error) {
	if f.pageSize < 0 {
		return client.EventFilter{}, &usageError{err: fmt.Errorf("--page-size %d: want a positive number", f.pageSize)}
	}
	return client.EventFilter{
		Project: f.project, Stage: f.stage, Service: f.service,
		Type: fullEventType(f.typ), KeptnContext: f.keptnContext,
		PageSize: f.pageSize, NextPageKey: f.nextPageKey,
	}, nil
}

// listEvents prints one page of events: the server's answer unchanged for
// -o json and -o yaml, a table otherwise, with a hint on stderr when there
// are more pages.
func listEvents(ctx context.Context, s *streams, c *client.Client, f client.EventFilter, format outputFormat) error {
	if format != formatTable {
		return printAnswer(ctx, s, c, format, client.PathEvents, f.Query())
	}
	page, err := c.ListEvents(ctx, f)
	if err != nil {
		return apiFailure(err)
	}
	if len(page.Events) == 0 {
		fmt.Fprintln(s.err, "No events found.")
		return nil
	}
	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, eventHeader)
	for _, raw := range page.Events {
		fmt.Fprintln(tw, summarizeEvent(raw).row("\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.NextPageKey != "" {
		fmt.Fprintf(s.err, "More events: add --next-page-key %s\n", page.NextPageKey)
	}
	return nil
}

const eventHeader = "TIME\tTYPE\tKEPTN CONTEXT\tPROJECT/STAGE/SERVICE\tRESULT\tSTATUS"

// eventSummary is what a table shows of a CloudEvent.
type eventSummary struct {
	time, typ, keptnContext         string
	project, stage, service, result string
	status                          string
}

// summarizeEvent reads the fields a table shows. Events come from the
// outside world, so every field is optional and a wrong type leaves it
// empty instead of failing the listing.
func summarizeEvent(raw []byte) eventSummary {
	var ev struct {
		Type    json.RawMessage `json:"type"`
		Time    json.RawMessage `json:"time"`
		Context json.RawMessage `json:"shkeptncontext"`
		Data    json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal(raw, &ev)
	var data struct {
		Project, Stage, Service, Result, Status json.RawMessage
	}
	_ = json.Unmarshal(ev.Data, &data)
	str := func(r json.RawMessage) string {
		var v string
		if json.Unmarshal(r, &v) != nil {
			return ""
		}
		return v
	}
	sum := eventSummary{
		typ: shortEventType(str(ev.Type)), keptnContext: str(ev.Context),
		project: str(data.Project), stage: str(data.Stage), service: str(data.Service),
		result: str(data.Result), status: str(data.Status),
	}
	sum.time = str(ev.Time)
	if t, err := time.Parse(time.RFC3339Nano, sum.time); err == nil {
		sum.time = formatTime(t)
	}
	return sum
}

func (e eventSummary) row(sep string) string {
	where := strings.TrimRight(strings.Join([]string{e.project, e.stage, e.service}, "/"), "/")
	return strings.Join([]string{dash(e.time), dash(e.typ), dash(e.keptnContext), dash(where), dash(e.result), dash(e.status)}, sep)
}

func newGetEventCommand(s *streams) *cobra.Command {
	var (
		ef     eventFlags
		format outputFormat
		conn   *connFlags
	)
	cmd := &cobra.Command{
		Use:   "event TYPE --keptn-context ID [--project P] [--stage S] [--service X]",
		Short: "Show the events of one type in a keptn context",
		Long: `Get event shows the events of one type in one keptn context, newest first,
as keptn get event did. TYPE is the full type
(sh.keptn.event.evaluation.finished) or the short one (evaluation.finished).
-o json prints the server's answer unchanged: {"events": [...], ...} with the
CloudEvents as stored.

One page is printed; --page-size sets its size and --next-page-key continues.

Exit status 0 (also when no event matches), 2 on bad flags or a refused
token, 3 when the server failed or could not be reached.`,
		Example: `  tend get event evaluation.finished --keptn-context 9c7f0e9e-4e0c-4c39-9d51-46f3c1b5c0aa -o json
  tend get event sh.keptn.event.evaluation.finished --keptn-context ID --project sockshop`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ef.typ = args[0]
			f, err := ef.filter()
			if err != nil {
				return err
			}
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			return listEvents(cmd.Context(), s, c, f, format)
		},
	}
	conn = addConnFlags(cmd)
	ef.add(cmd)
	cmd.Flags().StringVar(&ef.keptnContext, "keptn-context", "", "the keptn context (shkeptncontext)")
	addOutputFlag(cmd, &format)
	_ = cmd.MarkFlagRequired("keptn-context")
	return cmd
}

func newGetEventsCommand(s *streams) *cobra.Command {
	var (
		ef     eventFlags
		watch  bool
		format outputFormat
		conn   *connFlags
	)
	cmd := &cobra.Command{
		Use:   "events [--project P] [--stage S] [--service X] [--type TYPE] [--keptn-context ID] [--watch]",
		Short: "List events, or follow new ones with --watch",
		Long: `Get events lists the event log, newest first, filtered by the flags given.
-o json prints the server's answer unchanged. One page is printed;
--page-size sets its size and --next-page-key continues.

--watch follows the live event stream instead and prints one line per new
event (with -o json one CloudEvent per line, with -o yaml one document per
event) until Ctrl-C; it reconnects by itself when the connection breaks.

Exit status 0 (also after Ctrl-C), 2 on bad flags or a refused token, 3 when
the server failed or could not be reached.`,
		Example: `  tend get events --project sockshop --service carts
  tend get events --project sockshop --watch`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := ef.filter()
			if err != nil {
				return err
			}
			if watch && (ef.pageSize != 0 || ef.nextPageKey != "") {
				return &usageError{err: errors.New("--watch follows new events; it takes no --page-size or --next-page-key")}
			}
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			if watch {
				return watchEvents(cmd.Context(), s, c, f, format)
			}
			return listEvents(cmd.Context(), s, c, f, format)
		},
	}
	conn = addConnFlags(cmd)
	ef.add(cmd)
	cmd.Flags().StringVar(&ef.typ, "type", "", "only events of this type (full or short, like evaluation.finished)")
	cmd.Flags().StringVar(&ef.keptnContext, "keptn-context", "", "only events of this keptn context")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "follow new events until Ctrl-C")
	addOutputFlag(cmd, &format)
	return cmd
}

// watchEvents follows the event stream. The server filters by project;
// the other filters are applied here.
func watchEvents(ctx context.Context, s *streams, c *client.Client, f client.EventFilter, format outputFormat) error {
	where := "every project"
	if f.Project != "" {
		where = "project " + f.Project
	}
	progress(s, "Watching new events of %s; Ctrl-C stops.", where)
	if format == formatTable {
		fmt.Fprintln(s.out, watchRow(strings.Split(eventHeader, "\t")))
	}
	err := c.StreamEvents(ctx, f.Project, "", func(_, _ string, data []byte) error {
		if !matchesEvent(data, f) {
			return nil
		}
		return printStreamedEvent(s.out, format, data)
	})
	if ctx.Err() != nil {
		return nil // Ctrl-C is how a watch ends
	}
	if err != nil {
		return apiFailure(err)
	}
	return nil
}

func printStreamedEvent(w io.Writer, format outputFormat, data []byte) error {
	switch format {
	case formatJSON:
		var buf bytes.Buffer
		if err := json.Compact(&buf, data); err != nil {
			return withExit(ExitServer, fmt.Errorf("the event stream sent an event that is not JSON: %w", err))
		}
		buf.WriteByte('\n')
		_, err := w.Write(buf.Bytes())
		return err
	case formatYAML:
		y, err := jsonToYAML(data)
		if err != nil {
			return withExit(ExitServer, fmt.Errorf("the event stream sent an event that is not JSON: %w", err))
		}
		_, err = fmt.Fprintf(w, "---\n%s", y)
		return err
	}
	_, err := fmt.Fprintln(w, watchRow(strings.Split(summarizeEvent(data).row("\t"), "\t")))
	return err
}

// watchWidths are the column widths of --watch's table: lines are printed
// as events arrive, so a tabwriter cannot measure them. They fit the usual
// values (a keptn context is a UUID); longer values push the line right.
var watchWidths = []int{19, 24, 36, 32, 7, 0}

func watchRow(cols []string) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString("  ")
		}
		if i < len(watchWidths) && watchWidths[i] > 0 && i < len(cols)-1 {
			fmt.Fprintf(&b, "%-*s", watchWidths[i], c)
		} else {
			b.WriteString(c)
		}
	}
	return b.String()
}

// matchesEvent applies the filters the stream route does not take.
func matchesEvent(data []byte, f client.EventFilter) bool {
	var ev struct {
		Type    string `json:"type"`
		Context string `json:"shkeptncontext"`
		Data    struct {
			Stage   string `json:"stage"`
			Service string `json:"service"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		// Unreadable fields cannot match a filter, but with no filter the
		// event is still shown.
		return f.Type == "" && f.KeptnContext == "" && f.Stage == "" && f.Service == ""
	}
	return (f.Type == "" || ev.Type == f.Type) &&
		(f.KeptnContext == "" || ev.Context == f.KeptnContext) &&
		(f.Stage == "" || ev.Data.Stage == f.Stage) &&
		(f.Service == "" || ev.Data.Service == f.Service)
}
