package routing

// uncappedRoom is the capacity assumed for a member without max_calls
// when comparing spare capacity.
const uncappedRoom = 1000

// leastConnections picks the member with the most spare capacity: the
// lowest active/max_calls. Ties are broken at random so that idle members
// share the first calls.
type leastConnections struct{}

var (
	_ Strategy    = leastConnections{}
	_ NeedsActive = leastConnections{}
)

func (leastConnections) needsActive() {}

func (leastConnections) Pick(c *Choice) int {
	best, ties := -1, 0
	var bestLoad float64
	for i, m := range c.Members {
		if !c.Available[i] {
			continue
		}
		room := m.MaxCalls
		if room <= 0 {
			room = uncappedRoom
		}
		load := float64(c.Active[i]) / float64(room)
		switch {
		case best < 0 || load < bestLoad:
			best, bestLoad, ties = i, load, 1
		case load == bestLoad:
			// Reservoir sampling keeps each tied member equally likely.
			ties++
			if c.Rand()%uint64(ties) == 0 {
				best = i
			}
		}
	}
	return best
}
