package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/client"
)

// This file holds what every command that talks to a tend server shares:
// where the credentials come from, how a client is built, and how the
// client's errors become exit statuses.

// Environment variables the online commands read. Flags win over them, and
// they win over the stored configuration.
const (
	envEndpoint = "TEND_ENDPOINT"
	envAPIToken = "TEND_API_TOKEN"
	// envConfig names the configuration file instead of the user's config
	// directory; tests and scripts with several servers use it.
	envConfig = "TEND_CONFIG"
)

// authHint ends every message about missing or refused credentials.
const authHint = `run "tend auth --endpoint URL --api-token TOKEN" (or pass --endpoint and --api-token)`

// cliConfig is what `tend auth` stores: the server and the token to use.
type cliConfig struct {
	Endpoint string `json:"endpoint"`
	Token    string `json:"token"`
}

// configPath is where the configuration lives: $TEND_CONFIG, else
// tend/config.json in the user's config directory.
func configPath() (string, error) {
	if p := os.Getenv(envConfig); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user's config directory (set %s to a file path instead): %w", envConfig, err)
	}
	return filepath.Join(dir, "tend", "config.json"), nil
}

// errNoConfig means `tend auth` was never run.
var errNoConfig = errors.New("no stored credentials")

// loadConfig reads the stored configuration. A missing file is errNoConfig.
func loadConfig() (cliConfig, string, error) {
	path, err := configPath()
	if err != nil {
		return cliConfig{}, "", err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return cliConfig{}, path, errNoConfig
	}
	if err != nil {
		return cliConfig{}, path, fmt.Errorf("read config %s: %w", path, unwrapPathError(err))
	}
	var cfg cliConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cliConfig{}, path, fmt.Errorf("read config %s: not tend's JSON configuration (%v); %s to write it again", path, err, authHint)
	}
	return cfg, path, nil
}

// saveConfig writes cfg so that only the user can read it: the directory
// 0700 and the file 0600. It writes a temporary file and renames it, so a
// crash never leaves half a file, and an older file with a wider mode is
// replaced rather than kept.
func saveConfig(cfg cliConfig) (string, error) {
	path, err := configPath()
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return path, fmt.Errorf("create config directory %s: %w", dir, unwrapPathError(err))
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return path, fmt.Errorf("encode config: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.json")
	if err != nil {
		return path, fmt.Errorf("write config %s: %w", path, unwrapPathError(err))
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return path, fmt.Errorf("write config %s: %w", path, err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return path, fmt.Errorf("write config %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return path, fmt.Errorf("write config %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return path, fmt.Errorf("write config %s: %w", path, unwrapPathError(err))
	}
	return path, nil
}

// readSecret resolves a secret given on the command line without putting it
// into the shell's history: "-" reads the first line of standard input,
// "file:PATH" the first line of a file, "env:NAME" an environment variable;
// anything else is the secret itself. flag names the flag in errors, which
// never contain the secret.
func readSecret(s *streams, flag, value string, stdinRead *bool) (string, error) {
	var raw string
	switch {
	case value == "-":
		if *stdinRead {
			return "", fmt.Errorf("--%s -: standard input is already read by another flag", flag)
		}
		*stdinRead = true
		data, err := io.ReadAll(io.LimitReader(s.in, 64<<10))
		if err != nil {
			return "", fmt.Errorf("--%s -: read standard input: %w", flag, err)
		}
		raw = string(data)
	case strings.HasPrefix(value, "file:"):
		path := strings.TrimPrefix(value, "file:")
		data, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("--%s file:%s: %w", flag, path, unwrapPathError(err))
		}
		raw = string(data)
	case strings.HasPrefix(value, "env:"):
		name := strings.TrimPrefix(value, "env:")
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return "", fmt.Errorf("--%s env:%s: the environment variable %s is not set", flag, name, name)
		}
		raw = v
	default:
		return value, nil
	}
	if i := strings.IndexAny(raw, "\r\n"); i >= 0 {
		raw = raw[:i]
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", fmt.Errorf("--%s %s: the secret is empty", flag, value)
	}
	return raw, nil
}

// connFlags are --endpoint and --api-token, which every online command has.
// stdinRead records whether standard input was consumed, by "--api-token
// -" or by a command's own "-" argument, since it can be read only once.
type connFlags struct {
	endpoint  string
	token     string
	stdinRead bool
}

// addConnFlags registers --endpoint and --api-token on cmd.
func addConnFlags(cmd *cobra.Command) *connFlags {
	f := &connFlags{}
	cmd.Flags().StringVar(&f.endpoint, "endpoint", "", "tend server URL (default: $"+envEndpoint+", else the one stored by tend auth)")
	cmd.Flags().StringVar(&f.token, "api-token", "", `API token, or "-" (stdin), "file:PATH", "env:NAME" (default: $`+envAPIToken+", else the stored one)")
	return f
}

