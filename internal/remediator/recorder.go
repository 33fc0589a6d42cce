package remediator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/intake"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/spec"
	"github.com/tendhq/tend/internal/store"
)

// RecorderStore is what the recorder needs of the store; store.Store
// satisfies it.
type RecorderStore interface {
	GetProject(ctx context.Context, name string) (store.Project, error)
	GetService(ctx context.Context, project, name string) (store.Service, error)
	// GetPlacement reads a delivery's project, services and problems
	// outside any transaction, in one statement: a repeat of a known
	// problem is answered from it without writing.
	GetPlacement(ctx context.Context, q store.PlacementQuery) (store.Placement, error)
	WithTx(ctx context.Context, fn func(tx store.Tx) error) error
}

// Resources reads the service's remediation.yaml; *resource.Repos
// satisfies it.
type Resources interface {
	Get(ctx context.Context, ref resource.Ref, uri, version string) ([]byte, string, error)
}

// RecorderOptions configure a Recorder. Store and Resources are required.
type RecorderOptions struct {
	Store     RecorderStore
	Resources Resources
	// Logger receives warnings (an unreadable remediation.yaml); nil
	// discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// DefaultSettling is the settling time when the shipyard names none;
	// 0 means remediation.DefaultSettling.
	DefaultSettling time.Duration
	// MaxAttempts bounds the retries of a batch whose transaction lost a
	// race; 0 means 16. Each retry re-reads what the winner wrote, so a
	// handful is plenty; running out answers intake.ErrBusy.
	MaxAttempts int
	// Specs decodes the stored shipyards, shared with the server's other
	// readers, so that one version is decoded once; nil decodes on every
	// read.
	Specs *spec.Cache
}

// RemediationFile names a service's remediation file in its stage.
const RemediationFile = "remediation.yaml"

// Recorder records problem notifications (see the package comment); it is
// safe for concurrent use. The API reaches it as api.ProblemRecorder.
type Recorder struct {
	st          RecorderStore
	res         Resources
	log         *slog.Logger
	now         func() time.Time
	settling    time.Duration
	maxAttempts int
	specs       *spec.Cache
}

