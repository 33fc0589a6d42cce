package api

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/intake"
)

// DefaultMaxUnmatchedPerMinute is IntakeOptions.MaxUnmatchedPerMinute's
// default.
const DefaultMaxUnmatchedPerMinute = 60

// unmatchedLimiter caps how many new unmatched problems one intake token
// creates per minute. Unmatched problems are stored, listed and kept until
// retention removes them, yet nothing checks what they name: without a
// cap, a leaked intake token (it sits in an Alertmanager configuration)
// fills the store with alerts of made-up labels. Matched alerts and
// repeats of problems already recorded are not limited: they are the
// intake's work, and bounded by the projects' own services.
//
// Each token has a bucket of perMinute credits that refills continuously,
// so a burst of perMinute is allowed and then perMinute a minute. The
// buckets live in this replica's memory: with several replicas behind one
// address a token can create up to perMinute on each (docs/intake.md).
// Counting in the store would be exact, but needs the token on every
// problem row and a count in every recording transaction.
type unmatchedLimiter struct {
	perMinute int
	now       func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	credits float64
	at      time.Time
}

// maxBuckets bounds the limiter's memory; full buckets are dropped when
// there are more, since a full bucket is what a new one starts as.
const maxBuckets = 1024

func newUnmatchedLimiter(perMinute int, now func() time.Time) *unmatchedLimiter {
	if perMinute == 0 {
		perMinute = DefaultMaxUnmatchedPerMinute
	}
	if perMinute < 0 {
		return nil
	}
	return &unmatchedLimiter{perMinute: perMinute, now: now, buckets: map[string]*bucket{}}
}

// refill brings b up to date; callers hold mu.
func (l *unmatchedLimiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.credits = math.Min(float64(l.perMinute), b.credits+d.Minutes()*float64(l.perMinute))
	}
	b.at = now
}

// reserve takes up to want whole credits of key's bucket and returns how
// many it took; settle gives back what the delivery did not use.
func (l *unmatchedLimiter) reserve(key string, want int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			for k, o := range l.buckets {
				if l.refill(o, now); o.credits >= float64(l.perMinute) {
					delete(l.buckets, k)
				}
			}
		}
		b = &bucket{credits: float64(l.perMinute), at: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	n := min(want, int(math.Floor(b.credits)))
	b.credits -= float64(n)
	return n
}

// settle returns unused reserved credits to key's bucket.
func (l *unmatchedLimiter) settle(key string, unused int) {
	if unused <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[key]; ok {
		b.credits = math.Min(float64(l.perMinute), b.credits+float64(unused))
	}
}

// retryAfter is how long until key's bucket holds one credit again, in
// whole seconds, at least one.
func (l *unmatchedLimiter) retryAfter(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	missing := 1.0
	if b, ok := l.buckets[key]; ok {
		l.refill(b, l.now())
		missing = math.Max(0, 1-b.credits)
	}
	return max(1, int(math.Ceil(missing*60/float64(l.perMinute))))
}

// limitUnmatched sets b's unmatched budget when p is an intake token and
// returns the function to call with the delivery's outcomes (nil when
// recording failed) once it was recorded.
func (g *intakeGate) limitUnmatched(p auth.Principal, b *intake.Batch) (done func([]intake.Outcome)) {
	if g.unmatched == nil || p.Kind != auth.KindIntake {
		return func([]intake.Outcome) {}
	}
	key := p.TokenName
	granted := g.unmatched.reserve(key, len(b.Notifications))
	b.LimitUnmatched, b.MaxNewUnmatched = true, granted
	return func(outcomes []intake.Outcome) {
		used := 0
		for _, o := range outcomes {
			if o.Verdict == intake.Unmatched && o.Created {
				used++
			}
		}
		g.unmatched.settle(key, granted-used)
	}
}

// writeUnmatchedLimit answers a delivery refused for its new unmatched
// problems, with Retry-After, and reports whether err was that refusal.
// The Alertmanager webhook answers 503, since Alertmanager retries only
// 5xx answers and drops a message answered 429 with every alert in it;
// other senders of problem events get 429.
func (s *Server) writeUnmatchedLimit(w http.ResponseWriter, r *http.Request, err error, status int) bool {
	if !errors.Is(err, intake.ErrTooManyUnmatched) {
		return false
	}
	p := principalOf(r)
	w.Header().Set("Retry-After", strconv.Itoa(s.intake.unmatched.retryAfter(p.TokenName)))
	s.log.WarnContext(r.Context(), "intake_unmatched_limited", "token", p.TokenName, "project", p.Project)
	writeErrorStatus(w, status, fmt.Sprintf(
		"intake token %q may create at most %d new unmatched problems a minute and this delivery would exceed that; nothing of it was recorded. "+
			"Send it again later, and fix the alerts' labels so that they name a project, stage and service of project %s (GET /api/v1/problem?state=unmatched lists the ones recorded), "+
			"or raise intake.maxUnmatchedPerMinute in tend.yaml",
		p.TokenName, s.intake.unmatched.perMinute, p.Project))
	return true
}
