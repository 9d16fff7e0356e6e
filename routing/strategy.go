// Package routing owns pools, members, strategies, routes and the state
// behind them (active calls, rotation counters, member status).
package routing

import (
	"fmt"
	"time"
)

// Kind names a strategy in configuration.
type Kind string

// Strategy kinds.
const (
	RoundRobin         Kind = "round_robin"
	WeightedRoundRobin Kind = "weighted_round_robin"
	Priority           Kind = "priority"
	Percentage         Kind = "percentage"
	Random             Kind = "random"
	LeastConnections   Kind = "least_connections"
	ConsistentHash     Kind = "consistent_hash"
	LowestLatency      Kind = "lowest_latency"
)

// Kinds lists every strategy, for validation messages.
var Kinds = []Kind{RoundRobin, WeightedRoundRobin, Priority, Percentage, Random, LeastConnections, ConsistentHash, LowestLatency}

// Choice is what a strategy sees at pick time: the pool's members and which
// of them may take this call (active, under max_calls, breaker not open,
// not yet tried on this call).
type Choice struct {
	Members   []Member
	Available []bool // parallel to Members
	// Ticket is the pool's next rotation value (round robin).
	Ticket uint64
	// After is the index of the member this call tried last, or -1. Round
	// robin moves on to the next member in position order rather than
	// taking a new turn of the rotation.
	After int
	// Rand returns uniformly distributed values.
	Rand func() uint64
	// Active is each member's current calls (filled for strategies that
	// implement NeedsActive).
	Active []int
	// Key is the call's hash key (consistent hash).
	Key string
	// Now is the pick time (latency decay).
	Now time.Time
}

// Strategy picks one available member. Pick returns an index into
// c.Members, or -1 when none is available. It never blocks and does no I/O.
type Strategy interface {
	Pick(c *Choice) int
}

// binder is implemented by strategies that prepare for their pool's
// members: NewPool calls bind once, with the members in the order every
// Choice.Members will have, before any Pick.
type binder interface{ bind([]Member) }

// NeedsTicket is implemented by strategies that read Choice.Ticket, so the
// pool only advances the rotation counter when it is used.
type NeedsTicket interface{ needsTicket() }

// NeedsActive is implemented by strategies that read Choice.Active.
type NeedsActive interface{ needsActive() }

// Observer is implemented by strategies that learn from outcomes: the
// setup time of an answered attempt, or a failure.
type Observer interface {
	Observe(member string, setup time.Duration, failed bool, now time.Time)
}

// New returns a new instance of the strategy for kind. Strategies with
// state (weighted round robin) keep it per instance, that is per pool;
// NewPool binds them to its members.
// lat may be nil except for lowest_latency, whose measurements outlive
// configuration reloads.
func New(kind Kind, lat *Latency) (Strategy, error) {
	switch kind {
	case RoundRobin:
		return roundRobin{}, nil
	case WeightedRoundRobin:
		return &weightedRoundRobin{}, nil
	case Priority:
		return priority{}, nil
	case Percentage:
		return percentage{}, nil
	case Random:
		return random{}, nil
	case LeastConnections:
		return leastConnections{}, nil
	case ConsistentHash:
		return &consistentHash{}, nil
	case LowestLatency:
		if lat == nil {
			lat = NewLatency(LatencyOptions{})
		}
		return &lowestLatency{lat: lat}, nil
	}
	return nil, fmt.Errorf("routing: unknown strategy %q", kind)
}

// anyPriority makes weightedPick consider every priority.
const anyPriority = -1

// weightedPick picks among available members with weight > 0 (of one
// priority unless prio is anyPriority), proportionally to weight.
func weightedPick(c *Choice, prio int) int {
	total := 0
	for i, m := range c.Members {
		if c.Available[i] && m.Weight > 0 && (prio == anyPriority || m.Priority == prio) {
			total += m.Weight
		}
	}
	if total == 0 {
		return -1
	}
	r := int(c.Rand() % uint64(total))
	for i, m := range c.Members {
		if !c.Available[i] || m.Weight <= 0 || (prio != anyPriority && m.Priority != prio) {
			continue
		}
		if r < m.Weight {
			return i
		}
		r -= m.Weight
	}
	return -1
}