// NewRecorder returns a Recorder.
func NewRecorder(opts RecorderOptions) (*Recorder, error) {
	if opts.Store == nil || opts.Resources == nil {
		return nil, errors.New("remediator: RecorderOptions.Store and RecorderOptions.Resources are required")
	}
	r := &Recorder{
		st: opts.Store, res: opts.Resources, log: opts.Logger, now: opts.Now,
		settling: opts.DefaultSettling, maxAttempts: opts.MaxAttempts,
		specs: opts.Specs,
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.maxAttempts <= 0 {
		r.maxAttempts = 16
	}
	return r, nil
}

// location is where a matched notification's problem is.
type location struct {
	project, stage, service string
}

func (l location) String() string {
	return "project " + l.project + ", stage " + l.stage + ", service " + l.service
}

// placement is what the transaction needs to know of a notification's place.
type placement struct {
	reason string // unmatched reason, "" when matched
	// file is the project an unmatched notification is filed under: the
	// only project the sender may deliver for when it is restricted (never
	// another project, which the sender may not see), else the one it names.
	file    string
	stage   *spec.Stage
	enabled bool
}

// Record records every notification of b and returns one outcome per
// notification, in order. Either all of b (its events included) is durable
// when Record returns nil, or nothing is. Errors are the store's (matching
// store.ErrUnavailable, context errors, store.ErrClosed when transient) or
// ErrBusy.
func (r *Recorder) Record(ctx context.Context, b intake.Batch, events ...store.EventRecord) ([]intake.Outcome, error) {
	var targets []placement
	if len(events) == 0 {
		outcomes, placed, err := r.repeats(ctx, b)
		if err != nil || outcomes != nil {
			return outcomes, err
		}
		targets = placed
	}
	if targets == nil {
		var err error
		if targets, err = r.resolve(ctx, b); err != nil {
			return nil, err
		}
	}
	files := map[location]*spec.Remediation{}
	for attempt := 1; ; attempt++ {
		var outcomes []intake.Outcome
		var need *location
		now := r.now()
		err := r.st.WithTx(ctx, func(tx store.Tx) error {
			// Once the writer runs it, the transaction is shared with
			// other callers' writes (group commit); a cancelled context
			// mid-statement would cost them their transaction too, so the
			// statements run to the end whatever becomes of ctx.
			ctx := context.WithoutCancel(ctx)
			outcomes, need = make([]intake.Outcome, 0, len(b.Notifications)), nil
			if len(events) > 0 {
				if _, err := tx.AppendEvents(ctx, events...); err != nil {
					return fmt.Errorf("append events: %w", err)
				}
			}
			tr := newTxRun(tx, files, now)
			if err := tr.prefetch(ctx, b, targets); err != nil {
				return err
			}
			newUnmatched := 0
			for i := range b.Notifications {
				n := &b.Notifications[i]
				o, missing, err := r.one(ctx, tr, n, targets[i])
				if err != nil {
					return err
				}
				if missing != nil {
					need = missing
					return errNeedFile
				}
				if o.Verdict == intake.Unmatched && o.Created {
					newUnmatched++
					if b.LimitUnmatched && newUnmatched > b.MaxNewUnmatched {
						return fmt.Errorf("%w: at most %d in this delivery", intake.ErrTooManyUnmatched, b.MaxNewUnmatched)
					}
				}
				outcomes = append(outcomes, o)
			}
			return tr.flush(ctx)
		})
		switch {
		case err == nil:
			return outcomes, nil
		case errors.Is(err, errNeedFile):
			// Read the file outside the transaction, then decide again:
			// the transaction must not wait on the resource store.
			files[*need] = r.loadFile(ctx, *need)
			attempt--
		case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrExists):
			if attempt >= r.maxAttempts {
				return nil, fmt.Errorf("record problems: %w: %w", intake.ErrBusy, err)
			}
		default:
			return nil, fmt.Errorf("record problems: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("record problems: %w", err)
		}
	}
}

var errNeedFile = errors.New("remediation file needed")

// repeats answers a batch in which every notification repeats a problem
// already recorded, in the state it is in (Alertmanager re-sends every
// firing alert each repeat_interval, from every replica): such a batch
// changes nothing, so it needs no write transaction.
//
// It places the batch and looks up its problems with one read
// (GetPlacement: the project with its shipyard, the services and the
// problems' current rows, one statement, one snapshot). Nothing of it is
// cached: the problem rows come from the database every time, so a close
// or reopen committed by another replica is seen by the next delivery, and
// so does a project or service deleted or made again; the answer is the
// one the transaction would have given at the moment of the read. Only the
// decoded shipyard is shared (spec.Cache), keyed by the stored content
// that read returned, so it is always the current shipyard's.
//
// A delivery of several projects is placed by resolve, a read per
// project and service, and its keys are read after.
//
// It returns nil outcomes as soon as one notification would change
// something, and the batch then goes through the transaction with the
// placements returned.
func (r *Recorder) repeats(ctx context.Context, b intake.Batch) ([]intake.Outcome, []placement, error) {
	switch {
	case len(b.Notifications) == 0:
		return []intake.Outcome{}, nil, nil // nothing to record, nothing to write
	case len(b.Notifications) > store.MaxKeysPerLookup:
		return nil, nil, nil
	}
	q, one := placementQuery(b)
	var targets []placement
	var recs map[string]store.ProblemRecord
	if one {
		view, err := r.st.GetPlacement(ctx, q)
		if err != nil {
			return nil, nil, fmt.Errorf("record problems: %w", err)
		}
		var sy *spec.Shipyard
		if view.Project.Name != "" {
			sy = r.decodeShipyard(view.Project.Shipyard)
		}
		targets, err = place(b,
			func(string) (*spec.Shipyard, error) { return sy, nil }, // placementQuery made sure there is one project
			func(_, service string) (bool, error) { return view.Services[service], nil })
		if err != nil {
			return nil, nil, err
		}
		recs = view.Problems
	} else {
		var err error
		if targets, err = r.resolve(ctx, b); err != nil {
			return nil, nil, err
		}
	}
	keys := lookupKeys(b, targets)
	if recs == nil || !slices.Equal(keys, q.Keys) {
		// Alerts of several projects, or of a project, stage or service
		// that does not exist (recorded under their unmatched keys): look
		// up the keys now that they are placed.
		again, err := r.st.GetPlacement(ctx, store.PlacementQuery{Keys: keys})
		if err != nil {
			return nil, nil, fmt.Errorf("record problems: %w", err)
		}
		recs = again.Problems
	}
	return repeatOutcomes(b, targets, keys, recs, r.now()), targets, nil
}

// placementQuery returns the read that places b and finds its problems:
// the one project its notifications may be placed in, their services, and
// the key each would be recorded under if it is placed (unmatched keys for
// those that cannot be placed whatever the database holds). one is false
// when the notifications name several projects.
func placementQuery(b intake.Batch) (q store.PlacementQuery, one bool) {
	q.Keys = make([]string, len(b.Notifications))
	for i := range b.Notifications {
		n := &b.Notifications[i]
		q.Keys[i] = n.Key
		if !n.Matched() || (b.Project != "" && n.Project != b.Project) {
			q.Keys[i] = unmatchedKey(fileOf(b, n), n.Key)
			continue
		}
		switch {
		case q.Project == "":
			q.Project = n.Project
		case q.Project != n.Project:
			return q, false
		}
		if !slices.Contains(q.Services, n.Service) {
			q.Services = append(q.Services, n.Service)
		}
	}
	return q, true
}

// lookupKeys returns the key each notification of b is recorded under,
// given where it was placed.
func lookupKeys(b intake.Batch, targets []placement) []string {
	keys := make([]string, len(b.Notifications))
	for i := range b.Notifications {
		keys[i] = b.Notifications[i].Key
		if t := targets[i]; t.reason != "" {
			keys[i] = unmatchedKey(t.file, keys[i])
		}
	}
	return keys
}

// repeatOutcomes answers b from recs, the current records of keys, when
// every notification repeats its problem; else it returns nil.
func repeatOutcomes(b intake.Batch, targets []placement, keys []string, recs map[string]store.ProblemRecord, now time.Time) []intake.Outcome {
	outcomes := make([]intake.Outcome, 0, len(b.Notifications))
	for i := range b.Notifications {
		n, t := &b.Notifications[i], targets[i]
		rec, ok := recs[keys[i]]
		if !ok {
			return nil
		}
		if t.reason != "" {
			outcomes = append(outcomes, intake.Outcome{Key: n.Key, Verdict: intake.Unmatched, Reason: t.reason, ProblemID: rec.ID})
			continue
		}
		// A repeat's decision reads only the two states, so the stored
		// document (the alert's labels and annotations) is not read.
		known := remediation.Problem{ID: rec.ID, Key: rec.Key, State: remediation.ProblemState(rec.State), RemediationID: rec.RemediationID}
		in := n.Problem()
		if known.State == remediation.ProblemStateOpen && in.State == remediation.ProblemStateClosed {
			return nil // a close: the transaction reads the running remediation
		}
		// Decide needs the running remediation only for a new problem and
		// for a close, neither of which comes here.
		d := remediation.Decide(in, &known, nil, now)
		if d.Verdict != remediation.Ignore {
			return nil
		}
		outcomes = append(outcomes, intake.Outcome{Key: n.Key, Verdict: intake.Duplicate, Reason: d.Reason, ProblemID: rec.ID, RemediationID: rec.RemediationID})
	}
	return outcomes
}

// resolve checks where each notification's problem is, outside the
// transaction, reading each project and service once.
func (r *Recorder) resolve(ctx context.Context, b intake.Batch) ([]placement, error) {
	projects := map[string]*spec.Shipyard{} // nil: the project does not exist
	services := map[[2]string]bool{}
	return place(b,
		func(project string) (*spec.Shipyard, error) {
			if sy, ok := projects[project]; ok {
				return sy, nil
			}
			sy, err := r.shipyard(ctx, project)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return nil, err
			}
			projects[project] = sy
			return sy, nil
		},
		func(project, service string) (bool, error) {
			key := [2]string{project, service}
			if exists, ok := services[key]; ok {
				return exists, nil
			}
			_, err := r.st.GetService(ctx, project, service)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return false, fmt.Errorf("look up service %s of project %s: %w", service, project, err)
			}
			services[key] = err == nil
			return err == nil, nil
		})
}

