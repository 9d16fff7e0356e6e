package routing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"
)

func members(spec ...string) []Member {
	// spec: "name:prio:weight:pos"
	var ms []Member
	for i, s := range spec {
		var m Member
		m.Active = true
		var name string
		parts := strings.Split(s, ":")
		name = parts[0]
		m.Name = name
		m.Weight = 1
		m.Position = i + 1
		if len(parts) > 1 {
			fmt.Sscan(parts[1], &m.Priority)
		}
		if len(parts) > 2 {
			fmt.Sscan(parts[2], &m.Weight)
		}
		if len(parts) > 3 {
			fmt.Sscan(parts[3], &m.Position)
		}
		ms = append(ms, m)
	}
	return ms
}

func pool(t testing.TB, kind Kind, ms []Member, opts ...func(*PoolConfig)) *Pool {
	t.Helper()
	c := PoolConfig{Name: "p", Strategy: kind, FollowThrough: true, Members: ms, Store: NewMemory(),
		Rand: rand.New(rand.NewPCG(1, 2)).Uint64}
	for _, o := range opts {
		o(&c)
	}
	p, err := NewPool(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pickSeq picks n times, releasing each lease, and returns the names.
func pickSeq(t *testing.T, p *Pool, n int, tried *Tried) string {
	t.Helper()
	var out []string
	for range n {
		l, err := p.Pick(context.Background(), "call", tried)
		if err != nil {
			out = append(out, "-")
			continue
		}
		out = append(out, l.Member.Name)
		l.Release()
	}
	return strings.Join(out, ",")
}

func TestRoundRobinExactSequence(t *testing.T) {
	tests := []struct {
		name  string
		give  []Member
		tried []string
		want  string
	}{
		{"rotation by position not list order", members("a:0:1:3", "b:0:1:1", "c:0:1:2"), nil, "b,c,a,b,c,a"},
		{"inactive skipped without doubling its neighbour", func() []Member {
			ms := members("a", "b", "c", "d")
			ms[1].Active = false
			return ms
		}(), nil, "a,c,d,a,c,d"},
		{"after a failure, the next member in position order", members("a", "b", "c", "d"), []string{"b"}, "c,c,c"},
		{"the next after the last tried, wrapping", members("a", "b", "c", "d"), []string{"b", "d"}, "a,a"},
		{"nobody left", members("a", "b"), []string{"a", "b"}, "-,-,-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tried Tried
			for _, n := range tt.tried {
				tried.Add(n)
			}
			n := strings.Count(tt.want, ",") + 1
			if got := pickSeq(t, pool(t, RoundRobin, tt.give), n, &tried); got != tt.want {
				t.Fatalf("got %s want %s", got, tt.want)
			}
		})
	}
}

// Two pools sharing one store counter behave like two instances sharing a
// Redis counter: together they produce one rotation.
func TestRoundRobinSharedCounterIsOneRotation(t *testing.T) {
	st := NewMemory()
	withStore := func(c *PoolConfig) { c.Store = st }
	p1 := pool(t, RoundRobin, members("a", "b", "c"), withStore)
	p2 := pool(t, RoundRobin, members("a", "b", "c"), withStore)
	var got []string
	for i := range 6 {
		p := p1
		if i%2 == 1 {
			p = p2
		}
		l, err := p.Pick(context.Background(), "c", nil)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l.Member.Name)
		l.Release()
	}
	if s := strings.Join(got, ","); s != "a,b,c,a,b,c" {
		t.Fatalf("got %s", s)
	}
}

func TestPriorityOrderAndFailover(t *testing.T) {
	ms := members("low:2", "high:1", "high2:1:0", "last:3")
	p := pool(t, Priority, ms)
	// high2 has weight 0: never; high is the only pick of group 1.
	if got := pickSeq(t, p, 4, nil); got != "high,high,high,high" {
		t.Fatalf("got %s", got)
	}
	var tried Tried
	for _, want := range []string{"high", "low", "last", "-"} {
		l, err := p.Pick(context.Background(), "c", &tried)
		got := "-"
		if err == nil {
			got = l.Member.Name
			tried.Add(got)
			l.Release()
		}
		if got != want {
			t.Fatalf("next on failure: got %s want %s (tried %v)", got, want, tried.Names())
		}
	}
}