// credentials picks the endpoint and token: flags, then the environment,
// then the stored configuration, each part on its own.
func (f *connFlags) credentials(s *streams) (endpoint, token string, err error) {
	endpoint = firstNonEmpty(f.endpoint, os.Getenv(envEndpoint))
	if f.token != "" {
		if token, err = readSecret(s, "api-token", f.token, &f.stdinRead); err != nil {
			return "", "", inputError(err)
		}
	} else {
		token = os.Getenv(envAPIToken)
	}
	if endpoint != "" && token != "" {
		return endpoint, token, nil
	}
	cfg, path, err := loadConfig()
	switch {
	case errors.Is(err, errNoConfig):
		return "", "", inputError(fmt.Errorf("no tend server configured (no %s): %s", path, authHint))
	case err != nil:
		return "", "", inputError(err)
	}
	endpoint = firstNonEmpty(endpoint, cfg.Endpoint)
	token = firstNonEmpty(token, cfg.Token)
	if endpoint == "" || token == "" {
		return "", "", inputError(fmt.Errorf("config %s holds no endpoint or no token: %s", path, authHint))
	}
	return endpoint, token, nil
}

// client builds the API client the command talks through.
func (f *connFlags) client(s *streams) (*client.Client, error) {
	endpoint, token, err := f.credentials(s)
	if err != nil {
		return nil, err
	}
	return newAPIClient(endpoint, token)
}

func newAPIClient(endpoint, token string) (*client.Client, error) {
	c, err := client.New(endpoint, token, client.WithUserAgent("tend/"+buildInfo().Version))
	if err != nil {
		return nil, inputError(err)
	}
	return c, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// apiFailure gives an error of the client its exit status: 3 when the
// server failed or could not be reached; 2 when the request was wrong (400,
// 404, 409, 413) or the token was refused (401, 403), with a hint on what
// to do about the token. An interrupted call (Ctrl-C) counts as not
// finished by the server: 3.
func apiFailure(err error) error {
	switch {
	case err == nil:
		return nil
	case client.IsServerFailure(err):
		return withExit(ExitServer, err)
	case client.IsUnauthorized(err):
		return inputError(fmt.Errorf("%w\nThe server did not accept the API token: %s", err, authHint))
	case client.IsForbidden(err):
		return inputError(fmt.Errorf("%w\nThe API token's scope or project does not allow this; use a token with more rights", err))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return withExit(ExitServer, fmt.Errorf("%w: interrupted before the server answered", err))
	}
	return inputError(err)
}

// printRaw prints an answer body for -o json or -o yaml. The JSON is the
// server's answer, only indented.
func printRaw(s *streams, f outputFormat, raw []byte) error {
	if err := writeRaw(s.out, f, raw); err != nil {
		return withExit(ExitServer, fmt.Errorf("print the server's answer: %w", err))
	}
	return nil
}

// getRaw fetches one route for -o json and -o yaml.
func getRaw(ctx context.Context, c *client.Client, path string, query url.Values) ([]byte, error) {
	_, data, err := c.Raw(ctx, http.MethodGet, path, query, nil)
	if err != nil {
		return nil, apiFailure(err)
	}
	return data, nil
}

// printAnswer prints the server's answer to GET path?query unchanged, for
// -o json and -o yaml.
func printAnswer(ctx context.Context, s *streams, c *client.Client, f outputFormat, path string, query url.Values) error {
	raw, err := getRaw(ctx, c, path, query)
	if err != nil {
		return err
	}
	return printRaw(s, f, raw)
}

// printAllPages prints the server's answer to GET path, every page of the
// list under listKey joined (getRawAllPages), for -o json and -o yaml.
func printAllPages(ctx context.Context, s *streams, c *client.Client, f outputFormat, path, listKey string) error {
	raw, err := getRawAllPages(ctx, c, path, listKey)
	if err != nil {
		return err
	}
	return printRaw(s, f, raw)
}

// showOne prints the one object id that a get command asked for: -o json
// and -o yaml print the server's answer at path unchanged, so nothing the
// CLI does not know is lost; a table decodes it through get and renders it
// with table.
func showOne[T any](ctx context.Context, s *streams, c *client.Client, f outputFormat, path, id string,
	get func(context.Context, string) (T, error), table func(io.Writer, T) error) error {
	if f != formatTable {
		return printAnswer(ctx, s, c, f, path, nil)
	}
	v, err := get(ctx, id)
	if err != nil {
		return apiFailure(err)
	}
	return table(s.out, v)
}

// maxRawPages stops a server that hands out page keys without end.
const maxRawPages = 10000

// getOneCommand completes cmd (its Use, Short, Long and Example set) as the
// get command of one object named by its argument: showOne with the
// object's API route path(arg), get and table.
func getOneCommand[T any](s *streams, cmd *cobra.Command, path func(string) string,
	get func(*client.Client, context.Context, string) (T, error), table func(io.Writer, T) error) *cobra.Command {
	var (
		format outputFormat
		conn   *connFlags
	)
	cmd.Args = usageArgs(cobra.ExactArgs(1))
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := conn.client(s)
		if err != nil {
			return err
		}
		return showOne(cmd.Context(), s, c, format, path(args[0]), args[0], func(ctx context.Context, id string) (T, error) {
			return get(c, ctx, id)
		}, table)
	}
	conn = addConnFlags(cmd)
	addOutputFlag(cmd, &format)
	return cmd
}