// fileOf returns the project n is filed under when it is unmatched: the
// only project the sender may deliver for when it is restricted (never
// another project, which the sender may not see), else the one it names.
func fileOf(b intake.Batch, n *intake.Notification) string {
	if b.Project != "" {
		return b.Project
	}
	return n.Project
}

// place checks where each notification's problem is: the project must
// exist (shipyard returns nil when it does not), the stage must be in its
// shipyard and the service must exist, and an intake token's batch must
// stay in its project.
func place(b intake.Batch, shipyard func(project string) (*spec.Shipyard, error), serviceExists func(project, service string) (bool, error)) ([]placement, error) {
	out := make([]placement, len(b.Notifications))
	for i := range b.Notifications {
		n := &b.Notifications[i]
		out[i].file = fileOf(b, n)
		if !n.Matched() {
			out[i].reason = n.Unmatched
			continue
		}
		if b.Project != "" && n.Project != b.Project {
			cred := b.Credential
			if cred == "" {
				cred = "intake token"
			}
			out[i].reason = fmt.Sprintf("%s is for project %s, not %s", cred, b.Project, n.Project)
			continue
		}
		sy, err := shipyard(n.Project)
		if err != nil {
			return nil, err
		}
		if sy == nil {
			out[i].reason = fmt.Sprintf("project %q does not exist", n.Project)
			continue
		}
		st, ok := sy.Stage(n.Stage)
		if !ok {
			out[i].reason = fmt.Sprintf("stage %q is not a stage of project %s (its stages: %s)", n.Stage, n.Project, strings.Join(sy.StageNames(), ", "))
			continue
		}
		exists, err := serviceExists(n.Project, n.Service)
		if err != nil {
			return nil, err
		}
		if !exists {
			out[i].reason = fmt.Sprintf("service %q does not exist in project %s", n.Service, n.Project)
			continue
		}
		out[i] = placement{file: n.Project, stage: st, enabled: st.RemediationEnabled()}
	}
	return out, nil
}

