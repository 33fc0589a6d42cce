package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/app"
	"github.com/tendhq/tend/internal/bench"
	"github.com/tendhq/tend/internal/client"
)

type benchIntakeFlags struct {
	token       string
	database    string
	dataDir     string
	alerts      []int
	load        string
	groups      int
	concurrency int
	duration    time.Duration
	count       int64
	rate        float64
	tendBinary  string
	output      outputFormat
}

func newBenchIntakeCommand(s *streams) *cobra.Command {
	var f benchIntakeFlags
	cmd := &cobra.Command{
		Use:   "intake",
		Short: "Load tend's Alertmanager webhook side by side with a trivial JSON handler",
		Long: `Measure tend's Alertmanager intake against its ceiling. The command starts
two processes on 127.0.0.1: a trivial Go net/http handler that only decodes
the webhook's JSON body and answers 200, and tend serve (SQLite in a
temporary data directory, or the PostgreSQL database given with
--database). It loads each in turn with the same client settings
(--concurrency clients on keep-alive connections, for --duration or --count
messages) with Alertmanager messages of --alerts alerts, and prints both
rates, both latency distributions (p50, p90, p99, max) and the ratio
tend / trivial.

--load says what the alerts are: repeats (a fixed set of --groups messages
of firing alerts sent over and over, as Alertmanager re-sends them: after
the first round every alert is a duplicate of an open problem), new (every
alert is one never seen, so every alert opens a problem) or mix (the two
alternating).

Afterwards it reads the project's problem list and fails unless the
deduplication was exact: one problem per distinct alert sent, no more.

The alerts go to a new project whose stage has no remediation, so that the
intake is measured rather than the remediations it would start. With
--database, the database's admin token is needed when the database has
been started before (--api-token).

A line of progress goes to stderr every second; the result goes to stdout.`,
		Example: `  tend bench intake --duration 8s -c 32
  tend bench intake --duration 8s -c 32 --load new --alerts 10
  tend bench intake --database postgres://postgres@127.0.0.1:5432/bench --api-token file:admin-token --count 20000`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchIntake(cmd.Context(), s, f, cmd.Flags().Changed("duration"))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.token, "api-token", "", `admin token of the --database server, or "-" (stdin), "file:PATH", "env:NAME"; empty reads the admin-token file of a fresh data directory`)
	fl.StringVar(&f.database, "database", "", "postgres:// URL for tend serve; empty means SQLite in the data directory")
	fl.StringVar(&f.dataDir, "data-dir", "", "data directory of tend serve; empty means a temporary one, removed afterwards")
	fl.IntSliceVar(&f.alerts, "alerts", []int{1, 10}, "alerts per message; several values run one comparison each")
	fl.StringVar(&f.load, "load", "repeats", "what the alerts are: repeats, new or mix")
	fl.IntVar(&f.groups, "groups", 100, "distinct messages the repeats cycle through")
	fl.IntVarP(&f.concurrency, "concurrency", "c", 32, "number of concurrent clients, each with its own connection")
	fl.DurationVar(&f.duration, "duration", 8*time.Second, "how long to load each server")
	fl.Int64Var(&f.count, "count", 0, "send this many messages to each server and stop (instead of --duration, unless both are given)")
	fl.Float64Var(&f.rate, "rate", 0, "messages per second at a fixed rate (open loop); 0 sends as fast as answered")
	fl.StringVar(&f.tendBinary, "tend-binary", "", "tend binary to start both servers with; empty means this one")
	_ = fl.MarkHidden("tend-binary")
	addOutputFlag(cmd, &f.output)
	return cmd
}

// IntakeComparison is one comparison of bench intake: the same load on the
// trivial handler and on tend, and what tend's problem list holds after.
type IntakeComparison struct {
	Alerts   int                 `json:"alertsPerMessage"`
	Load     bench.Load          `json:"load"`
	Trivial  *bench.IntakeResult `json:"trivial"`
	Tend     *bench.IntakeResult `json:"tend"`
	Ratio    float64             `json:"ratio"`
	Problems bench.ProblemCount  `json:"problems"`
	Exact    bool                `json:"exact"`
}

