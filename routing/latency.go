package routing

import (
	"math"
	"sync"
	"time"
)

// LatencyOptions tune the peak-EWMA of setup times.
type LatencyOptions struct {
	// Decay is the EWMA time constant (default 10s): a sample's weight
	// falls to 1/e after this long, and a member nobody calls drifts back
	// towards zero cost, so it is tried again and its score stays current.
	Decay time.Duration
	// Penalty is the sample a failed attempt counts as (default 5s).
	Penalty time.Duration
}

// Latency keeps a peak-EWMA of each member's setup time (bridge sent to
// CHANNEL_BRIDGE). It is shared by pools and outlives configuration
// reloads.
type Latency struct {
	opts LatencyOptions
	mu   sync.Mutex
	m    map[string]*peakEWMA
}

type peakEWMA struct {
	cost float64 // seconds
	at   time.Time
}

// NewLatency returns an empty tracker.
func NewLatency(o LatencyOptions) *Latency {
	if o.Decay <= 0 {
		o.Decay = 10 * time.Second
	}
	if o.Penalty <= 0 {
		o.Penalty = 5 * time.Second
	}
	return &Latency{opts: o, m: map[string]*peakEWMA{}}
}

// Observe records an attempt's setup time, or a failure.
func (l *Latency) Observe(member string, setup time.Duration, failed bool, now time.Time) {
	s := setup.Seconds()
	if failed {
		s = l.opts.Penalty.Seconds()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[member]
	if !ok {
		l.m[member] = &peakEWMA{cost: s, at: now}
		return
	}
	c := e.decayed(now, l.opts.Decay)
	if s > c {
		c = s // peak: a slow answer counts at once
	} else {
		w := math.Exp(-now.Sub(e.at).Seconds() / l.opts.Decay.Seconds())
		c = c*w + s*(1-w)
	}
	e.cost, e.at = c, now
}

// Cost is the member's current cost in seconds; 0 for a member never measured.
func (l *Latency) Cost(member string, now time.Time) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.costLocked(member, now)
}

// costLocked is Cost under l.mu.
func (l *Latency) costLocked(member string, now time.Time) float64 {
	if e, ok := l.m[member]; ok {
		return e.decayed(now, l.opts.Decay)
	}
	return 0
}

func (e *peakEWMA) decayed(now time.Time, decay time.Duration) float64 {
	dt := now.Sub(e.at).Seconds()
	if dt <= 0 {
		return e.cost
	}
	return e.cost * math.Exp(-dt/decay.Seconds())
}

// lowestLatency picks the lowest cost × (in-flight+1) / weight: fast
// members get more calls, but not all of them once they are busy. Members
// never measured cost 0 and are tried first; ties go at random.
type lowestLatency struct{ lat *Latency }

var (
	_ Strategy    = (*lowestLatency)(nil)
	_ NeedsActive = (*lowestLatency)(nil)
	_ Observer    = (*lowestLatency)(nil)
)

func (*lowestLatency) needsActive() {}

func (s *lowestLatency) Observe(member string, setup time.Duration, failed bool, now time.Time) {
	s.lat.Observe(member, setup, failed, now)
}

func (s *lowestLatency) Pick(c *Choice) int {
	best, ties := -1, 0
	var bestScore float64
	s.lat.mu.Lock()
	defer s.lat.mu.Unlock()
	for i, m := range c.Members {
		if !c.Available[i] || m.Weight <= 0 {
			continue
		}
		score := s.lat.costLocked(m.Name, c.Now) * float64(c.Active[i]+1) / float64(m.Weight)
		switch {
		case best < 0 || score < bestScore:
			best, bestScore, ties = i, score, 1
		case score == bestScore:
			ties++
			if c.Rand()%uint64(ties) == 0 {
				best = i
			}
		}
	}
	return best
}
