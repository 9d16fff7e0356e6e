package breaker

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Outcomes handed to gobreaker: done classifies the caller's error once
// so gobreaker's hooks are plain comparisons.
var (
	errFailure  = errors.New("breaker: failure")
	errExcluded = errors.New("breaker: no outcome")
)

// Force values held in entry.force.
const (
	notForced int32 = iota
	forcedOpen
	forcedClosed
)

// cb is one gobreaker instance. Reset and reload install a new one; the
// old one may still get late results and transitions, which are ignored.
type cb struct {
	tscb *gobreaker.TwoStepCircuitBreaker[struct{}]
}

// entry is one assistant's breaker and what surrounds it.
type entry struct {
	name string
	set  *Set
	cfg  Settings

	cur        atomic.Pointer[cb]
	force      atomic.Int32
	configured atomic.Bool // listed in Options.PerAssistant
	dropped    atomic.Bool // removed by Update: report nothing more
	// phase is generation<<2 | State of the current gobreaker; every
	// transition, force and reset bumps the generation, so a result can
	// tell whether the breaker changed while its call ran.
	phase atomic.Uint64
	// tripping is the cause while Shared opens the breaker on purpose.
	tripping atomic.Int32
	// sharedUntil is another instance's open-until (unix ms), 0 if none.
	sharedUntil atomic.Int64

	// mu guards the fields below. gobreaker's OnStateChange takes it with
	// gobreaker's mutex held, so it is never held while calling gobreaker.
	mu         sync.Mutex
	openUntil  time.Time
	pending    []transition
	delivering bool
	npending   atomic.Int32

	share shareState // outcomes and writes waiting for Shared.Run
}

func (s *Set) newEntry(name string, st Settings, configured bool) *entry {
	e := &entry{name: name, set: s, cfg: st}
	e.configured.Store(configured)
	e.install()
	return e
}

// install starts a fresh gobreaker in the next generation, closed. The
// caller holds e.mu or has not published e yet.
func (e *entry) install() {
	c := &cb{}
	st := e.cfg
	c.tscb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         e.name,
		MaxRequests:  st.Probes,
		Interval:     st.Window,
		BucketPeriod: st.bucket(),
		Timeout:      st.OpenFor,
		ReadyToTrip: func(n gobreaker.Counts) bool {
			return e.tripping.Load() != 0 ||
				st.trips(n.ConsecutiveFailures, n.TotalFailures, n.TotalSuccesses+n.TotalFailures)
		},
		OnStateChange: func(_ string, from, to gobreaker.State) { e.changed(c, stateOf(from), stateOf(to)) },
		IsSuccessful:  func(err error) bool { return err == nil },
		IsExcluded:    func(err error) bool { return err == errExcluded },
	})
	e.cur.Store(c)
	e.bump(Closed)
	e.openUntil = time.Time{}
}

// bump moves to the next generation in state st.
func (e *entry) bump(st State) {
	e.phase.Store((e.phase.Load()>>2+1)<<2 | uint64(st))
}

// local is the current gobreaker's last known state.
func (e *entry) local() State { return State(e.phase.Load() & 3) }

// changed runs inside gobreaker's OnStateChange, with its mutex held: it
// only records, and flush delivers after gobreaker returns.
func (e *entry) changed(c *cb, from, to State) {
	why := cause(e.tripping.Load())
	if why == 0 {
		why = causeCalls
		if from == Open {
			why = causeTimeout
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur.Load() != c {
		return
	}
	e.bump(to)
	e.openUntil = time.Time{}
	if to == Open {
		e.openUntil = e.set.now().Add(e.cfg.OpenFor)
	}
	if e.force.Load() != notForced {
		return // the forced state is what the world sees
	}
	e.enqueueLocked(transition{from: from, to: to, cause: why, until: e.openUntil})
}

// effectiveLocked is the state callers see: the force, else gobreaker's.
func (e *entry) effectiveLocked() State {
	switch e.force.Load() {
	case forcedOpen:
		return Open
	case forcedClosed:
		return Closed
	}
	return e.local()
}

// state reads gobreaker's state, letting a due open→half-open happen.
func (e *entry) state() State {
	switch e.force.Load() {
	case forcedOpen:
		return Open
	case forcedClosed:
		return Closed
	}
	st := e.cur.Load().tscb.State()
	e.flush()
	return stateOf(st)
}

// current is the effective state without reporting anything: for callers
// that hold the Set's lock, where OnChange must not run.
func (e *entry) current() State {
	e.cur.Load().tscb.State()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.effectiveLocked()
}

// sharedOpen reports whether another instance's open-until is in force.
func (e *entry) sharedOpen() bool {
	u := e.sharedUntil.Load()
	return u != 0 && e.set.now().UnixMilli() < u
}

// trip opens the breaker on Shared's word: a failure with tripping set
// makes ReadyToTrip say yes (closed) or reopens a half-open breaker. When
// the half-open slots are taken it does nothing; sharedUntil still refuses.
func (e *entry) trip(why cause) {
	e.tripping.Store(int32(why))
	if done, err := e.cur.Load().tscb.Allow(); err == nil {
		done(errFailure)
	}
	e.tripping.Store(0)
	e.flush()
}
