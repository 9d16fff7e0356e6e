package routing

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func choice(ms []Member, avail ...bool) *Choice {
	if len(avail) == 0 {
		avail = make([]bool, len(ms))
		for i := range avail {
			avail[i] = true
		}
	}
	return &Choice{Members: ms, Available: avail, Rand: rand.New(rand.NewPCG(3, 4)).Uint64, Active: make([]int, len(ms)), Now: time.Unix(1000, 0)}
}

// strategy is kind's strategy bound to ms, as NewPool makes it.
func strategy(t testing.TB, kind Kind, ms []Member) Strategy {
	t.Helper()
	s, err := New(kind, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := s.(binder); ok {
		b.bind(ms)
	}
	return s
}

func seq(s Strategy, c *Choice, n int) string {
	var out []string
	for range n {
		i := s.Pick(c)
		if i < 0 {
			out = append(out, "-")
			continue
		}
		out = append(out, c.Members[i].Name)
	}
	return strings.Join(out, ",")
}

func TestWeightedRoundRobinSmooth(t *testing.T) {
	tests := []struct {
		name  string
		give  []Member
		avail []bool
		want  string
	}{
		{"nginx example 5,1,1", members("a:0:5", "b:0:1", "c:0:1"), nil, "a,a,b,a,c,a,a,a,a,b,a,c,a,a"},
		{"equal weights rotate", members("a:0:2", "b:0:2"), nil, "a,b,a,b"},
		{"unavailable skipped", members("a:0:3", "b:0:1", "c:0:1"), []bool{true, false, true}, "a,a,c,a,a,a,c,a"},
		{"weight 0 never", members("a:0:1", "b:0:0"), nil, "a,a,a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := strategy(t, WeightedRoundRobin, tt.give)
			if got := seq(s, choice(tt.give, tt.avail...), strings.Count(tt.want, ",")+1); got != tt.want {
				t.Fatalf("got %s want %s", got, tt.want)
			}
		})
	}
}

// Every cycle of sum(weights) picks holds each member exactly weight times.
func TestWeightedRoundRobinExactPerCycle(t *testing.T) {
	ms := members("a:0:7", "b:0:3", "c:0:2", "d:0:1")
	s := strategy(t, WeightedRoundRobin, ms)
	c := choice(ms)
	for cycle := range 50 {
		counts := map[string]int{}
		for range 13 {
			counts[ms[s.Pick(c)].Name]++
		}
		if counts["a"] != 7 || counts["b"] != 3 || counts["c"] != 2 || counts["d"] != 1 {
			t.Fatalf("cycle %d: %v", cycle, counts)
		}
	}
}

func TestRandomIsUniform(t *testing.T) {
	p := pool(t, Random, members("a:0:90", "b:0:5", "c:0:5"))
	counts := distribution(t, p, 30000)
	for _, m := range []string{"a", "b", "c"} {
		assertShare(t, counts, m, 1.0/3, 30000)
	}
}

func TestLeastConnections(t *testing.T) {
	ms := members("a", "b", "c")
	ms[0].MaxCalls, ms[1].MaxCalls, ms[2].MaxCalls = 10, 4, 0
	tests := []struct {
		name   string
		active []int
		want   string
	}{
		{"most spare capacity", []int{5, 1, 0}, "c"},     // 0.5, 0.25, 0/1000
		{"relative to max_calls", []int{5, 3, 900}, "a"}, // 0.5, 0.75, 0.9
		{"uncapped treated as 1000 slots", []int{9, 4, 999}, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := choice(ms)
			copy(c.Active, tt.active)
			if got := ms[leastConnections{}.Pick(c)].Name; got != tt.want {
				t.Fatalf("got %s want %s", got, tt.want)
			}
		})
	}
	// Ties go to each tied member equally.
	c := choice(members("a", "b", "c"))
	counts := map[string]int{}
	for range 30000 {
		counts[c.Members[leastConnections{}.Pick(c)].Name]++
	}
	for _, m := range []string{"a", "b", "c"} {
		assertShare(t, counts, m, 1.0/3, 30000)
	}
}

// Through a pool: active calls are counted from the pick until release.
func TestLeastConnectionsCountsLeases(t *testing.T) {
	p := pool(t, LeastConnections, members("a", "b"))
	l1, _ := p.Pick(context.Background(), "c1", nil)
	l2, _ := p.Pick(context.Background(), "c2", nil)
	if l1.Member.Name == l2.Member.Name {
		t.Fatalf("second call went to the busy member %s", l1.Member.Name)
	}
	l1.Release()
	l3, _ := p.Pick(context.Background(), "c3", nil)
	if l3.Member.Name != l1.Member.Name {
		t.Fatalf("freed member not preferred: %s", l3.Member.Name)
	}
}

