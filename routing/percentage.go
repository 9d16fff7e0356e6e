package routing

// percentage is weighted random: a member's share is its weight over the
// sum of the available members' weights (they need not add up to 100).
// Weight 0 means never.
type percentage struct{}

var _ Strategy = percentage{}

func (percentage) Pick(c *Choice) int { return weightedPick(c, anyPriority) }
