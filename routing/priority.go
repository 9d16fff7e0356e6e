package routing

// priority takes the lowest priority number that has an available member
// and balances by weight inside that group. The next group is used only
// when the group above has nobody available. Weight 0 means never.
type priority struct{}

var _ Strategy = priority{}

func (priority) Pick(c *Choice) int {
	best := -1
	for i, m := range c.Members {
		if c.Available[i] && m.Weight > 0 && (best < 0 || m.Priority < c.Members[best].Priority) {
			best = i
		}
	}
	if best < 0 {
		return -1
	}
	return weightedPick(c, c.Members[best].Priority)
}
