package cli

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/bench"
	"github.com/tendhq/tend/internal/testenv/tendproc"
)

func TestBenchIngestInProcess(t *testing.T) {
	dataDir := t.TempDir()
	r := runTend(t, "", "bench", "ingest", "--count", "300", "-c", "8", "--data-dir", dataDir, "-o", "json")
	if r.code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	var res bench.IngestResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("-o json output is not JSON: %v\n%s", err, r.stdout)
	}
	if res.Accepted != 300 || res.Errors != 0 || res.Stored != 300 {
		t.Errorf("accepted %d, errors %d, stored %d; want 300 accepted and stored, no errors (samples %v)",
			res.Accepted, res.Errors, res.Stored, res.ErrorSamples)
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 {
		t.Errorf("latencies p50 %s, p99 %s, max %s are not ordered", res.P50, res.P99, res.Max)
	}
	if !strings.Contains(r.stderr, "in-process server, SQLite in "+dataDir) {
		t.Errorf("stderr does not say which server it loads:\n%s", r.stderr)
	}

	r = runTend(t, "", "bench", "ingest", "--count", "50", "--data-dir", dataDir)
	if r.code != ExitOK {
		t.Fatalf("second run on the same data directory: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"accepted     50 events", "latency p99", "verified     50 in the log, every accepted event is stored"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestBenchIngestBadFlagsExit2(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"no subcommand", []string{"bench"}, "bench needs a subcommand: ingest or intake"},
		{"zero concurrency", []string{"bench", "ingest", "-c", "0"}, "--concurrency must be at least 1"},
		{"negative rate", []string{"bench", "ingest", "--rate", "-5"}, "--rate must not be negative"},
		{"zero duration", []string{"bench", "ingest", "--duration", "0s"}, "--duration must be positive"},
		{"endpoint without token", []string{"bench", "ingest", "--endpoint", "http://127.0.0.1:1"}, "--endpoint needs --api-token"},
		{"token without endpoint", []string{"bench", "ingest", "--api-token", "x"}, "--api-token goes with --endpoint"},
		{"endpoint with database", []string{"bench", "ingest", "--endpoint", "http://127.0.0.1:1", "--api-token", "x", "--database", "postgres://h/db"}, "configure the in-process server"},
		{"database not postgres", []string{"bench", "ingest", "--database", "mysql://h/db"}, "--database must be a postgres:// URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runTend(t, "", tt.args...)
			if r.code != ExitBadInput {
				t.Errorf("exit %d, want %d; stderr %q", r.code, ExitBadInput, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.wantStderr)
			}
		})
	}
}

func TestBenchIngestUnreachableEndpointExit3(t *testing.T) {
	// Port 1 on loopback refuses connections.
	r := runTend(t, "", "bench", "ingest", "--endpoint", "http://127.0.0.1:1", "--api-token", "x", "--count", "3", "-c", "1")
	if r.code != ExitServer {
		t.Errorf("exit %d, want %d; stderr %q", r.code, ExitServer, r.stderr)
	}
	if !strings.Contains(r.stderr, "accepted no event") {
		t.Errorf("stderr %q does not say that nothing was accepted", r.stderr)
	}
}

func TestBenchIntakeBadFlagsExit2(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"unknown load", []string{"--load", "old"}, "--load: load \"old\" is unknown: use repeats, new or mix"},
		{"zero concurrency", []string{"-c", "0"}, "--concurrency must be at least 1"},
		{"zero alerts", []string{"--alerts", "0"}, "--alerts 0: give 1 to 1000"},
		{"zero groups", []string{"--groups", "0"}, "--groups must be at least 1"},
		{"long duration", []string{"--duration", "2h"}, "is over an hour"},
		{"database not postgres", []string{"--database", "mysql://h/db"}, "--database must be a postgres:// URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runTend(t, "", append([]string{"bench", "intake"}, tt.args...)...)
			if r.code != ExitBadInput {
				t.Errorf("exit %d, want %d; stderr %q", r.code, ExitBadInput, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.wantStderr)
			}
		})
	}
}

func TestBenchIntakeTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the tend binary: skipped with -short")
	}
	bin, cleanup, err := tendproc.BuildBinary("tend-bench-intake-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	for _, load := range []string{"repeats", "new"} {
		t.Run(load, func(t *testing.T) {
			r := runTend(t, "", "bench", "intake", "--tend-binary", bin, "--load", load, "--count", "120", "-c", "4",
				"--alerts", "1,3", "--groups", "10", "-o", "json")
			if r.code != ExitOK {
				t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
			}
			var out []IntakeComparison
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatalf("-o json output is not JSON: %v\n%s", err, r.stdout)
			}
			if len(out) != 2 {
				t.Fatalf("%d comparisons; want one for 1 and one for 3 alerts", len(out))
			}
			for _, c := range out {
				want := int64(120 * c.Alerts)
				if load == "repeats" {
					want = int64(10 * c.Alerts)
				}
				if !c.Exact || c.Problems.Problems != want || c.Tend.Accepted != 120 || c.Trivial.Accepted != 120 {
					t.Errorf("%d alerts: exact %v, %d problems (want %d), accepted trivial %d tend %d (want 120)",
						c.Alerts, c.Exact, c.Problems.Problems, want, c.Trivial.Accepted, c.Tend.Accepted)
				}
				if c.Ratio <= 0 {
					t.Errorf("%d alerts: ratio %g", c.Alerts, c.Ratio)
				}
			}
		})
	}
}

func TestBenchStartBadFlagsExit2(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"zero runs", []string{"--runs", "0"}, "--runs must be 1 to 1000"},
		{"negative idle", []string{"--idle", "-1s"}, "--idle must be 0 to 10m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runTend(t, "", append([]string{"bench", "start"}, tt.args...)...)
			if r.code != ExitBadInput {
				t.Errorf("exit %d, want %d; stderr %q", r.code, ExitBadInput, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.wantStderr)
			}
		})
	}
}

func TestBenchStartMeasuresTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the tend binary: skipped with -short")
	}
	bin, cleanup, err := tendproc.BuildBinary("tend-bench-start-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	r := runTend(t, "", "bench", "start", "--tend-binary", bin, "--runs", "2", "--idle", "0s", "-o", "json")
	if r.code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	var out StartResult
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("-o json output is not JSON: %v\n%s", err, r.stdout)
	}
	if len(out.Runs) != 2 || out.ReadyMin <= 0 || out.ReadyMin > out.ReadyMax {
		t.Errorf("result %+v; want two runs with a start to ready time", out)
	}
	if runtime.GOOS == "linux" {
		if out.RSSMin <= 0 {
			t.Errorf("result %+v; want the resident memory on Linux", out)
		}
		// The binary's code runs, so some of it is resident; and its
		// pages are part of the file-backed memory.
		if b := out.Binary; b.Code <= 0 || b.Code+b.ReadOnly+b.Data > out.Runs[0].File+out.Runs[1].File {
			t.Errorf("binary pages %+v of file pages %d, %d; want resident code within the file pages", b, out.Runs[0].File, out.Runs[1].File)
		}
	}
}