// shipyard returns the decoded shipyard of a project (shared through the
// cache: read only).
func (r *Recorder) shipyard(ctx context.Context, project string) (*spec.Shipyard, error) {
	p, err := r.st.GetProject(ctx, project)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("look up project %s: %w", project, err)
	}
	return r.decodeShipyard(p.Shipyard), nil
}

// decodeShipyard decodes a stored shipyard through the shared cache (the
// result is read only).
func (r *Recorder) decodeShipyard(data []byte) *spec.Shipyard {
	sy, _ := r.specs.Shipyard("shipyard.yaml", data)
	if sy == nil {
		// The API validated it when it was stored; a project whose
		// shipyard no longer decodes has no stages tend can place a
		// problem in.
		sy = &spec.Shipyard{}
	}
	return sy
}

// loadFile reads and decodes the service's remediation.yaml; a missing or
// unreadable file gives nil, which matches no actions: the remediation is
// escalated when it opens, so a human looks at the problem.
func (r *Recorder) loadFile(ctx context.Context, l location) *spec.Remediation {
	data, _, err := r.res.Get(ctx, resource.Ref{Project: l.project, Stage: l.stage, Service: l.service}, RemediationFile, "")
	if err != nil {
		if !errors.Is(err, resource.ErrResourceNotFound) {
			r.log.WarnContext(ctx, "remediation_file_unreadable", "project", l.project, "stage", l.stage, "service", l.service, "err", err)
		}
		return nil
	}
	rem, diags := spec.DecodeRemediation(RemediationFile, data)
	if rem == nil {
		r.log.WarnContext(ctx, "remediation_file_invalid", "project", l.project, "stage", l.stage, "service", l.service, "err", diags.Error())
	}
	return rem
}

