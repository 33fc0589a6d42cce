// Package storetest is the one behaviour suite every store driver must pass:
// the SQLite and the PostgreSQL store run the same tests, so callers can rely
// on the store.Store contract whichever driver is configured.
package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/store"
)

// Opener opens the store under test. Every call of one Opener opens the same
// database again: the suite uses it to close and reopen, and to run a second
// store beside the first as another replica would. now is the store's clock.
// The Opener should register a t.Cleanup that closes what it opened.
type Opener func(t testing.TB, now func() time.Time) store.Store

// Harness describes a driver to Run.
type Harness struct {
	// Fresh returns an Opener on a new, empty database.
	Fresh func(t testing.TB) Opener
	// SharedNotify says that stores opened on one database see each
	// other's commits through SubscribeEvents/SubscribeJobs (PostgreSQL's
	// LISTEN/NOTIFY). Without it only the suite's in-process checks run.
	SharedNotify bool
}

// Run runs the whole suite against h.
func Run(t *testing.T, h Harness) {
	t.Run("projects", func(t *testing.T) { testProjects(t, h) })
	t.Run("services", func(t *testing.T) { testServices(t, h) })
	t.Run("tokens", func(t *testing.T) { testTokens(t, h) })
	t.Run("events", func(t *testing.T) { testEvents(t, h) })
	t.Run("event paging", func(t *testing.T) { testEventPaging(t, h) })
	t.Run("event filters", func(t *testing.T) { testEventFilters(t, h) })
	t.Run("open triggered events", func(t *testing.T) { testOpenTriggered(t, h) })
	t.Run("concurrent appends", func(t *testing.T) { testConcurrentAppends(t, h) })
	t.Run("event notifications", func(t *testing.T) { testEventNotify(t, h) })
	t.Run("transactions", func(t *testing.T) { testTx(t, h) })
	t.Run("jobs", func(t *testing.T) { testJobs(t, h) })
	t.Run("job timers", func(t *testing.T) { testJobTimers(t, h) })
	t.Run("job leases", func(t *testing.T) { testJobLeases(t, h) })
	t.Run("job retries", func(t *testing.T) { testJobRetries(t, h) })
	t.Run("job claims are exclusive", func(t *testing.T) { testJobExclusive(t, h) })
	t.Run("settings", func(t *testing.T) { testSettings(t, h) })
	t.Run("problems", func(t *testing.T) { testProblems(t, h) })
	t.Run("placement", func(t *testing.T) { testPlacement(t, h) })
	t.Run("problem lists", func(t *testing.T) { testProblemList(t, h) })
	t.Run("remediations", func(t *testing.T) { testRemediations(t, h) })
	t.Run("remediation joins", func(t *testing.T) { testRemediationJoins(t, h) })
	t.Run("problem races", func(t *testing.T) { testProblemRaces(t, h) })
	t.Run("problem batches", func(t *testing.T) { testProblemBatches(t, h) })
	t.Run("group commit isolation", func(t *testing.T) { testGroupCommitIsolation(t, h) })
	t.Run("project generations", func(t *testing.T) { testProjectGenerations(t, h) })
	t.Run("cancel jobs", func(t *testing.T) { testCancelJobs(t, h) })
	t.Run("list jobs", func(t *testing.T) { testListJobs(t, h) })
	t.Run("retention", func(t *testing.T) { testPrune(t, h) })
	t.Run("retention of sequences and logs", func(t *testing.T) { testPruneSequences(t, h) })
	t.Run("sequences", func(t *testing.T) { testSequences(t, h) })
	t.Run("integrations", func(t *testing.T) { testIntegrations(t, h) })
	t.Run("integration races", func(t *testing.T) { testIntegrationRaces(t, h) })
	t.Run("integration logs", func(t *testing.T) { testIntegrationLogs(t, h) })
	t.Run("deployed images", func(t *testing.T) { testDeployedImages(t, h) })
	t.Run("reopen", func(t *testing.T) { testReopen(t, h) })
	t.Run("closed", func(t *testing.T) { testClosed(t, h) })
}

// Clock is a settable clock for stores under test, so lease expiry and
// timers are tested by moving time, never by sleeping.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at a fixed instant.
func NewClock() *Clock {
	return &Clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// open returns a fresh store with its clock.
func open(t testing.TB, h Harness) (store.Store, *Clock) {
	t.Helper()
	clk := NewClock()
	return h.Fresh(t)(t, clk.Now), clk
}

func ctx(t testing.TB) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}