func TestPriorityGroupBalancedByWeight(t *testing.T) {
	p := pool(t, Priority, members("a:1:3", "b:1:1", "c:2:100"))
	counts := distribution(t, p, 40000)
	if counts["c"] != 0 {
		t.Fatalf("lower group used while the top group was available: %v", counts)
	}
	assertShare(t, counts, "a", 0.75, 40000)
}

func TestPercentageDistribution(t *testing.T) {
	tests := []struct {
		name string
		give []Member
		want map[string]float64
	}{
		{"weights need not sum to 100", members("a:0:30", "b:0:10", "c:0:10"), map[string]float64{"a": 0.6, "b": 0.2, "c": 0.2}},
		{"zero means never", members("a:0:50", "b:0:0", "c:0:50"), map[string]float64{"a": 0.5, "b": 0, "c": 0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 60000
			counts := distribution(t, pool(t, Percentage, tt.give), n)
			for name, share := range tt.want {
				if share == 0 {
					if counts[name] != 0 {
						t.Fatalf("%s picked %d times with weight 0", name, counts[name])
					}
					continue
				}
				assertShare(t, counts, name, share, n)
			}
		})
	}
}

func distribution(t *testing.T, p *Pool, n int) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for range n {
		l, err := p.Pick(context.Background(), "c", nil)
		if err != nil {
			t.Fatal(err)
		}
		counts[l.Member.Name]++
		l.Release()
	}
	return counts
}

// assertShare allows 5 standard deviations of binomial noise.
func assertShare(t *testing.T, counts map[string]int, name string, share float64, n int) {
	t.Helper()
	sd := math.Sqrt(float64(n) * share * (1 - share))
	if got := float64(counts[name]); math.Abs(got-share*float64(n)) > 5*sd {
		t.Fatalf("%s got %.0f of %d, want %.0f±%.0f (%v)", name, got, n, share*float64(n), 5*sd, counts)
	}
}

func TestMaxCallsAndLeaseReleasedOnce(t *testing.T) {
	ms := members("a", "b")
	ms[0].MaxCalls = 2
	ms[1].MaxCalls = 1
	p := pool(t, RoundRobin, ms)
	var leases []*Lease
	for range 3 {
		l, err := p.Pick(context.Background(), "c", nil)
		if err != nil {
			t.Fatal(err)
		}
		leases = append(leases, l)
	}
	if _, err := p.Pick(context.Background(), "c", nil); err != ErrNoneAvailable {
		t.Fatalf("4th call with 3 slots: %v", err)
	}
	leases[0].Release()
	leases[0].Release() // a second release must not free another slot
	l, err := p.Pick(context.Background(), "c", nil)
	if err != nil || l.Member.Name != leases[0].Member.Name {
		t.Fatalf("freed slot not reused: %v %v", l, err)
	}
	if _, err := p.Pick(context.Background(), "c", nil); err != ErrNoneAvailable {
		t.Fatalf("double release freed a slot: %v", err)
	}
}