func runBenchIntake(ctx context.Context, s *streams, f benchIntakeFlags, durationGiven bool) error {
	// Both child processes copy their stderr into s.err from goroutines of
	// their own while this one prints progress there: one lock serialises
	// the writes.
	s = &streams{in: s.in, out: s.out, err: &lockedWriter{w: s.err}}
	load, err := bench.ParseLoad(f.load)
	switch {
	case err != nil:
		return &usageError{err: fmt.Errorf("--load: %w", err)}
	case f.concurrency < 1:
		return &usageError{err: fmt.Errorf("--concurrency must be at least 1, got %d", f.concurrency)}
	case f.duration <= 0:
		return &usageError{err: fmt.Errorf("--duration must be positive, got %s", f.duration)}
	case f.duration > time.Hour:
		return &usageError{err: fmt.Errorf("--duration %s is over an hour: a run loads two servers per --alerts value", f.duration)}
	case f.count < 0:
		return &usageError{err: fmt.Errorf("--count must not be negative, got %d", f.count)}
	case f.rate < 0:
		return &usageError{err: fmt.Errorf("--rate must not be negative, got %g", f.rate)}
	case f.groups < 1:
		return &usageError{err: fmt.Errorf("--groups must be at least 1, got %d", f.groups)}
	case len(f.alerts) == 0:
		return &usageError{err: errors.New("--alerts needs at least one number of alerts per message")}
	case f.database != "" && !strings.HasPrefix(f.database, "postgres://") && !strings.HasPrefix(f.database, "postgresql://"):
		return &usageError{err: errors.New("--database must be a postgres:// URL; leave it empty for SQLite in the data directory")}
	}
	for _, a := range f.alerts {
		if a < 1 || a > 1000 {
			return &usageError{err: fmt.Errorf("--alerts %d: give 1 to 1000 alerts per message", a)}
		}
	}
	duration := f.duration
	if f.count > 0 && !durationGiven {
		duration = 0
	}
	token := ""
	if f.token != "" {
		stdinRead := false
		if token, err = readSecret(s, "api-token", f.token, &stdinRead); err != nil {
			return inputError(err)
		}
	}
	bin := f.tendBinary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return withExit(ExitServer, fmt.Errorf("bench intake: find the tend binary: %w", err))
		}
	}

	var cleanup []func()
	defer func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}()
	dataDir := f.dataDir
	if dataDir == "" {
		dir, err := os.MkdirTemp("", "tend-bench-intake-")
		if err != nil {
			return withExit(ExitServer, fmt.Errorf("bench intake: make a data directory: %w", err))
		}
		cleanup = append(cleanup, func() { _ = os.RemoveAll(dir) })
		dataDir = dir
	}
	trivial, err := startChild(ctx, s, bin, "trivial handler serving on ", "bench", "trivial-server")
	if err != nil {
		return withExit(ExitServer, err)
	}
	cleanup = append(cleanup, func() { trivial.stop(s) })
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn", "--no-print-token"}
	if f.database != "" {
		args = append(args, "--database", f.database)
	}
	tend, err := startChild(ctx, s, bin, "tend is serving on ", args...)
	if err != nil {
		return withExit(ExitServer, err)
	}
	cleanup = append(cleanup, func() { tend.stop(s) })
	if token == "" {
		data, err := os.ReadFile(filepath.Join(dataDir, app.AdminTokenFile))
		if err != nil {
			return inputError(fmt.Errorf("bench intake: no admin token: %w (a database started before needs --api-token)", unwrapPathError(err)))
		}
		token = strings.TrimSpace(string(data))
	}
	admin, err := client.New(tend.url, token)
	if err != nil {
		return withExit(ExitServer, err)
	}
	if err := waitReady(ctx, admin); err != nil {
		return withExit(ExitServer, err)
	}

	target := "SQLite in " + dataDir
	if f.database != "" {
		target = "PostgreSQL"
	}
	fmt.Fprintf(s.err, "Loading a trivial handler (pid %d) and tend serve (pid %d, %s): concurrency %d, load %s, GOMAXPROCS %d.\n",
		trivial.cmd.Process.Pid, tend.cmd.Process.Pid, target, f.concurrency, load, runtime.GOMAXPROCS(0))
	var out []IntakeComparison
	for _, alerts := range f.alerts {
		c, err := compareIntake(ctx, s, admin, trivial.url, tend.url, token, f, load, alerts, duration)
		if c != nil {
			out = append(out, *c)
		}
		if err != nil {
			_ = writeOutput(s.out, f.output, out, func(w io.Writer) error { return writeIntakeTable(w, out) })
			return withExit(ExitServer, err)
		}
	}
	if err := writeOutput(s.out, f.output, out, func(w io.Writer) error { return writeIntakeTable(w, out) }); err != nil {
		return err
	}
	for _, c := range out {
		if !c.Exact {
			return withExit(ExitServer, fmt.Errorf("bench intake: %d alerts per message: the problem list holds %d problems (%d open, %d distinct keys), want %d to %d: deduplication was not exact",
				c.Alerts, c.Problems.Problems, c.Problems.Open, c.Problems.Keys, c.Tend.MinProblems, c.Tend.MaxProblems))
		}
		if c.Tend.Accepted == 0 || c.Trivial.Accepted == 0 {
			return withExit(ExitServer, fmt.Errorf("bench intake: %d alerts per message: a server accepted no message; first errors: %s",
				c.Alerts, strings.Join(append(c.Trivial.ErrorSamples, c.Tend.ErrorSamples...), "; ")))
		}
	}
	return nil
}