// txRun is one run of a batch's transaction. It keeps the running
// remediation of each service it has read, with the joins applied, and
// writes each changed one once at the end (flush): a message of many alerts
// of one service reads and writes its remediation once, not once per alert.
// Nothing else writes in the transaction while the batch runs, so the copy
// stays current.
//
// A remediation's document lists every problem it acts on, so reading and
// rewriting it for each joining problem would cost more with every problem
// that joined. The remediation is therefore read without its document
// (RunningRemediationHead), which deciding needs no more than its id and
// state; and a join that changes nothing but the list of problems
// (Joinable) is recorded beside the document (store.Tx.JoinRemediation),
// whose readers fold it in. Only a join that would clear a pending stop
// reads, changes and rewrites the document.
//
// On PostgreSQL every statement is a network round trip, taken while the
// transaction holds the store's lock that serialises the writers of
// problems on all replicas, so a delivery's statements are few and
// set-based: one read of all its keys (prefetch), each project's UID read
// once, and its new problems inserted together at the end (flush).
type txRun struct {
	tx      store.Tx
	files   map[location]*spec.Remediation
	running map[location]*runningEntry
	now     time.Time
	// uids are the projects' UIDs as read in this transaction (ok false:
	// the project does not exist).
	uids map[string]projectUID
	// known are the problems of the keys read by prefetch (a missing key
	// has none), valid until the run writes that key.
	known map[string]store.ProblemRecord
	// prefetched are the keys known answers for.
	prefetched map[string]bool
	// pending are the new problems to insert at flush, in order; pendingKeys
	// their keys.
	pending     []store.ProblemRecord
	pendingKeys map[string]bool
	// written are the keys this run inserted or updated, which are read
	// from the transaction again.
	written map[string]bool
}

type projectUID struct {
	uid string
	ok  bool
}

func newTxRun(tx store.Tx, files map[location]*spec.Remediation, now time.Time) *txRun {
	return &txRun{
		tx: tx, files: files, running: map[location]*runningEntry{}, now: now,
		uids: map[string]projectUID{}, known: map[string]store.ProblemRecord{}, prefetched: map[string]bool{},
		pendingKeys: map[string]bool{}, written: map[string]bool{},
	}
}

// prefetch reads the problems of every key b's notifications may look up,
// in one query per store.MaxKeysPerLookup keys, inside the transaction:
// what the lookups one by one would have read, since every writer of
// problems holds the same lock.
func (tr *txRun) prefetch(ctx context.Context, b intake.Batch, targets []placement) error {
	keys := make([]string, 0, len(b.Notifications))
	for i := range b.Notifications {
		k := b.Notifications[i].Key
		if t := targets[i]; t.reason != "" {
			k = unmatchedKey(t.file, k)
		}
		if !tr.prefetched[k] {
			tr.prefetched[k] = true
			keys = append(keys, k)
		}
	}
	for start := 0; start < len(keys); start += store.MaxKeysPerLookup {
		recs, err := tr.tx.GetProblemsByKeys(ctx, keys[start:min(start+store.MaxKeysPerLookup, len(keys))])
		if err != nil {
			return err
		}
		for k, rec := range recs {
			tr.known[k] = rec
		}
	}
	return nil
}

// problemByKey returns the problem of key as the transaction sees it now,
// or store.ErrNotFound.
func (tr *txRun) problemByKey(ctx context.Context, key string) (store.ProblemRecord, error) {
	if tr.prefetched[key] && !tr.written[key] {
		if rec, ok := tr.known[key]; ok {
			return rec, nil
		}
		return store.ProblemRecord{}, fmt.Errorf("problem %q: %w", key, store.ErrNotFound)
	}
	if tr.pendingKeys[key] {
		// The delivery repeats a key it opened: store the new problems
		// so that the read sees them.
		if err := tr.insertPending(ctx); err != nil {
			return store.ProblemRecord{}, err
		}
	}
	return tr.tx.GetProblemByKey(ctx, key)
}

// projectUID returns the UID of the project's current generation, or
// store.ErrNotFound, read once per run: the first read takes the lock that
// DeleteProject takes too, so the answer holds to the commit.
func (tr *txRun) projectUID(ctx context.Context, project string) (string, error) {
	if u, ok := tr.uids[project]; ok {
		if !u.ok {
			return "", fmt.Errorf("project %q: %w", project, store.ErrNotFound)
		}
		return u.uid, nil
	}
	uid, err := tr.tx.ProjectUID(ctx, project)
	switch {
	case err == nil:
		tr.uids[project] = projectUID{uid: uid, ok: true}
	case errors.Is(err, store.ErrNotFound):
		tr.uids[project] = projectUID{}
	}
	return uid, err
}

// insertProblem stores a new problem at flush (or before a read of its
// key) and returns its id.
func (tr *txRun) insertProblem(rec store.ProblemRecord) string {
	tr.pending = append(tr.pending, rec)
	tr.pendingKeys[rec.Key] = true
	tr.written[rec.Key] = true
	return rec.ID
}

