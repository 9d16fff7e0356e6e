package routing

// roundRobin rotates over the available members in position order. The
// ticket-th available member is taken, so a member that is skipped does
// not hand its turns to its neighbour, and instances sharing one counter
// (Redis INCR) produce one rotation. A call whose member failed goes to
// the next available member after it, without taking a turn.
type roundRobin struct{}

var _ Strategy = roundRobin{}
var _ NeedsTicket = roundRobin{}

func (roundRobin) needsTicket() {}

func (roundRobin) Pick(c *Choice) int {
	if c.After >= 0 && c.After < len(c.Members) {
		for k := 1; k <= len(c.Members); k++ {
			if i := (c.After + k) % len(c.Members); c.Available[i] {
				return i
			}
		}
		return -1
	}
	n := 0
	for _, ok := range c.Available {
		if ok {
			n++
		}
	}
	if n == 0 {
		return -1
	}
	k := int(c.Ticket % uint64(n))
	for i, ok := range c.Available {
		if !ok {
			continue
		}
		if k == 0 {
			return i
		}
		k--
	}
	return -1
}
