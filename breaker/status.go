package breaker

import (
	"sort"
	"time"
)

// Status is one assistant's breaker as the admin API shows it.
type Status struct {
	Name  string `json:"name"`
	State State  `json:"state"`
	// Forced is set while an operator's ForceOpen or ForceClosed holds;
	// State says which.
	Forced bool   `json:"forced"`
	Counts Counts `json:"counts"`
	// OpenUntil is when an open breaker starts letting probes through;
	// zero when not open or forced open.
	OpenUntil time.Time `json:"open_until"`
	// SharedOpenUntil is another instance's open-until while in force;
	// zero otherwise.
	SharedOpenUntil time.Time `json:"shared_open_until"`
}

// Counts are the results in the current window (closed) or since the
// last state change (half-open, open).
type Counts struct {
	Requests    uint32 `json:"requests"` // admitted, including calls still running
	Successes   uint32 `json:"successes"`
	Failures    uint32 `json:"failures"`
	Exclusions  uint32 `json:"exclusions"`
	Consecutive uint32 `json:"consecutive"` // failures in a row
}

// State is name's state on this instance: the force if any, else its
// breaker's. An assistant without a breaker is Closed.
func (s *Set) State(name string) State {
	e := s.lookup(name)
	if e == nil {
		return Closed
	}
	return e.state()
}

// Status lists every assistant's breaker, by name.
func (s *Set) Status() []Status {
	m := *s.entries.Load()
	out := make([]Status, 0, len(m))
	now := s.now()
	for _, e := range m {
		st := Status{Name: e.name, State: e.state()}
		n := e.cur.Load().tscb.Counts()
		st.Counts = Counts{
			Requests: n.Requests, Successes: n.TotalSuccesses, Failures: n.TotalFailures,
			Exclusions: n.TotalExclusions, Consecutive: n.ConsecutiveFailures,
		}
		st.Forced = e.force.Load() != notForced
		if !st.Forced {
			e.mu.Lock()
			if e.local() == Open {
				st.OpenUntil = e.openUntil
			}
			e.mu.Unlock()
		}
		if u := e.sharedUntil.Load(); u > now.UnixMilli() {
			st.SharedOpenUntil = time.UnixMilli(u)
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
