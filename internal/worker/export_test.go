package worker

import "github.com/tendhq/tend/internal/store"

// SetRecorded makes r call fn after each job's outcome (an outcome label of
// tend_worker_jobs_total), so tests wait for outcomes instead of sleeping.
// It must be called before Run.
func SetRecorded(r *Runner, fn func(job store.Job, outcome string)) { r.recorded = fn }
