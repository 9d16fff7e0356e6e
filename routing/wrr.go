package routing

import "sync"

// weightedRoundRobin is nginx's smooth weighted round robin: every pick
// adds each available member's weight to its running score, takes the
// highest, and subtracts the total from the winner. Over each cycle of
// sum(weights) picks every member gets exactly its weight, interleaved
// (5,1,1 gives a a b a c a a, not a a a a a b c).
// A strategy instance belongs to one pool, whose members never change, so
// the running scores are indexed like c.Members.
type weightedRoundRobin struct {
	mu      sync.Mutex
	current []int
}

var (
	_ Strategy = (*weightedRoundRobin)(nil)
	_ binder   = (*weightedRoundRobin)(nil)
)

func (w *weightedRoundRobin) bind(ms []Member) { w.current = make([]int, len(ms)) }

func (w *weightedRoundRobin) Pick(c *Choice) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	best, total := -1, 0
	for i, m := range c.Members {
		if !c.Available[i] || m.Weight <= 0 {
			continue
		}
		w.current[i] += m.Weight
		total += m.Weight
		if best < 0 || w.current[i] > w.current[best] {
			best = i
		}
	}
	if best >= 0 {
		w.current[best] -= total
	}
	return best
}