// compareIntake makes a project for one comparison, loads the trivial
// handler and then tend with it, and counts tend's problems.
func compareIntake(ctx context.Context, s *streams, admin *client.Client, trivialURL, tendURL, adminToken string,
	f benchIntakeFlags, load bench.Load, alerts int, duration time.Duration) (*IntakeComparison, error) {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	project := "bench-" + hex.EncodeToString(rnd[:]) + "-" + strconv.Itoa(alerts)
	shipyard := "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata: {name: " + project + "}\nspec:\n  stages:\n    - name: production\n"
	if _, err := admin.CreateProject(ctx, apitypes.CreateProjectRequest{Name: project, Shipyard: shipyard}); err != nil {
		return nil, fmt.Errorf("bench intake: %w", err)
	}
	if _, err := admin.CreateService(ctx, project, "carts"); err != nil {
		return nil, fmt.Errorf("bench intake: %w", err)
	}
	tok, err := admin.CreateToken(ctx, apitypes.CreateTokenRequest{Name: project, Scope: "intake", Project: project})
	if err != nil {
		return nil, fmt.Errorf("bench intake: %w", err)
	}
	defer func() { _ = admin.DeleteToken(context.WithoutCancel(ctx), project) }()

	opts := bench.IntakeOptions{
		Project: project, Stage: "production", Service: "carts", RunID: "bench" + hex.EncodeToString(rnd[:]),
		Alerts: alerts, Load: load, Groups: f.groups, Concurrency: f.concurrency,
		Duration: duration, Count: f.count, Rate: f.rate, Progress: s.err,
	}
	c := &IntakeComparison{Alerts: alerts, Load: load}
	fmt.Fprintf(s.err, "-- %d alert(s) per message: trivial handler\n", alerts)
	opts.Endpoint = trivialURL
	if c.Trivial, err = bench.Intake(ctx, opts); err != nil {
		return nil, err
	}
	fmt.Fprintf(s.err, "-- %d alert(s) per message: tend\n", alerts)
	opts.Endpoint, opts.Token = tendURL, tok.Token
	if c.Tend, err = bench.Intake(ctx, opts); err != nil {
		return nil, err
	}
	if c.Trivial.EventsPerSecond > 0 {
		c.Ratio = c.Tend.EventsPerSecond / c.Trivial.EventsPerSecond
	}
	vctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if c.Problems, err = bench.CountProblems(vctx, tendURL, adminToken, project); err != nil {
		return c, fmt.Errorf("bench intake: check the problem list: %w", err)
	}
	p := c.Problems
	c.Exact = p.Problems == p.Keys && p.Open == p.Problems && p.Problems >= c.Tend.MinProblems && p.Problems <= c.Tend.MaxProblems
	return c, nil
}

