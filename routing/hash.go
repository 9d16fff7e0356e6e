package routing

import (
	"math"

	"github.com/cespare/xxhash/v2"
)

// consistentHash is weighted rendezvous hashing of the call's key: each
// available member scores -weight/ln(h(member, key)) and the highest
// wins. The same key reaches the same member, and a member going away
// moves only the keys it had. Calls without a key are spread at random.
type consistentHash struct {
	members  []uint64 // hash of each member's name, indexed like Choice.Members
	weighted bool     // weights differ; with equal ones the highest hash wins
}

var (
	_ Strategy = (*consistentHash)(nil)
	_ binder   = (*consistentHash)(nil)
)

func (s *consistentHash) bind(ms []Member) {
	s.members = make([]uint64, len(ms))
	first := 0
	for i, m := range ms {
		s.members[i] = xxhash.Sum64String(m.Name)
		switch {
		case m.Weight <= 0:
		case first == 0:
			first = m.Weight
		case m.Weight != first:
			s.weighted = true
		}
	}
}

func (s *consistentHash) Pick(c *Choice) int {
	if c.Key == "" {
		return random{}.Pick(c)
	}
	key := xxhash.Sum64String(c.Key)
	weighted := s.weighted
	best := -1
	var bestScore float64
	var bestHash uint64
	for i, m := range c.Members {
		if !c.Available[i] || m.Weight <= 0 {
			continue
		}
		h := mix(s.members[i] ^ key)
		if !weighted {
			// Equal weights: the highest hash wins, as the highest score
			// would, with no logarithm.
			if best < 0 || h > bestHash {
				best, bestHash = i, h
			}
			continue
		}
		// A uniform value in (0,1) from the top 53 bits, never 0.
		u := (float64(h>>11) + 0.5) / (1 << 53)
		if s := -float64(m.Weight) / math.Log(u); best < 0 || s > bestScore {
			best, bestScore = i, s
		}
	}
	return best
}

// mix is splitmix64's finaliser: it spreads the pair of hashes so that
// every member's scores are independent across keys.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
