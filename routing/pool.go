package routing

import (
	"context"
	"errors"
	"math/rand/v2"
	"sort"
	"sync/atomic"
	"time"
)

// ErrNoneAvailable means no member of the pool may take the call now.
var ErrNoneAvailable = errors.New("routing: no member available")

// Member is an assistant's place in a pool. Members are immutable once a
// pool is built; a status change builds a new pool.
type Member struct {
	Name     string // assistant name
	Priority int
	Weight   int
	Position int
	MaxCalls int  // 0: no cap
	Active   bool // status active
}

// Pool picks members for calls. It is immutable and safe for concurrent use.
type Pool struct {
	Name          string
	FollowThrough bool
	members       []Member // by position
	strategy      Strategy
	kind          Kind
	ticket        bool
	active        bool // the strategy reads Choice.Active
	hashKey       func(HashFacts) string
	store         Store
	rand          func() uint64
	gate          Gate
	onSkip        func(pool, member string)
	now           func() time.Time
}

// HashFacts are what a consistent-hash key may come from.
type HashFacts struct {
	Caller      string
	Destination string
	Var         func(name string) string
}

// Gate stands between a pick and a member: an assistant's breaker.
type Gate interface {
	// Ready is a cheap check that the member is not shut off (breaker
	// open); it takes nothing.
	Ready(member string) bool
	// Admit takes the member's permission for one call (a half-open
	// breaker lets only its probes through). done must be called exactly
	// once with the outcome: nil for success, an error otherwise; an error
	// with an `Excluded() bool` method returning true counts as neither.
	Admit(member string) (done func(error), ok bool)
}

// PoolConfig builds a Pool.
type PoolConfig struct {
	Name          string
	Strategy      Kind
	FollowThrough bool
	Members       []Member
	// HashKey extracts the consistent_hash key from a call (nil: none).
	HashKey func(HashFacts) string
	// Latency holds lowest_latency's measurements across reloads (optional).
	Latency *Latency
	// Now is the clock (default time.Now).
	Now   func() time.Time
	Store Store
	Gate  Gate          // optional
	Rand  func() uint64 // optional; math/rand/v2 by default
	// OnSkip is told about members the gate refused (metrics: skipped_open).
	OnSkip func(pool, member string)
}

// NewPool validates nothing that config already checked; it orders the
// members by position and binds the strategy.
func NewPool(c PoolConfig) (*Pool, error) {
	s, err := New(c.Strategy, c.Latency)
	if err != nil {
		return nil, err
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	if c.Store == nil {
		return nil, errors.New("routing: pool " + c.Name + " has no store")
	}
	ms := append([]Member(nil), c.Members...)
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Position < ms[j].Position })
	if b, ok := s.(binder); ok {
		b.bind(ms)
	}
	_, ticket := s.(NeedsTicket)
	_, active := s.(NeedsActive)
	r := c.Rand
	if r == nil {
		r = rand.Uint64
	}
	return &Pool{
		Name: c.Name, FollowThrough: c.FollowThrough, members: ms,
		strategy: s, kind: c.Strategy, ticket: ticket, active: active, hashKey: c.HashKey, now: now,
		store: c.Store, rand: r, gate: c.Gate, onSkip: c.OnSkip,
	}, nil
}

// Members returns the pool's members in position order.
func (p *Pool) Members() []Member { return p.members }

// Lease is a member holding one of the call's slots. Report the attempt's
// outcome once it is known and Release when the caller leaves the member;
// each takes effect once, whatever the path.
type Lease struct {
	Member   Member
	callID   string
	store    Store
	done     func(error)
	reported atomic.Bool
	released atomic.Bool
}

// Report gives the gate the attempt's outcome: nil when the member took
// the call, the failure otherwise.
func (l *Lease) Report(err error) {
	if l == nil || !l.reported.CompareAndSwap(false, true) {
		return
	}
	if l.done != nil {
		l.done(err)
	}
}

// excluded is an outcome that counts neither way.
type excluded struct{}

func (excluded) Error() string  { return "routing: attempt ended without an outcome" }
func (excluded) Excluded() bool { return true }

// Release returns the member's slot. An attempt never reported counts as
// neither success nor failure.
func (l *Lease) Release() {
	if l == nil || !l.released.CompareAndSwap(false, true) {
		return
	}
	l.Report(excluded{})
	l.store.Release(context.Background(), l.Member.Name, l.callID)
}

// Pick chooses a member for the call, skipping inactive members, members
// at max_calls, members the gate refuses and members in tried, and takes
// a slot on it. It returns ErrNoneAvailable when nobody may take the call.
func (p *Pool) Pick(ctx context.Context, callID string, tried *Tried) (*Lease, error) {
	return p.PickFor(ctx, callID, tried, HashFacts{})
}