func TestConsistentHash(t *testing.T) {
	ms := members("a", "b", "c", "d", "e")
	c := choice(ms)
	ch := strategy(t, ConsistentHash, ms)
	owner := map[string]string{}
	for k := range 5000 {
		c.Key = fmt.Sprintf("+1555%07d", k)
		first := ch.Pick(c)
		for range 3 {
			if ch.Pick(c) != first {
				t.Fatal("same key, different member")
			}
		}
		owner[c.Key] = ms[first].Name
	}
	counts := map[string]int{}
	for _, m := range owner {
		counts[m]++
	}
	for _, m := range []string{"a", "b", "c", "d", "e"} {
		assertShare(t, counts, m, 0.2, 5000)
	}
	// c goes inactive: only c's keys move.
	c.Available[2] = false
	moved := 0
	for k, was := range owner {
		c.Key = k
		now := ms[ch.Pick(c)].Name
		switch {
		case was == "c" && now == "c":
			t.Fatal("key still on the inactive member")
		case was != "c" && now != was:
			t.Fatalf("key %s moved from %s to %s though its member stayed", k, was, now)
		case was == "c":
			moved++
		}
	}
	if moved != counts["c"] {
		t.Fatalf("moved %d keys, c had %d", moved, counts["c"])
	}
}

func TestConsistentHashWeighted(t *testing.T) {
	c := choice(members("a:0:3", "b:0:1"))
	ch := strategy(t, ConsistentHash, c.Members)
	counts := map[string]int{}
	for k := range 20000 {
		c.Key = fmt.Sprint("cust-", k)
		counts[c.Members[ch.Pick(c)].Name]++
	}
	assertShare(t, counts, "a", 0.75, 20000)
}

// A pool with unequal weights whose available members weigh the same
// picks as a pool of equal weights: the score and the hash agree.
func TestConsistentHashEqualWeightsAmongAvailable(t *testing.T) {
	mixed, equal := members("a:0:2", "b:0:2", "c:0:1"), members("a:0:2", "b:0:2", "c:0:2")
	cm, ce := choice(mixed, true, true, false), choice(equal, true, true, false)
	sm, se := strategy(t, ConsistentHash, mixed), strategy(t, ConsistentHash, equal)
	for k := range 5000 {
		cm.Key = fmt.Sprint("cust-", k)
		ce.Key = cm.Key
		if a, b := sm.Pick(cm), se.Pick(ce); a != b {
			t.Fatalf("key %s: %d with the weight-1 member away, %d with equal weights", cm.Key, a, b)
		}
	}
}

func TestLowestLatency(t *testing.T) {
	now := time.Unix(1000, 0)
	lat := NewLatency(LatencyOptions{Decay: 10 * time.Second, Penalty: 5 * time.Second})
	s, _ := New(LowestLatency, lat)
	ms := members("fast", "slow", "new")
	c := choice(ms)
	c.Now = now
	lat.Observe("fast", 100*time.Millisecond, false, now)
	lat.Observe("slow", 300*time.Millisecond, false, now)
	if got := ms[s.Pick(c)].Name; got != "new" {
		t.Fatalf("an unmeasured member must be tried first, got %s", got)
	}
	c.Available[2] = false
	if got := ms[s.Pick(c)].Name; got != "fast" {
		t.Fatalf("got %s", got)
	}
	c.Active[0] = 3 // 0.1*4 = 0.4 > 0.3*1
	if got := ms[s.Pick(c)].Name; got != "slow" {
		t.Fatalf("in-flight calls not weighed: %s", got)
	}
	// A peak counts at once; a failure counts as the penalty.
	lat.Observe("fast", 2*time.Second, false, now)
	if got := lat.Cost("fast", now); got != 2 {
		t.Fatalf("peak not taken: %v", got)
	}
	lat.Observe("slow", 0, true, now)
	if got := lat.Cost("slow", now); got != 5 {
		t.Fatalf("failure penalty: %v", got)
	}
	// Without samples the cost decays, so the member gets tried again.
	later := now.Add(60 * time.Second)
	if got := lat.Cost("slow", later); got > 0.02 {
		t.Fatalf("no decay: %v", got)
	}
	c.Now, c.Active[0] = later, 0
	lat.Observe("fast", 200*time.Millisecond, false, later)
	if got := ms[s.Pick(c)].Name; got != "slow" {
		t.Fatalf("a member without recent samples should be tried again, got %s", got)
	}
}

func TestStrategiesReturnNoneWhenNothingAvailable(t *testing.T) {
	for _, k := range Kinds {
		c := choice(members("a", "b"), false, false)
		s := strategy(t, k, c.Members)
		c.Key = "x"
		if i := s.Pick(c); i != -1 {
			t.Errorf("%s picked %d with nobody available", k, i)
		}
	}
	if _, err := New("fastest", nil); err == nil {
		t.Fatal("unknown strategy accepted")
	}
}