// writeIntakeTable prints the comparisons for people.
func writeIntakeTable(w io.Writer, cs []IntakeComparison) error {
	ms := func(d time.Duration) string { return formatNumber(float64(d.Microseconds())/1000) + " ms" }
	for i, c := range cs {
		if i > 0 {
			if _, err := fmt.Fprintln(w); err != nil {
				return err
			}
		}
		exact := fmt.Sprintf("%d problems (%d open, %d distinct keys) for %d to %d distinct alerts", c.Problems.Problems, c.Problems.Open, c.Problems.Keys, c.Tend.MinProblems, c.Tend.MaxProblems)
		if c.Exact {
			exact += ": exact"
		} else {
			exact += ": NOT EXACT"
		}
		rows := [][3]string{
			{fmt.Sprintf("%d alert(s)/message, %s", c.Alerts, c.Load), "trivial", "tend"},
			{"messages", fmt.Sprint(c.Trivial.Accepted), fmt.Sprint(c.Tend.Accepted)},
			{"messages/s", formatNumber(c.Trivial.EventsPerSecond), formatNumber(c.Tend.EventsPerSecond)},
			{"alerts/s", formatNumber(c.Trivial.AlertsPerSecond), formatNumber(c.Tend.AlertsPerSecond)},
			{"latency p50", ms(c.Trivial.P50), ms(c.Tend.P50)},
			{"latency p90", ms(c.Trivial.P90), ms(c.Tend.P90)},
			{"latency p99", ms(c.Trivial.P99), ms(c.Tend.P99)},
			{"latency max", ms(c.Trivial.Max), ms(c.Tend.Max)},
			{"errors", fmt.Sprint(c.Trivial.Errors), fmt.Sprint(c.Tend.Errors)},
		}
		for _, r := range rows {
			if _, err := fmt.Fprintf(w, "%-28s %14s %14s\n", r[0], r[1], r[2]); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintf(w, "%-28s %s\n%-28s %s\n", "tend / trivial", formatNumber(c.Ratio), "deduplication", exact); err != nil {
			return err
		}
		for _, e := range append(c.Trivial.ErrorSamples, c.Tend.ErrorSamples...) {
			if _, err := fmt.Fprintf(w, "%-28s %s\n", "error", e); err != nil {
				return err
			}
		}
	}
	return nil
}

// child is a server bench intake started as a process of its own.
type child struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{}
}

// startChild runs bin with args and waits until it prints a line starting
// with prefix followed by its URL.
func startChild(ctx context.Context, s *streams, bin, prefix string, args ...string) (*child, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TEND_LISTEN=", "TEND_DATA_DIR=", "TEND_DATABASE=")
	cmd.Stderr = s.err
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bench intake: start %s: %w", args[0], err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench intake: start %s %s: %w", bin, args[0], err)
	}
	c := &child{cmd: cmd, exited: make(chan struct{})}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), prefix); ok {
				select {
				case urls <- strings.TrimSpace(u):
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		close(c.exited)
	}()
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	select {
	case c.url = <-urls:
		return c, nil
	case <-c.exited:
		return nil, fmt.Errorf("bench intake: %s %s exited before serving", bin, strings.Join(args, " "))
	case <-t.C:
	case <-ctx.Done():
	}
	c.stop(s)
	return nil, fmt.Errorf("bench intake: %s %s printed no address within a minute", bin, args[0])
}

// stop ends the child by its pid: an interrupt (SIGINT, which tend stops
// on gracefully), then a kill after 30 seconds.
func (c *child) stop(s *streams) {
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		_ = c.cmd.Process.Kill()
	}
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		fmt.Fprintf(s.err, "warning: pid %d did not stop within 30 s; killing it\n", c.cmd.Process.Pid)
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// waitReady waits until the server answers /readyz.
func waitReady(ctx context.Context, c *client.Client) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := c.Ready(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench intake: tend serve not ready within a minute: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newBenchTrivialServerCommand(s *streams) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:    "trivial-server",
		Short:  "Serve the trivial Alertmanager handler that bench intake compares tend with",
		Hidden: true,
		Args:   usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTrivialServer(cmd.Context(), s, listen)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "loopback address to listen on")
	return cmd
}

// runTrivialServer serves bench.TrivialHandler until ctx ends (the CLI's
// context ends on SIGTERM and SIGINT).
func runTrivialServer(ctx context.Context, s *streams, listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil || net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
		return &usageError{err: fmt.Errorf("--listen %q: give a loopback address such as 127.0.0.1:0", listen)}
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return withExit(ExitServer, fmt.Errorf("trivial-server: %w", err))
	}
	srv := &http.Server{Handler: bench.TrivialHandler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(s.out, "trivial handler serving on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return withExit(ExitServer, fmt.Errorf("trivial-server: %w", err))
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// lockedWriter serialises writes to w, which several goroutines share.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
