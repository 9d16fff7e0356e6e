package routing

import (
	"math"

	"github.com/cespare/xxhash/v2"
)

// consistentHash is weighted rendezvous hashing of the call's key: each
// available member scores -weight/ln(h(member, key)) and the highest
// wins. The same key reaches the same member, and a member going away
// moves only the keys it had. Calls without a key are spread at random.
type consistentHash struct{}

var _ Strategy = consistentHash{}

func (consistentHash) Pick(c *Choice) int {
	if c.Key == "" {
		return random{}.Pick(c)
	}
	best := -1
	var bestScore float64
	for i, m := range c.Members {
		if !c.Available[i] || m.Weight <= 0 {
			continue
		}
		s := rendezvous(m.Name, c.Key, m.Weight)
		if best < 0 || s > bestScore {
			best, bestScore = i, s
		}
	}
	return best
}

func rendezvous(member, key string, weight int) float64 {
	var d xxhash.Digest
	d.Reset()
	_, _ = d.WriteString(member)
	_, _ = d.WriteString("\x00")
	_, _ = d.WriteString(key)
	// A uniform value in (0,1): the top 53 bits, never 0.
	u := (float64(d.Sum64()>>11) + 0.5) / (1 << 53)
	return -float64(weight) / math.Log(u)
}