// updateProblem updates a stored problem now.
func (tr *txRun) updateProblem(ctx context.Context, rec store.ProblemRecord) error {
	tr.written[rec.Key] = true
	_, err := tr.tx.UpdateProblem(ctx, rec)
	return err
}

// insertPending inserts the pending new problems in one statement.
func (tr *txRun) insertPending(ctx context.Context) error {
	if len(tr.pending) == 0 {
		return nil
	}
	if _, err := tr.tx.InsertProblems(ctx, tr.pending); err != nil {
		return err
	}
	tr.pending = tr.pending[:0]
	clear(tr.pendingKeys)
	return nil
}

type runningEntry struct {
	id       string // "": the service has none
	state    remediation.State
	version  int64
	joinable bool
	// rem is the decoded remediation once it was needed: created in this
	// transaction, or read to apply a join that is not joinable.
	rem   *remediation.Remediation
	dirty bool // rem changed: rewrite it
	// joins are the joins to record beside the document (rem is nil).
	joins []store.RemediationJoin
}

// decision returns what Decide needs of the running remediation: nil when
// there is none, else its id and state.
func (e *runningEntry) decision() *remediation.Remediation {
	switch {
	case e.id == "":
		return nil
	case e.rem != nil:
		return e.rem
	}
	return &remediation.Remediation{ID: e.id, State: e.state}
}