func TestMaxCallsUnderContention(t *testing.T) {
	ms := members("a")
	ms[0].MaxCalls = 10
	p := pool(t, RoundRobin, ms, func(c *PoolConfig) { c.Rand = rand.Uint64 })
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Pick(context.Background(), "c", nil); err == nil {
				mu.Lock()
				got++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if got != 10 {
		t.Fatalf("%d calls admitted with max_calls 10", got)
	}
}

// fakeGate is a breaker stand-in: closed members, open members, and
// members whose half-open slot is taken.
type fakeGate struct {
	open, full map[string]bool
	reports    map[string][]string
}

func (g *fakeGate) Ready(m string) bool { return !g.open[m] }
func (g *fakeGate) Admit(m string) (func(error), bool) {
	if g.full[m] {
		return nil, false
	}
	return func(err error) {
		r := "success"
		if e, ok := err.(interface{ Excluded() bool }); ok && e.Excluded() {
			r = "excluded"
		} else if err != nil {
			r = "failure"
		}
		g.reports[m] = append(g.reports[m], r)
	}, true
}

func TestGateSkipsAndGetsOneReport(t *testing.T) {
	g := &fakeGate{open: map[string]bool{"a": true}, full: map[string]bool{"c": true}, reports: map[string][]string{}}
	var skipped []string
	p := pool(t, RoundRobin, members("a", "b", "c"), func(c *PoolConfig) {
		c.Gate = g
		c.OnSkip = func(_, m string) { skipped = append(skipped, m) }
	})
	l, err := p.Pick(context.Background(), "call", nil)
	if err != nil || l.Member.Name != "b" {
		t.Fatalf("pick %v %v", l, err)
	}
	if strings.Join(skipped, ",") != "a" {
		t.Fatalf("skipped %v", skipped)
	}
	l.Report(errors.New("busy"))
	l.Report(nil) // second report ignored
	l.Release()
	l2, _ := p.Pick(context.Background(), "call", nil)
	l2.Release() // never reported: excluded
	if got := strings.Join(g.reports["b"], ","); got != "failure,excluded" {
		t.Fatalf("reports %q", got)
	}
	// c's half-open slot is taken: skipped at admission, counted.
	g.open["b"] = true
	skipped = nil
	if _, err := p.Pick(context.Background(), "call", nil); err != ErrNoneAvailable {
		t.Fatalf("err %v", err)
	}
	if strings.Join(skipped, ",") != "a,b,c" {
		t.Fatalf("skipped %v", skipped)
	}
}

func TestRouteTable(t *testing.T) {
	tbl := Table{
		Rules: []Rule{
			{Name: "vip", Variables: map[string]string{"ailb_campaign": "vip"}, Target: Target{Kind: ToAssistant, Name: "bot"}},
			{Name: "sales", Destination: regexp.MustCompile(`^1\d{3}$`), Context: "public", Target: Target{Kind: ToPool, Name: "sales"}},
			{Name: "blocked", Caller: regexp.MustCompile(`^anonymous$`), Target: Target{Kind: ToHangup, Cause: "CALL_REJECTED"}},
		},
		Default: Rule{Name: "default", Target: Target{Kind: ToPool, Name: "main"}},
	}
	vars := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		give Facts
		want string
	}{
		{Facts{Destination: "1000", Context: "public", Var: vars(nil)}, "sales"},
		{Facts{Destination: "1000", Context: "default", Var: vars(nil)}, "default"},
		{Facts{Destination: "10000", Context: "public", Var: vars(nil)}, "default"},
		{Facts{Destination: "1000", Context: "public", Var: vars(map[string]string{"ailb_campaign": "vip"})}, "vip"},
		{Facts{Caller: "anonymous", Var: vars(nil)}, "blocked"},
		{Facts{Caller: "anonymous2", Var: vars(nil)}, "default"},
	}
	for _, tt := range tests {
		if got := tbl.Match(tt.give).Name; got != tt.want {
			t.Errorf("%+v: got %s want %s", tt.give, got, tt.want)
		}
	}
}

func BenchmarkPick(b *testing.B) {
	for _, kind := range Kinds {
		for _, n := range []int{3, 30, 300} {
			b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
				spec := make([]string, n)
				for i := range spec {
					spec[i] = fmt.Sprintf("m%d:%d:%d", i, i%3, 1+i%5)
				}
				p := pool(b, kind, members(spec...), func(c *PoolConfig) {
					c.HashKey = func(HashFacts) string { return "+15551234567" }
				})
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					l, err := p.Pick(ctx, "c", nil)
					if err != nil {
						b.Fatal(err)
					}
					l.Release()
				}
			})
		}
	}
}
