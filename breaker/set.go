package breaker

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Options build a Set.
type Options struct {
	// Default applies to every assistant; its zero fields take the
	// package defaults (see Settings).
	Default Settings
	// PerAssistant lists the configured assistants; zero fields inherit
	// Default. An assistant not listed gets a breaker with Default on its
	// first Admit.
	PerAssistant map[string]Settings
	// OnChange is told every state change, in order per assistant and
	// outside every lock (it may call the Set). Optional.
	OnChange func(assistant string, from, to State)
	// Log gets one line per state change (default: none).
	Log *zap.Logger
	// Shared shares open-until and counts with other instances through
	// Redis (optional; run Shared.Run).
	Shared *Shared
	// Now is the clock for open-until times and shared buckets (default
	// time.Now). gobreaker's own timing always uses time.Now.
	Now func() time.Time
}

// Set holds every assistant's breaker. It is safe for concurrent use.
type Set struct {
	now      func() time.Time
	log      *zap.Logger
	onChange func(string, State, State)
	shared   *Shared

	mu      sync.Mutex // serializes changes to entries and cfg
	cfg     atomic.Pointer[config]
	entries atomic.Pointer[map[string]*entry] // copy on write
}

// config is the settings part of Options with defaults applied.
type config struct {
	def Settings
	per map[string]Settings
}

func newConfig(o Options) *config {
	c := &config{def: o.Default.inherit(builtin()), per: make(map[string]Settings, len(o.PerAssistant))}
	for name, st := range o.PerAssistant {
		c.per[name] = st.inherit(c.def)
	}
	return c
}

// settingsFor is name's effective settings and whether it is configured.
func (c *config) settingsFor(name string) (Settings, bool) {
	if st, ok := c.per[name]; ok {
		return st, true
	}
	return c.def, false
}

// New builds the breakers of o.PerAssistant, all closed.
func New(o Options) *Set {
	s := &Set{now: o.Now, log: o.Log, onChange: o.OnChange, shared: o.Shared}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	c := newConfig(o)
	s.cfg.Store(c)
	m := make(map[string]*entry, len(c.per))
	for name, st := range c.per {
		m[name] = s.newEntry(name, st, true)
	}
	s.entries.Store(&m)
	if s.shared != nil {
		s.shared.attach(s)
	}
	return s
}

// lookup finds name's breaker; nil when it has none.
func (s *Set) lookup(name string) *entry { return (*s.entries.Load())[name] }

// entry finds name's breaker, creating it with Default if needed.
func (s *Set) entry(name string) *entry {
	if e := s.lookup(name); e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := *s.entries.Load()
	if e := m[name]; e != nil {
		return e
	}
	st, configured := s.cfg.Load().settingsFor(name)
	e := s.newEntry(name, st, configured)
	next := maps.Clone(m)
	next[name] = e
	s.entries.Store(&next)
	return e
}

// Update applies new settings (hot reload). Assistants whose effective
// settings are unchanged keep their breaker, state and counts; changed
// ones get a fresh closed breaker, keeping an operator's force (OnChange
// hears it when what callers see changes); assistants removed from
// PerAssistant are dropped without a callback. OnChange, Log, Shared and
// Now stay as given to New.
func (s *Set) Update(o Options) {
	s.mu.Lock()
	c := newConfig(o)
	old := *s.entries.Load()
	next := make(map[string]*entry, max(len(old), len(c.per)))
	var fresh []*entry
	for name, e := range old {
		st, configured := c.settingsFor(name)
		if !configured && e.configured.Load() {
			e.dropped.Store(true)
			continue
		}
		if st == e.cfg {
			e.configured.Store(configured)
			next[name] = e
			continue
		}
		from := e.current()
		e.dropped.Store(true)
		ne := s.newEntry(name, st, configured)
		ne.force.Store(e.force.Load())
		// ne is not published yet: no lock needed.
		if to := ne.effectiveLocked(); to != from {
			ne.enqueueLocked(transition{from: from, to: to, cause: causeReload})
		}
		next[name] = ne
		fresh = append(fresh, ne)
	}
	for name, st := range c.per {
		if next[name] == nil {
			next[name] = s.newEntry(name, st, true)
		}
	}
	s.cfg.Store(c)
	s.entries.Store(&next)
	s.mu.Unlock()
	for _, e := range fresh {
		e.flush()
	}
}
