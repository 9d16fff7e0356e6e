package breaker

import "fmt"

// Force overrides name's breaker on this instance: ForceOpen and
// ForceClosed hold until ForceClosed, ForceOpen or Reset; Reset starts a
// fresh closed breaker and also clears the shared open-until and counts.
// OnChange hears the change of what callers see. Forcing is local to this
// instance; while forced, outcomes are not counted.
func (s *Set) Force(name string, a Action) error {
	why := causeForce
	switch a {
	case ForceOpen, ForceClosed:
	case Reset:
		why = causeReset
	default:
		return fmt.Errorf("breaker: force %s: %v", name, a)
	}
	e := s.lookup(name)
	if e == nil {
		return fmt.Errorf("%w %q", ErrUnknownAssistant, name)
	}
	e.cur.Load().tscb.State() // a due open→half-open happens first
	e.mu.Lock()
	from := e.effectiveLocked()
	switch a {
	case ForceOpen:
		e.force.Store(forcedOpen)
		e.bump(e.local())
	case ForceClosed:
		e.force.Store(forcedClosed)
		e.bump(e.local())
	case Reset:
		e.force.Store(notForced)
		e.install()
	}
	if to := e.effectiveLocked(); to != from {
		e.enqueueLocked(transition{from: from, to: to, cause: why})
	}
	e.mu.Unlock()
	if a == Reset && s.shared != nil {
		e.sharedUntil.Store(0)
		s.shared.clear(e)
	}
	e.flush()
	return nil
}
