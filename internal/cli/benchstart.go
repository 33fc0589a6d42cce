package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/app"
	"github.com/tendhq/tend/internal/client"
)

type benchStartFlags struct {
	dataDir    string
	runs       int
	idle       time.Duration
	tendBinary string
	output     outputFormat
}

func newBenchStartCommand(s *streams) *cobra.Command {
	var f benchStartFlags
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Measure tend serve's start to ready and its idle memory",
		Long: `Measure how fast tend serve starts on an existing data directory and how
much memory it holds when idle. The command first starts tend serve once on
the data directory (a temporary one unless --data-dir is given) so that it
exists, with its database migrated and its admin token written, and stops
it. Then, --runs times, it starts tend serve on 127.0.0.1, measures the time
from starting the process to the first answer 200 of /readyz, waits --idle,
reads the process's resident memory (VmRSS in /proc, Linux only, also split
into anonymous memory and pages of mapped files such as the binary) and
stops it with an interrupt. The file part depends on how much of the binary
the OS holds in its page cache, so compare the anonymous part across builds.

The result goes to stdout: each run, and the median, minimum and maximum.`,
		Example: `  tend bench start
  tend bench start --runs 10 --idle 5s -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchStart(cmd.Context(), s, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", "", "data directory of tend serve; empty means a temporary one, removed afterwards")
	fl.IntVar(&f.runs, "runs", 5, "how many starts to measure")
	fl.DurationVar(&f.idle, "idle", 3*time.Second, "how long tend serve idles after it is ready before its memory is read")
	fl.StringVar(&f.tendBinary, "tend-binary", "", "tend binary to start; empty means this one")
	_ = fl.MarkHidden("tend-binary")
	addOutputFlag(cmd, &f.output)
	return cmd
}

// StartRun is one measured start of tend serve.
type StartRun struct {
	// Ready is the time from starting the process to its first ready
	// answer.
	Ready time.Duration `json:"readyNanos"`
	// RSS is the resident memory after the idle wait, in bytes; 0 when
	// it cannot be read. It is Anon, the process's own memory (heap,
	// stacks, SQLite's caches), plus File, the pages of the binary (and
	// other mapped files) it touched: how many of those count depends on
	// how much of the binary the OS holds in its page cache (the kernel
	// maps cached pages around each page touched), so File varies
	// between runs and machines while Anon does not.
	RSS  int64 `json:"rssBytes"`
	Anon int64 `json:"rssAnonBytes"`
	File int64 `json:"rssFileBytes"`
	// Binary splits the resident pages of the tend binary's own mappings
	// by what they hold: code (the executable segment), read-only data
	// (type data, the function table, dynamic symbols when the binary
	// has them) and writable data. They are most of File.
	Binary BinaryPages `json:"binaryPages"`
}

// BinaryPages are the resident bytes of a binary's mappings, by kind.
type BinaryPages struct {
	Code     int64 `json:"codeBytes"`
	ReadOnly int64 `json:"readOnlyBytes"`
	Data     int64 `json:"dataBytes"`
}

// StartResult is what bench start measured.
type StartResult struct {
	Runs        []StartRun    `json:"runs"`
	ReadyMedian time.Duration `json:"readyMedianNanos"`
	ReadyMin    time.Duration `json:"readyMinNanos"`
	ReadyMax    time.Duration `json:"readyMaxNanos"`
	RSSMedian   int64         `json:"rssMedianBytes"`
	RSSMin      int64         `json:"rssMinBytes"`
	RSSMax      int64         `json:"rssMaxBytes"`
	AnonMedian  int64         `json:"rssAnonMedianBytes"`
	FileMedian  int64         `json:"rssFileMedianBytes"`
	// Binary is the run with the median RSS's split of the binary's pages.
	Binary BinaryPages `json:"binaryPages"`
}

func runBenchStart(ctx context.Context, s *streams, f benchStartFlags) error {
	switch {
	case f.runs < 1 || f.runs > 1000:
		return &usageError{err: fmt.Errorf("--runs must be 1 to 1000, got %d", f.runs)}
	case f.idle < 0 || f.idle > 10*time.Minute:
		return &usageError{err: fmt.Errorf("--idle must be 0 to 10m, got %s", f.idle)}
	}
	s = &streams{in: s.in, out: s.out, err: &lockedWriter{w: s.err}}
	bin := f.tendBinary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return withExit(ExitServer, fmt.Errorf("bench start: find the tend binary: %w", err))
		}
	}
	dataDir := f.dataDir
	if dataDir == "" {
		dir, err := os.MkdirTemp("", "tend-bench-start-")
		if err != nil {
			return withExit(ExitServer, fmt.Errorf("bench start: make a data directory: %w", err))
		}
		defer os.RemoveAll(dir)
		dataDir = dir
	}
	// The first start makes the data directory; it is not measured.
	if _, err := startOnce(ctx, s, bin, dataDir, 0); err != nil {
		return withExit(ExitServer, err)
	}
	var res StartResult
	for i := range f.runs {
		run, err := startOnce(ctx, s, bin, dataDir, f.idle)
		if err != nil {
			return withExit(ExitServer, err)
		}
		fmt.Fprintf(s.err, "run %d: ready after %s, %s resident (%s anonymous, %s file; of the binary %s)\n", i+1, run.Ready.Round(time.Microsecond),
			megabytes(run.RSS), megabytes(run.Anon), megabytes(run.File), run.Binary)
		res.Runs = append(res.Runs, run)
	}
	readies := make([]time.Duration, len(res.Runs))
	rss := make([]int64, len(res.Runs))
	anon := make([]int64, len(res.Runs))
	file := make([]int64, len(res.Runs))
	for i, r := range res.Runs {
		readies[i], rss[i], anon[i], file[i] = r.Ready, r.RSS, r.Anon, r.File
	}
	slices.Sort(readies)
	slices.Sort(rss)
	slices.Sort(anon)
	slices.Sort(file)
	res.AnonMedian, res.FileMedian = anon[len(anon)/2], file[len(file)/2]
	res.ReadyMedian, res.ReadyMin, res.ReadyMax = readies[len(readies)/2], readies[0], readies[len(readies)-1]
	res.RSSMedian, res.RSSMin, res.RSSMax = rss[len(rss)/2], rss[0], rss[len(rss)-1]
	for _, r := range res.Runs {
		if r.RSS == res.RSSMedian {
			res.Binary = r.Binary
			break
		}
	}
	return writeOutput(s.out, f.output, res, func(w io.Writer) error {
		fmt.Fprintf(w, "start to ready   median %s, min %s, max %s (%d runs)\n", res.ReadyMedian.Round(time.Microsecond),
			res.ReadyMin.Round(time.Microsecond), res.ReadyMax.Round(time.Microsecond), len(res.Runs))
		_, err := fmt.Fprintf(w, "idle RSS         median %s, min %s, max %s (after %s idle); median %s anonymous, %s file\n", megabytes(res.RSSMedian),
			megabytes(res.RSSMin), megabytes(res.RSSMax), f.idle, megabytes(res.AnonMedian), megabytes(res.FileMedian))
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "binary pages     %s (median run)\n", res.Binary)
		return err
	})
}

// startOnce starts tend serve on dataDir, waits until it is ready, idles,
// reads its resident memory and stops it.
func startOnce(ctx context.Context, s *streams, bin, dataDir string, idle time.Duration) (StartRun, error) {
	started := time.Now()
	c, err := startChild(ctx, s, bin, "tend is serving on ", "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn", "--no-print-token")
	if err != nil {
		return StartRun{}, err
	}
	defer c.stop(s)
	token, err := os.ReadFile(filepath.Join(dataDir, app.AdminTokenFile))
	if err != nil {
		return StartRun{}, fmt.Errorf("bench start: no admin token: %w", unwrapPathError(err))
	}
	api, err := client.New(c.url, strings.TrimSpace(string(token)))
	if err != nil {
		return StartRun{}, err
	}
	deadline := time.Now().Add(time.Minute)
	for api.Ready(ctx) != nil {
		if time.Now().After(deadline) {
			return StartRun{}, fmt.Errorf("bench start: tend serve not ready within a minute")
		}
		time.Sleep(time.Millisecond)
	}
	run := StartRun{Ready: time.Since(started)}
	select {
	case <-time.After(idle):
	case <-ctx.Done():
		return StartRun{}, ctx.Err()
	}
	m := residentBytes(c.cmd.Process.Pid)
	run.RSS, run.Anon, run.File = m["VmRSS"], m["RssAnon"], m["RssFile"]
	run.Binary = binaryPages(c.cmd.Process.Pid, bin)
	return run, nil
}

// binaryPages sums the resident pages of the mappings of file bin in
// process pid's /proc/PID/smaps by their permissions; zero when it
// cannot read them.
func binaryPages(pid int, bin string) BinaryPages {
	var p BinaryPages
	abs, err := filepath.Abs(bin)
	if err != nil {
		return p
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps")
	if err != nil {
		return p
	}
	var cur *int64
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			// A mapping's header: address range, permissions, offset,
			// device, inode, path.
			cur = nil
			if len(fields) == 6 && fields[5] == abs {
				switch perms := fields[1]; {
				case strings.Contains(perms, "x"):
					cur = &p.Code
				case strings.Contains(perms, "w"):
					cur = &p.Data
				default:
					cur = &p.ReadOnly
				}
			}
			continue
		}
		if cur != nil && len(fields) == 3 && fields[0] == "Rss:" && fields[2] == "kB" {
			if kb, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
				*cur += kb * 1024
			}
		}
	}
	return p
}

// String says the split in MiB.
func (p BinaryPages) String() string {
	if p == (BinaryPages{}) {
		return "unknown"
	}
	return megabytes(p.Code) + " code, " + megabytes(p.ReadOnly) + " read-only data, " + megabytes(p.Data) + " data"
}

// residentBytes reads a process's memory lines (VmRSS, RssAnon, RssFile,
// ...) from /proc in bytes; empty when it cannot.
func residentBytes(pid int) map[string]int64 {
	out := map[string]int64{}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasSuffix(v, " kB") {
			continue
		}
		if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, " kB")), 10, 64); err == nil {
			out[name] = kb * 1024
		}
	}
	return out
}

func megabytes(b int64) string {
	if b == 0 {
		return "unknown"
	}
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MiB"
}
