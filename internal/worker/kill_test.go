package worker_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/storetest"
	"github.com/tendhq/tend/internal/worker"
)

// The environment of TestKill9's child process.
const (
	childDriver = "TEND_WORKER_TEST_CHILD_DRIVER"
	childDSN    = "TEND_WORKER_TEST_CHILD_DSN"
)

// childLease is the child's lease: after its kill, the parent waits this
// long (real time) for the job to become claimable again.
const childLease = 2 * time.Second

// TestKill9 runs a job in a child process, kills the child with SIGKILL
// while the handler runs, and checks that a runner in this process takes
// the job over once the dead runner's lease expires and completes it once.
// The clock is real: two processes cannot share a fake one.
func TestKill9(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, driver, dsn, nil)
		id := enqueue(t, st, store.JobSpec{Kind: "step", Payload: []byte("scale carts to 2")})[0]

		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Child$", "-test.count=1")
		cmd.Env = append(os.Environ(), childDriver+"="+driver, childDSN+"="+dsn)
		var output bytes.Buffer
		cmd.Stdout, cmd.Stderr = &output, &output
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := false
		t.Cleanup(func() {
			if !exited {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}
		})
		waitFor(t, "the child to start the job", func() bool {
			return eventCount(t, st, fmt.Sprint("started-", id)) == 1
		})
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		_ = cmd.Wait()
		exited = true
		if j := getJob(t, st, id); j.State != store.JobRunning || j.LeasedBy != "child" {
			t.Fatalf("job after the kill: state %s leased by %q, want running under the dead child's lease\nchild output:\n%s", j.State, j.LeasedBy, output.String())
		}

		var mu sync.Mutex
		var runs []store.Job
		start(t, &env{clk: storetest.NewClock()}, st, worker.Options{WorkerID: "survivor"}, map[string]worker.Handler{
			"step": func(ctx context.Context, j store.Job) worker.Result {
				mu.Lock()
				runs = append(runs, j)
				mu.Unlock()
				return worker.Done()
			},
		})
		j := waitJob(t, st, id, "done after the takeover", func(j store.Job) bool { return j.State == store.JobDone })
		mu.Lock()
		defer mu.Unlock()
		if len(runs) != 1 || runs[0].Attempt != 2 || string(runs[0].Payload) != "scale carts to 2" || j.LeasedBy != "survivor" {
			t.Errorf("takeover: %d runs (%+v), job leased by %q; want one run of attempt 2 by the survivor", len(runs), runs, j.LeasedBy)
		}
	})
}

// TestKill9Child is TestKill9's child process: it runs the job, announces
// it through an event, and blocks until it is killed.
func TestKill9Child(t *testing.T) {
	driver := os.Getenv(childDriver)
	if driver == "" {
		t.Skip("the child process of TestKill9; runs only there")
	}
	st := openStore(t, driver, os.Getenv(childDSN), nil)
	w, err := worker.New(st, worker.Options{WorkerID: "child", Lease: childLease, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w.Register("step", func(ctx context.Context, j store.Job) worker.Result {
		if _, err := st.AppendEvents(ctx, event(fmt.Sprint("started-", j.ID))); err != nil {
			t.Error(err)
		}
		select {} // until SIGKILL
	})
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}
