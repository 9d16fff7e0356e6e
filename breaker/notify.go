package breaker

import (
	"time"

	"go.uber.org/zap"
)

// cause says why a breaker changed state (log field "cause").
type cause int32

const (
	causeCalls    cause = iota + 1 // this instance's results
	causeTimeout                   // OpenFor passed
	causeShared                    // another instance opened it
	causeCombined                  // all instances' results together
	causeForce                     // operator force
	causeReset                     // operator reset
	causeReload                    // new settings from Update
)

func (c cause) String() string {
	switch c {
	case causeCalls:
		return "calls"
	case causeTimeout:
		return "timeout"
	case causeShared:
		return "shared"
	case causeCombined:
		return "combined"
	case causeForce:
		return "force"
	case causeReset:
		return "reset"
	case causeReload:
		return "reload"
	}
	return "unknown"
}

// transition is one state change waiting to be reported.
type transition struct {
	from, to State
	cause    cause
	until    time.Time // to Open: when probes may start
}

func (e *entry) enqueueLocked(t transition) {
	e.pending = append(e.pending, t)
	e.npending.Add(1)
}

// flush reports queued transitions in order and outside every lock, so
// OnChange may call back into the Set. Whoever finds nobody delivering
// delivers everything queued, including what others queue meanwhile;
// every path that can make gobreaker change state calls flush after it.
func (e *entry) flush() {
	if e.npending.Load() == 0 {
		return
	}
	e.mu.Lock()
	if e.delivering {
		e.mu.Unlock()
		return
	}
	e.delivering = true
	for len(e.pending) > 0 {
		batch := e.pending
		e.pending = nil
		e.npending.Add(-int32(len(batch)))
		e.mu.Unlock()
		for _, t := range batch {
			e.deliver(t)
		}
		e.mu.Lock()
	}
	e.delivering = false
	e.mu.Unlock()
}

// deliver logs one transition, tells OnChange and Shared.
func (e *entry) deliver(t transition) {
	if e.dropped.Load() {
		return
	}
	s := e.set
	s.log.Info("breaker state changed",
		zap.String("assistant", e.name), zap.Stringer("from", t.from),
		zap.Stringer("to", t.to), zap.Stringer("cause", t.cause))
	if s.onChange != nil {
		s.onChange(e.name, t.from, t.to)
	}
	if s.shared != nil {
		s.shared.note(e, t)
	}
}