// runningOf returns the service's running remediation's entry (its id is
// "" when there is none).
func (tr *txRun) runningOf(ctx context.Context, loc location) (*runningEntry, error) {
	if e, ok := tr.running[loc]; ok {
		return e, nil
	}
	e := &runningEntry{}
	rr, err := tr.tx.RunningRemediationHead(ctx, loc.project, loc.stage, loc.service)
	switch {
	case err == nil:
		e.id, e.state, e.version, e.joinable = rr.ID, remediation.State(rr.State), rr.Version, rr.Joinable
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	tr.running[loc] = e
	return e, nil
}

// join records that problem id joined e's remediation.
func (tr *txRun) join(ctx context.Context, loc location, e *runningEntry, id string) error {
	if e.rem == nil && e.joinable {
		e.joins = append(e.joins, store.RemediationJoin{ProblemID: id, At: tr.now})
		return nil
	}
	if e.rem == nil {
		rr, err := tr.tx.RunningRemediation(ctx, loc.project, loc.stage, loc.service)
		if err != nil {
			return err
		}
		if e.rem, err = decodeRemediation(rr); err != nil {
			return err
		}
		e.version = rr.Version
	}
	if _, err := e.rem.Apply(remediation.ProblemJoined{ProblemID: id}, tr.now); err != nil {
		return fmt.Errorf("join remediation %s: %w", e.id, err)
	}
	e.dirty = true
	return nil
}

// flush inserts the new problems and writes the remediations that problems
// joined, each with a compare-and-set on the version it was read at.
func (tr *txRun) flush(ctx context.Context) error {
	if err := tr.insertPending(ctx); err != nil {
		return err
	}
	for _, e := range tr.running {
		switch {
		case e.dirty:
			if _, err := tr.tx.UpdateRemediation(ctx, remediationRecord(e.rem, e.version)); err != nil {
				return err
			}
		case len(e.joins) > 0:
			if _, err := tr.tx.JoinRemediation(ctx, e.id, e.version, e.joins); err != nil {
				return err
			}
		}
	}
	return nil
}

// one decides and records one notification inside tr's transaction. It
// returns the location whose remediation file it needs when that is not
// loaded yet.
func (r *Recorder) one(ctx context.Context, tr *txRun, n *intake.Notification, t placement) (intake.Outcome, *location, error) {
	tx, files, now := tr.tx, tr.files, tr.now
	o := intake.Outcome{Key: n.Key}
	if t.reason != "" {
		return r.unmatched(ctx, tr, n, t)
	}
	// The project was placed outside the transaction; deleted since, it
	// gets nothing of its old self (DeleteProject takes the same lock).
	if _, err := tr.projectUID(ctx, n.Project); errors.Is(err, store.ErrNotFound) {
		t.reason = fmt.Sprintf("project %q does not exist", n.Project)
		return r.unmatched(ctx, tr, n, t)
	} else if err != nil {
		return o, nil, err
	}
	loc := location{n.Project, n.Stage, n.Service}
	in := n.Problem()

	var known *remediation.Problem
	var knownRec store.ProblemRecord
	rec, err := tr.problemByKey(ctx, n.Key)
	switch {
	case err == nil:
		knownRec = rec
		p := toProblem(rec)
		known = &p
	case !errors.Is(err, store.ErrNotFound):
		return o, nil, err
	}
	// The running remediation matters only to a new problem (start or
	// join) and to the close of an open one; a duplicate needs one read.
	var running *remediation.Remediation
	var entry *runningEntry
	if (known == nil && in.State == remediation.ProblemStateOpen) ||
		(known != nil && known.State == remediation.ProblemStateOpen && in.State == remediation.ProblemStateClosed) {
		var err error
		if entry, err = tr.runningOf(ctx, loc); err != nil {
			return o, nil, err
		}
		running = entry.decision()
	}

	d := remediation.Decide(in, known, running, now)
	o.Reason = d.Reason
	switch d.Verdict {
	case remediation.Ignore:
		o.Verdict, o.ProblemID, o.RemediationID = intake.Duplicate, knownRec.ID, knownRec.RemediationID
		return o, nil, nil

	case remediation.RecordClosed:
		p := d.Problem
		p.ID = event.NewUUID()
		o.Verdict, o.ProblemID, o.Created = intake.RecordedClosed, tr.insertProblem(toRecord(p, n, "")), true
		return o, nil, nil

	case remediation.Close:
		upd := toRecord(d.Problem, n, knownRec.Reason)
		upd.Version, upd.Doc = knownRec.Version, mergeDoc(knownRec.Doc, n)
		if err := tr.updateProblem(ctx, upd); err != nil {
			return o, nil, err
		}
		o.Verdict, o.ProblemID, o.RemediationID = intake.Closed, knownRec.ID, knownRec.RemediationID
		if d.RemediationID != "" {
			if _, err := tx.EnqueueJobs(ctx, jobSpec(remediation.ClosedJob(d.RemediationID, knownRec.ID))); err != nil {
				return o, nil, fmt.Errorf("enqueue remediation step: %w", err)
			}
		}
		return o, nil, nil

	case remediation.Join:
		p := d.Problem
		p.ID = event.NewUUID()
		if err := tr.join(ctx, loc, entry, p.ID); err != nil {
			return o, nil, err
		}
		o.Verdict, o.ProblemID, o.RemediationID, o.Created = intake.Joined, tr.insertProblem(toRecord(p, n, "")), running.ID, true
		return o, nil, nil

	case remediation.Start:
		p := d.Problem
		p.ID = event.NewUUID()
		if !t.enabled {
			id := tr.insertProblem(toRecord(p, n, intake.ReasonNotEnabled))
			o.Verdict, o.ProblemID, o.Reason, o.Created = intake.Recorded, id, intake.ReasonNotEnabled, true
			return o, nil, nil
		}
		file, ok := files[loc]
		if !ok {
			return o, &loc, nil
		}
		actions, _, _ := remediation.Actions(file, p.RootCause, p.Title)
		settings := remediation.Settings{Settling: remediation.SettlingTime(t.stage, r.settling)}
		if n.Source == intake.SourceKeptn {
			// A remediation.triggered from outside is answered in its own
			// context rather than triggered again.
			settings.TriggerEventID = n.EventID
		}
		rid := event.NewUUID()
		p.RemediationID = rid
		rem := remediation.New(rid, p, actions, settings, now)
		created, err := tx.CreateRemediation(ctx, remediationRecord(rem, 0))
		if err != nil {
			return o, nil, err
		}
		tr.running[loc] = &runningEntry{id: rid, state: rem.State, version: created.Version, rem: rem}
		id := tr.insertProblem(toRecord(p, n, ""))
		if _, err := tx.EnqueueJobs(ctx, jobSpec(remediation.StartJob(rid))); err != nil {
			return o, nil, fmt.Errorf("enqueue remediation step: %w", err)
		}
		o.Verdict, o.ProblemID, o.RemediationID, o.Created = intake.Started, id, rid, true
		return o, nil, nil
	}
	return o, nil, fmt.Errorf("record problem %s: unknown verdict %q", n.Key, d.Verdict)
}

// unmatched records a notification tend cannot place, once per key, under
// the project t.file: the sender's own when it is restricted to one.
func (r *Recorder) unmatched(ctx context.Context, tr *txRun, n *intake.Notification, t placement) (intake.Outcome, *location, error) {
	now := tr.now
	reason := t.reason
	o := intake.Outcome{Key: n.Key, Verdict: intake.Unmatched, Reason: reason}
	key := unmatchedKey(t.file, n.Key)
	if rec, err := tr.problemByKey(ctx, key); err == nil {
		o.ProblemID = rec.ID
		return o, nil, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return o, nil, err
	}
	p := n.Problem()
	p.ID, p.Key = event.NewUUID(), key
	if p.OpenedAt.IsZero() {
		p.OpenedAt = now
	}
	if t.file != n.Project {
		// Filed under the sender's project, it names no place in the
		// project the notification named.
		p.Project, p.Stage, p.Service = t.file, "", ""
	}
	rec := toRecord(p, n, reason)
	rec.State = store.ProblemUnmatched
	o.ProblemID, o.Created = tr.insertProblem(rec), true
	return o, nil, nil
}

// unmatchedKey is the key of an unmatched notification's problem, filed
// under project file.
func unmatchedKey(file, key string) string {
	return "unmatched/" + file + "/" + key
}

func detailsOf(n *intake.Notification) remediation.ProblemDetails {
	return remediation.ProblemDetails{
		RootCause: n.RootCause, Details: n.Details, URL: n.URL, Entity: n.Entity, Origin: n.Origin,
		EventID: n.EventID, Labels: n.Labels, Annotations: n.Annotations,
	}
}

// mergeDoc keeps the opening notification's details and fills in what the
// closing one adds.
func mergeDoc(doc []byte, n *intake.Notification) []byte {
	d := remediation.DecodeProblemDetails(doc)
	c := detailsOf(n)
	if d.URL == "" {
		d.URL = c.URL
	}
	if d.Details == "" {
		d.Details = c.Details
	}
	return d.Encode()
}

func toRecord(p remediation.Problem, n *intake.Notification, reason string) store.ProblemRecord {
	doc := detailsOf(n).Encode()
	return store.ProblemRecord{
		ID: p.ID, Key: p.Key, Source: p.Source, Project: p.Project, Stage: p.Stage, Service: p.Service,
		State: string(p.State), Title: p.Title, RemediationID: p.RemediationID, KeptnContext: p.KeptnContext,
		Reason: reason, OpenedAt: p.OpenedAt, ClosedAt: p.ClosedAt, Doc: doc,
	}
}

// toProblem turns a stored problem back into the domain's Problem.
func toProblem(rec store.ProblemRecord) remediation.Problem {
	d := remediation.DecodeProblemDetails(rec.Doc)
	return remediation.Problem{
		ID: rec.ID, Key: rec.Key, Source: rec.Source, Project: rec.Project, Stage: rec.Stage, Service: rec.Service,
		Title: rec.Title, RootCause: d.RootCause, Details: d.Details, URL: d.URL, Labels: d.Labels,
		State: remediation.ProblemState(rec.State), KeptnContext: rec.KeptnContext, EventID: d.EventID,
		RemediationID: rec.RemediationID, OpenedAt: rec.OpenedAt, ClosedAt: rec.ClosedAt,
	}
}

// remediationRecord returns the record that stores rem, at version (the
// version it was read at, for UpdateRemediation's compare-and-set; 0 for
// CreateRemediation). Running is derived from the state.
func remediationRecord(rem *remediation.Remediation, version int64) store.RemediationRecord {
	return store.RemediationRecord{
		ID: rem.ID, Project: rem.Project, Stage: rem.Stage, Service: rem.Service,
		State: string(rem.State), Running: !rem.State.Terminal(), KeptnContext: rem.KeptnContext,
		Doc: rem.Encode(), Joinable: rem.JoinsInPlace(), Version: version,
	}
}

// decodeRemediation reads a stored remediation record's document.
func decodeRemediation(rec store.RemediationRecord) (*remediation.Remediation, error) {
	return remediation.Decode(rec.ID, rec.Doc)
}

// jobSpec wraps a job of the remediation package into the store's.
func jobSpec(j remediation.Job) store.JobSpec {
	return store.JobSpec{Kind: j.Kind, Payload: j.Payload, UniqueKey: j.UniqueKey, MaxAttempts: j.MaxAttempts}
}
