package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/app"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/bench"
	"github.com/tendhq/tend/internal/store"
)

func newBenchCommand(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure tend's performance",
		Long: `Measure tend's performance. The numbers of record are in
docs/PERFORMANCE.md, with the commands that produced them.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return &usageError{err: errors.New("bench needs a subcommand: ingest or intake")}
		},
	}
	cmd.AddCommand(newBenchIngestCommand(s), newBenchIntakeCommand(s), newBenchStartCommand(s), newBenchTrivialServerCommand(s))
	return cmd
}

type benchIngestFlags struct {
	endpoint    string
	token       string
	database    string
	dataDir     string
	project     string
	concurrency int
	duration    time.Duration
	count       int64
	rate        float64
	cpuProfile  string
	output      outputFormat
}

func newBenchIngestCommand(s *streams) *cobra.Command {
	var f benchIngestFlags
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Send structured CloudEvents to POST /api/v1/event and measure throughput and latency",
		Long: `Send structured CloudEvents (evaluation.finished events of about 600 bytes)
to POST /api/v1/event from --concurrency clients, each on its own keep-alive
connection, for --duration or --count events, and report events per second
and the latency of the answers (p50, p90, p99, max).

The server answers an event only once it is committed, so every accepted
event is durable. At the end the command counts the run's events in the
server's log (they share one keptn context) and fails when the count differs
from the events accepted.

Without --endpoint it starts a server in this process on 127.0.0.1 with a
fresh SQLite data directory (removed afterwards; --data-dir keeps one), or on
the PostgreSQL database given with --database. With --endpoint it loads that
server, using --api-token (a write token).

By default every client sends its next event as soon as the last one is
answered (closed loop: the maximum throughput). --rate sends a fixed number
of events per second instead (open loop), measuring latency from when each
event was due, so queueing in a falling-behind server counts.

A line of progress goes to stderr every second; the result goes to stdout.`,
		Example: `  tend bench ingest --duration 20s
  tend bench ingest --duration 20s --rate 2500 --concurrency 64
  tend bench ingest --database postgres://postgres@127.0.0.1:5432/bench --duration 20s
  tend bench ingest --endpoint http://127.0.0.1:8080 --api-token file:tend-data/admin-token --count 100000
  tend bench ingest --duration 20s --cpuprofile ingest.pprof && go tool pprof -top ingest.pprof`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.endpoint = strings.TrimSpace(f.endpoint)
			return runBenchIngest(cmd.Context(), s, f, cmd.Flags().Changed("duration"))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.endpoint, "endpoint", "", "tend server to load; empty starts one in this process")
	fl.StringVar(&f.token, "api-token", "", `API token with write scope for --endpoint, or "-" (stdin), "file:PATH", "env:NAME"`)
	fl.StringVar(&f.database, "database", "", "postgres:// URL for the in-process server; empty means SQLite in the data directory")
	fl.StringVar(&f.dataDir, "data-dir", "", "data directory of the in-process server; empty means a temporary one, removed afterwards")
	fl.StringVar(&f.project, "project", "bench", "data.project of the events (the project need not exist)")
	fl.IntVarP(&f.concurrency, "concurrency", "c", 16, "number of concurrent clients, each with its own connection")
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "how long to send events")
	fl.Int64Var(&f.count, "count", 0, "send this many events and stop (instead of --duration, unless both are given)")
	fl.Float64Var(&f.rate, "rate", 0, "events per second at a fixed rate (open loop); 0 sends as fast as the server answers")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (load generator and in-process server) to FILE")
	addOutputFlag(cmd, &f.output)
	return cmd
}

func runBenchIngest(ctx context.Context, s *streams, f benchIngestFlags, durationGiven bool) error {
	switch {
	case f.concurrency < 1:
		return &usageError{err: fmt.Errorf("--concurrency must be at least 1, got %d", f.concurrency)}
	case f.duration <= 0:
		return &usageError{err: fmt.Errorf("--duration must be positive, got %s", f.duration)}
	case f.count < 0:
		return &usageError{err: fmt.Errorf("--count must not be negative, got %d", f.count)}
	case f.rate < 0:
		return &usageError{err: fmt.Errorf("--rate must not be negative, got %g: give events per second, or 0 for as fast as possible", f.rate)}
	case f.endpoint != "" && (f.database != "" || f.dataDir != ""):
		return &usageError{err: errors.New("--database and --data-dir configure the in-process server; with --endpoint the server is already running")}
	case f.endpoint == "" && f.token != "":
		return &usageError{err: errors.New("--api-token goes with --endpoint; the in-process server makes its own token")}
	case f.endpoint != "" && f.token == "":
		return &usageError{err: errors.New("--endpoint needs --api-token: a token with write scope on the server")}
	case f.database != "" && !strings.HasPrefix(f.database, "postgres://") && !strings.HasPrefix(f.database, "postgresql://"):
		return &usageError{err: errors.New("--database must be a postgres:// URL; leave it empty for SQLite in the data directory")}
	}
	duration := f.duration
	if f.count > 0 && !durationGiven {
		duration = 0 // --count alone runs to the count
	}

	opts := bench.IngestOptions{
		Endpoint:    f.endpoint,
		Project:     f.project,
		Concurrency: f.concurrency,
		Duration:    duration,
		Count:       f.count,
		Rate:        f.rate,
		Progress:    s.err,
		Verify:      true,
	}
	target := f.endpoint
	if f.endpoint != "" {
		stdinRead := false
		tok, err := readSecret(s, "api-token", f.token, &stdinRead)
		if err != nil {
			return inputError(err)
		}
		opts.Token = tok
	} else {
		srv, err := startBenchServer(ctx, f.dataDir, f.database)
		if err != nil {
			return withExit(ExitServer, err)
		}
		defer func() {
			if err := srv.close(); err != nil {
				fmt.Fprintf(s.err, "warning: stop the in-process server: %v\n", err)
			}
		}()
		opts.Endpoint, opts.Token = srv.app.URL(), srv.token
		target = "in-process server, " + srv.describe
	}

	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return inputError(fmt.Errorf("--cpuprofile: %w", unwrapPathError(err)))
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return inputError(fmt.Errorf("--cpuprofile %s: %w", f.cpuProfile, err))
		}
		defer pprof.StopCPUProfile()
	}

	mode := "closed loop (as fast as answered)"
	if f.rate > 0 {
		mode = fmt.Sprintf("open loop at %g events/s", f.rate)
	}
	fmt.Fprintf(s.err, "Sending events to %s: concurrency %d, %s, GOMAXPROCS %d.\n", target, f.concurrency, mode, runtime.GOMAXPROCS(0))
	res, err := bench.Ingest(ctx, opts)
	if res == nil {
		return withExit(ExitServer, err)
	}
	if werr := writeOutput(s.out, f.output, res, func(w io.Writer) error { return writeIngestTable(w, res) }); werr != nil {
		return werr
	}
	switch {
	case res.Accepted == 0 && res.Errors > 0:
		return withExit(ExitServer, fmt.Errorf("bench ingest: the server accepted no event; first errors: %s", strings.Join(res.ErrorSamples, "; ")))
	case err != nil:
		return withExit(ExitServer, err)
	case !res.Verified():
		return withExit(ExitServer, fmt.Errorf("bench ingest: the server's log holds %d events of the run, but %d were accepted (and %d failed): acknowledged events are missing or extra", res.Stored, res.Accepted, res.Errors))
	}
	return nil
}

// writeIngestTable prints a run's result for people.
func writeIngestTable(w io.Writer, r *bench.IngestResult) error {
	ms := func(d time.Duration) string { return formatNumber(float64(d.Microseconds())/1000) + " ms" }
	verified := "not checked"
	if r.Stored >= 0 {
		verified = fmt.Sprintf("%d in the log", r.Stored)
		if r.Verified() {
			verified += ", every accepted event is stored"
		} else {
			verified += ", MISMATCH"
		}
	}
	rows := [][2]string{
		{"accepted", fmt.Sprintf("%d events in %s", r.Accepted, r.Elapsed.Round(time.Millisecond))},
		{"throughput", formatNumber(r.EventsPerSecond) + " events/s"},
		{"latency p50", ms(r.P50)},
		{"latency p90", ms(r.P90)},
		{"latency p99", ms(r.P99)},
		{"latency max", ms(r.Max)},
		{"errors", fmt.Sprint(r.Errors)},
		{"cpu", cpuLine(r)},
		{"verified", verified},
	}
	for _, e := range r.ErrorSamples {
		rows = append(rows, [2]string{"error", e})
	}
	for _, row := range rows {
		if _, err := fmt.Fprintf(w, "%-12s %s\n", row[0], row[1]); err != nil {
			return err
		}
	}
	return nil
}

// cpuLine tells the CPU time the run took in this process.
func cpuLine(r *bench.IngestResult) string {
	if r.CPU <= 0 {
		return "not measured"
	}
	return fmt.Sprintf("%s in this process, %s events per CPU second", r.CPU.Round(time.Millisecond), formatNumber(r.EventsPerCPUSecond))
}

// benchServer is the in-process server of bench ingest.
type benchServer struct {
	app      *app.App
	token    string
	describe string
	cleanup  []func() error
}

// startBenchServer starts a server on a free loopback port with its own
// write token, on dataDir (a temporary directory when empty) and database.
func startBenchServer(ctx context.Context, dataDir, database string) (_ *benchServer, err error) {
	b := &benchServer{}
	defer func() {
		if err != nil {
			_ = b.close()
		}
	}()
	if dataDir == "" {
		dir, err := os.MkdirTemp("", "tend-bench-")
		if err != nil {
			return nil, fmt.Errorf("bench ingest: make a data directory: %w", err)
		}
		b.cleanup = append(b.cleanup, func() error { return os.RemoveAll(dir) })
		dataDir = dir
	}
	b.describe = "SQLite in " + dataDir
	if database != "" {
		b.describe = "PostgreSQL"
	}
	a, err := app.New(ctx, app.Options{Listen: "127.0.0.1:0", DataDir: dataDir, Database: database})
	if err != nil {
		return nil, fmt.Errorf("bench ingest: start the in-process server: %w", err)
	}
	b.cleanup = append(b.cleanup, func() error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return a.Shutdown(sctx)
	})
	b.app = a
	a.Start()

	// A token of its own, so the run works on a database whose admin
	// token was made by an earlier start.
	tok, err := auth.NewToken()
	if err != nil {
		return nil, fmt.Errorf("bench ingest: make a token: %w", err)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := "bench-" + hex.EncodeToString(rnd[:])
	if _, err := a.Store().CreateToken(ctx, store.NewToken{Name: name, Scope: string(auth.ScopeWrite), Hash: auth.Sum(tok)}); err != nil {
		return nil, fmt.Errorf("bench ingest: store the run's token: %w", err)
	}
	b.cleanup = append(b.cleanup, func() error {
		return a.Store().DeleteToken(context.WithoutCancel(ctx), name)
	})
	b.token = tok
	return b, nil
}

// close deletes the run's token, stops the server and removes a temporary
// data directory, in reverse order of their making.
func (b *benchServer) close() error {
	var errs []error
	for i := len(b.cleanup) - 1; i >= 0; i-- {
		if err := b.cleanup[i](); err != nil {
			errs = append(errs, err)
		}
	}
	b.cleanup = nil
	return errors.Join(errs...)
}