// PickFor is Pick with the call's facts for consistent hashing.
func (p *Pool) PickFor(ctx context.Context, callID string, tried *Tried, facts HashFacts) (*Lease, error) {
	n := len(p.members)
	avail := make([]bool, n)
	any := false
	pa, shared := p.store.(PickAcquirer)
	shared = shared && (p.kind == RoundRobin || p.kind == LeastConnections)
	for i := range p.members {
		m := &p.members[i]
		// A shared pick checks max_calls on live counts in the store; the
		// cached count would only skip members that just freed a slot.
		avail[i] = m.Active && !tried.Has(m.Name) &&
			(shared || m.MaxCalls <= 0 || p.store.Active(m.Name) < m.MaxCalls)
		if avail[i] && p.gate != nil && !p.gate.Ready(m.Name) {
			avail[i] = false
			if p.onSkip != nil {
				p.onSkip(p.Name, m.Name)
			}
		}
		any = any || avail[i]
	}
	if !any {
		return nil, ErrNoneAvailable
	}
	c := Choice{Members: p.members, Available: avail, Rand: p.rand, Now: p.now(), After: p.lastTried(tried)}
	if p.active {
		c.Active = make([]int, n)
		for i := range p.members {
			c.Active[i] = p.store.Active(p.members[i].Name)
		}
	}
	if p.hashKey != nil {
		c.Key = p.hashKey(facts)
	}
	if shared {
		if l, handled := p.pickShared(ctx, pa, callID, avail, c.After); handled {
			if l == nil {
				return nil, ErrNoneAvailable
			}
			return l, nil
		}
	}
	for range n {
		if p.ticket && c.After < 0 {
			c.Ticket = p.store.Next(ctx, p.Name)
		}
		i := p.strategy.Pick(&c)
		if i < 0 {
			return nil, ErrNoneAvailable
		}
		m := p.members[i]
		avail[i] = false // whatever happens next, not this one again
		var done func(error)
		if p.gate != nil {
			var ok bool
			if done, ok = p.gate.Admit(m.Name); !ok {
				if p.onSkip != nil {
					p.onSkip(p.Name, m.Name)
				}
				continue
			}
		}
		if p.store.Acquire(ctx, m.Name, callID, m.MaxCalls) {
			return &Lease{Member: m, callID: callID, store: p.store, done: done}, nil
		}
		if done != nil {
			done(excluded{}) // filled up since the check above: no outcome
		}
	}
	return nil, ErrNoneAvailable
}

// pickShared lets the store pick and acquire in one step. A member the
// gate then refuses is left out and the store asked again.
func (p *Pool) pickShared(ctx context.Context, pa PickAcquirer, callID string, avail []bool, after int) (*Lease, bool) {
	names := make([]string, len(p.members))
	limits := make([]int, len(p.members))
	for i, m := range p.members {
		names[i], limits[i] = m.Name, m.MaxCalls
	}
	for range p.members {
		i, handled := pa.PickAcquire(ctx, PickRequest{
			Pool: p.Name, Kind: p.kind, Members: names, Limits: limits,
			Available: avail, CallID: callID, Rand: p.rand(), After: after,
		})
		if !handled {
			return nil, false
		}
		if i < 0 {
			return nil, true
		}
		m := p.members[i]
		if p.gate == nil {
			return &Lease{Member: m, callID: callID, store: p.store}, true
		}
		if done, ok := p.gate.Admit(m.Name); ok {
			return &Lease{Member: m, callID: callID, store: p.store, done: done}, true
		}
		if p.onSkip != nil {
			p.onSkip(p.Name, m.Name)
		}
		p.store.Release(ctx, m.Name, callID)
		avail[i] = false
	}
	return nil, true
}

// lastTried is the index of the member this call tried last, or -1.
func (p *Pool) lastTried(t *Tried) int {
	if t == nil || len(t.names) == 0 {
		return -1
	}
	last := t.names[len(t.names)-1]
	for i := range p.members {
		if p.members[i].Name == last {
			return i
		}
	}
	return -1
}

// Observe feeds an attempt's outcome to strategies that learn from it.
func (p *Pool) Observe(member string, setup time.Duration, failed bool) {
	if o, ok := p.strategy.(Observer); ok {
		o.Observe(member, setup, failed, p.now())
	}
}

// Tried is the set of members already attempted on one call.
type Tried struct{ names []string }

// Has reports whether name was tried. A nil Tried has nothing.
func (t *Tried) Has(name string) bool {
	if t == nil {
		return false
	}
	for _, n := range t.names {
		if n == name {
			return true
		}
	}
	return false
}

// Add records name as tried.
func (t *Tried) Add(name string) {
	if !t.Has(name) {
		t.names = append(t.names, name)
	}
}

// Names lists the tried members in order.
func (t *Tried) Names() []string { return t.names }
