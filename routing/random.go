package routing

// random picks uniformly among the available members, whatever their
// weights.
type random struct{}

var _ Strategy = random{}

func (random) Pick(c *Choice) int {
	n := 0
	for _, ok := range c.Available {
		if ok {
			n++
		}
	}
	if n == 0 {
		return -1
	}
	k := int(c.Rand() % uint64(n))
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