// deleteCommand completes cmd (its Use, Short, Long and Example set) as the
// delete command of one object named by its argument: del deletes it and
// "<what> NAME deleted" says so.
func deleteCommand(s *streams, cmd *cobra.Command, what string, del func(*client.Client, context.Context, string) error) *cobra.Command {
	var conn *connFlags
	cmd.Args = usageArgs(cobra.ExactArgs(1))
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := conn.client(s)
		if err != nil {
			return err
		}
		if err := del(c, cmd.Context(), args[0]); err != nil {
			return apiFailure(err)
		}
		fmt.Fprintf(s.out, "%s %s deleted\n", what, args[0])
		return nil
	}
	conn = addConnFlags(cmd)
	return cmd
}

// printList prints items as a table under header, a row each, or says
// "No <what>." on stderr when there are none.
func printList[T any](s *streams, what, header string, items []T, row func(io.Writer, *T)) error {
	if len(items) == 0 {
		fmt.Fprintf(s.err, "No %s.\n", what)
		return nil
	}
	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for i := range items {
		row(tw, &items[i])
	}
	return tw.Flush()
}

// getRawAllPages fetches a paged list for -o json. When the server answers
// in one page, which is the usual case, the answer is returned unchanged;
// when it pages, the items under listKey of every page are joined into one
// answer of the same shape, {"<listKey>": [...], "totalCount": N}, so the
// output never silently stops at the first page.
func getRawAllPages(ctx context.Context, c *client.Client, path, listKey string) ([]byte, error) {
	var (
		items []json.RawMessage
		total int
		key   string
	)
	for page := 0; ; page++ {
		if page == maxRawPages {
			return nil, withExit(ExitServer, fmt.Errorf("GET %s: the server answered more than %d pages", path, maxRawPages))
		}
		var q url.Values
		if key != "" {
			q = url.Values{"nextPageKey": {key}}
		}
		data, err := getRaw(ctx, c, path, q)
		if err != nil {
			return nil, err
		}
		var wire map[string]json.RawMessage
		if err := json.Unmarshal(data, &wire); err != nil {
			return nil, withExit(ExitServer, fmt.Errorf("GET %s: unusable answer from the server: %w", path, err))
		}
		var next string
		if raw, ok := wire["nextPageKey"]; ok {
			_ = json.Unmarshal(raw, &next)
		}
		if page == 0 && next == "" {
			return data, nil
		}
		if page == 0 {
			_ = json.Unmarshal(wire["totalCount"], &total)
		}
		var list []json.RawMessage
		if raw, ok := wire[listKey]; ok {
			if err := json.Unmarshal(raw, &list); err != nil {
				return nil, withExit(ExitServer, fmt.Errorf("GET %s: unusable answer from the server: %q is not a list", path, listKey))
			}
		}
		items = append(items, list...)
		if next == "" || next == key {
			break
		}
		key = next
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	listJSON, err := json.Marshal(items)
	if err != nil {
		return nil, withExit(ExitServer, fmt.Errorf("GET %s: join pages: %w", path, err))
	}
	total = max(total, len(items))
	return fmt.Appendf(nil, `{%q:%s,"totalCount":%d}`, listKey, listJSON, total), nil
}

// formatTime prints a time for a table, in the machine's zone; the zero
// time (a field the server left out) prints as a dash.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// dash stands in for an empty table cell so columns stay readable.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// progress tells a person on stderr what a command is doing; stdout stays
// for the result.
func progress(s *streams, format string, args ...any) {
	fmt.Fprintf(s.err, format+"\n", args...)
}
