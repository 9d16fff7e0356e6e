package routing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ailb/internal/redistest"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// redisNoLeaks checks for leaked goroutines once the test's other
// cleanups (clients closed, Run stopped, redis-server killed) are done;
// call it first.
func redisNoLeaks(t testing.TB) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// redisClient is a client as ailb should build it: context deadlines on.
func redisClient(t testing.TB, addr string, hooks ...redis.Hook) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	for _, h := range hooks {
		c.AddHook(h)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// redisStore is one ailb instance's store on its own client.
func redisStore(t testing.TB, addr, instance string, o RedisOptions, hooks ...redis.Hook) *Redis {
	t.Helper()
	o.Instance = instance
	return NewRedis(redisClient(t, addr, hooks...), o)
}

// runRedis runs r.Run until the returned stop (or the test's end).
func runRedis(t testing.TB, r *Redis) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	stop = sync.OnceFunc(func() {
		cancel()
		<-done
	})
	t.Cleanup(stop)
	return stop
}

func redisMembers(names ...string) []Member {
	ms := make([]Member, len(names))
	for i, n := range names {
		ms[i] = Member{Name: n, Weight: 1, Position: i + 1, Active: true}
	}
	return ms
}

func redisPool(t testing.TB, name string, kind Kind, st Store, ms []Member) *Pool {
	t.Helper()
	p, err := NewPool(PoolConfig{Name: name, Strategy: kind, FollowThrough: true, Members: ms, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// tripCounter counts round trips: commands and pipelines sent.
type tripCounter struct{ n atomic.Int64 }

func (h *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

func TestRedisKeys(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{"", "{ailb}:rr:sales"},
		{"ailb:", "{ailb}:rr:sales"},
		{"prod:ailb:", "{prod:ailb}:rr:sales"},
		{"x", "{x}:rr:sales"},
		{":", "{ailb}:rr:sales"},
	}
	c := redis.NewClient(&redis.Options{ContextTimeoutEnabled: true})
	defer c.Close()
	for _, tt := range tests {
		r := NewRedis(c, RedisOptions{Prefix: tt.give})
		if got := r.tag + "rr:sales"; got != tt.want {
			t.Errorf("prefix %q: got %s want %s", tt.give, got, tt.want)
		}
	}
}

// A client that would let a slow Redis hold calls past Timeout is called out.
func TestRedisWarnsAboutClientWithoutDeadlines(t *testing.T) {
	tests := []struct {
		give bool // ContextTimeoutEnabled
		want int  // warnings
	}{
		{true, 0},
		{false, 1},
	}
	for _, tt := range tests {
		core, logs := observer.New(zap.WarnLevel)
		c := redis.NewClient(&redis.Options{ContextTimeoutEnabled: tt.give})
		NewRedis(c, RedisOptions{Log: zap.New(core)})
		_ = c.Close()
		if logs.Len() != tt.want {
			t.Errorf("ContextTimeoutEnabled %v: %d warnings, want %d", tt.give, logs.Len(), tt.want)
		}
	}
}

// Two instances taking turns on one pool make one rotation.
func TestRedisSharedRotation(t *testing.T) {
	redisNoLeaks(t)
	srv := redistest.Start(t)
	tests := []struct {
		name  string
		give  func() []Member
		other map[string]int // calls held on another instance
		want  string
	}{
		{"one rotation", func() []Member { return redisMembers("a", "b", "c") }, nil, "a,b,c,a,b,c"},
		{"inactive skipped", func() []Member {
			ms := redisMembers("a", "b", "c")
			ms[1].Active = false
			return ms
		}, nil, "a,c,a,c,a,c"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := RedisOptions{Prefix: fmt.Sprintf("rot%d:", i)}
			a, b, c := redisStore(t, srv.Addr, "A", o), redisStore(t, srv.Addr, "B", o), redisStore(t, srv.Addr, "C", o)
			for m, n := range tt.other {
				for j := range n {
					if !c.Acquire(context.Background(), m, fmt.Sprint("held", j), 0) {
						t.Fatal("setup acquire refused")
					}
				}
			}
			pools := []*Pool{redisPool(t, "p", RoundRobin, a, tt.give()), redisPool(t, "p", RoundRobin, b, tt.give())}
			var got []string
			for j := range 6 {
				l, err := pools[j%2].Pick(context.Background(), fmt.Sprint("call", j), nil)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, l.Member.Name)
				l.Release()
			}
			if s := strings.Join(got, ","); s != tt.want {
				t.Fatalf("got %s want %s", s, tt.want)
			}
			if !a.Healthy() || !b.Healthy() {
				t.Fatal("answered from local state")
			}
		})
	}
}

// Round robin decided in Redis: a member at max_calls on any instance
// passes its turn to the next in rotation order; after a failed attempt
// the call goes to the next member without taking a ticket.
func TestRedisRoundRobinInRedis(t *testing.T) {
	redisNoLeaks(t)
	srv := redistest.Start(t)
	ctx := context.Background()
	tests := []struct {
		name      string
		limits    []int
		held      []int // on another instance
		available []bool
		after     []int // per pick; -1: a new call
		want      string
	}{
		{"rotation", []int{0, 0, 0}, []int{0, 0, 0}, []bool{true, true, true},
			[]int{-1, -1, -1, -1}, "a,b,c,a"},
		{"full member passes its turn on", []int{0, 1, 0}, []int{0, 1, 0}, []bool{true, true, true},
			[]int{-1, -1, -1, -1, -1, -1}, "a,c,c,a,c,c"},
		{"failover takes no ticket", []int{0, 0, 0}, []int{0, 0, 0}, []bool{true, true, true},
			[]int{-1, 0, 1, -1, 2}, "a,b,c,b,a"},
		{"failover skips unavailable and full", []int{0, 1, 0, 0}, []int{0, 1, 0, 0}, []bool{true, true, false, true},
			[]int{0, 3, -1}, "d,a,a"},
		{"nobody free", []int{1, 1, 0}, []int{1, 1, 0}, []bool{true, true, false},
			[]int{-1, 0}, "-,-"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := RedisOptions{Prefix: fmt.Sprintf("rrr%d:", i)}
			r, other := redisStore(t, srv.Addr, "A", o), redisStore(t, srv.Addr, "B", o)
			names := []string{"a", "b", "c", "d"}[:len(tt.limits)]
			for j, n := range tt.held {
				for k := range n {
					other.Acquire(ctx, names[j], fmt.Sprint("held", k), 0)
				}
			}
			var got []string
			for k, after := range tt.after {
				q := PickRequest{Pool: "p", Kind: RoundRobin, Members: names, Limits: tt.limits,
					Available: tt.available, CallID: fmt.Sprint("call", k), After: after}
				j, handled := r.PickAcquire(ctx, q)
				if !handled {
					t.Fatal("not handled")
				}
				if j < 0 {
					got = append(got, "-")
					continue
				}
				got = append(got, names[j])
				r.Release(ctx, names[j], q.CallID)
			}
			if s := strings.Join(got, ","); s != tt.want {
				t.Fatalf("got %s want %s", s, tt.want)
			}
		})
	}
}

// Through pools on two instances: a call that fails over moves to the next
// member and leaves the shared rotation alone.
func TestRedisFailoverKeepsRotation(t *testing.T) {
	redisNoLeaks(t)
	srv := redistest.Start(t)
	ctx := context.Background()
	pa := redisPool(t, "p", RoundRobin, redisStore(t, srv.Addr, "A", RedisOptions{}), redisMembers("a", "b", "c"))
	pb := redisPool(t, "p", RoundRobin, redisStore(t, srv.Addr, "B", RedisOptions{}), redisMembers("a", "b", "c"))
	var got []string
	pick := func(p *Pool, call string, tried *Tried) *Lease {
		l, err := p.Pick(ctx, call, tried)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l.Member.Name)
		return l
	}
	var tried Tried
	l := pick(pa, "x", &tried) // ticket 0
	tried.Add(l.Member.Name)
	l.Release()
	pick(pb, "y", nil).Release()    // ticket 1
	pick(pa, "x", &tried).Release() // after a: no ticket
	pick(pb, "z", nil).Release()    // ticket 2
	if s := strings.Join(got, ","); s != "a,b,b,c" {
		t.Fatalf("got %s want a,b,b,c", s)
	}
}

// Calls held on instance A steer instance B's least-connections picks.
func TestRedisLeastConnectionsAcrossInstances(t *testing.T) {
	redisNoLeaks(t)
	srv := redistest.Start(t)
	tests := []struct {
		name   string
		limits []int
		held   []int // on instance A
		want   string
	}{
		{"idle member", []int{0, 0, 0}, []int{2, 1, 0}, "c"},
		{"most spare capacity", []int{10, 4, 0}, []int{5, 1, 0}, "c"},          // .5 .25 0
		{"relative to max_calls", []int{10, 4, 2}, []int{5, 3, 2}, "a"},        // .5 .75 full
		{"uncapped counts as 1000 slots", []int{4, 0, 0}, []int{0, 1, 2}, "a"}, // 0 .001 .002
		{"everyone full", []int{1, 1, 1}, []int{1, 1, 1}, "-"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := RedisOptions{Prefix: fmt.Sprintf("lc%d:", i)}
			a, b := redisStore(t, srv.Addr, "A", o), redisStore(t, srv.Addr, "B", o)
			ms := redisMembers("a", "b", "c")
			for j := range ms {
				ms[j].MaxCalls = tt.limits[j]
				for k := range tt.held[j] {
					if !a.Acquire(context.Background(), ms[j].Name, fmt.Sprint("held", k), 0) {
						t.Fatal("setup acquire refused")
					}
				}
			}
			got := "-"
			l, err := redisPool(t, "p", LeastConnections, b, ms).Pick(context.Background(), "call", nil)
			switch {
			case err == nil:
				got = l.Member.Name
			case !errors.Is(err, ErrNoneAvailable):
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %s want %s", got, tt.want)
			}
		})
	}
}

// The shared picks match the local strategies: round robin exactly, least
// connections up to its random tie-break.
func TestRedisPickMatchesLocalStrategies(t *testing.T) {
	redisNoLeaks(t)
	srv := redistest.Start(t)
	ctx := context.Background()
	r := redisStore(t, srv.Addr, "A", RedisOptions{})
	other := redisStore(t, srv.Addr, "B", RedisOptions{})
	rnd := rand.New(rand.NewPCG(7, 8))
	for sc := range 150 {
		n := 1 + rnd.IntN(6)
		ms := make([]Member, n)
		q := PickRequest{Pool: fmt.Sprint("p", sc), CallID: "x", After: -1, Members: make([]string, n),
			Limits: make([]int, n), Available: make([]bool, n)}
		active := make([]int, n)
		capped := false
		for i := range ms {
			name := fmt.Sprintf("s%d-m%d", sc, i)
			ms[i] = Member{Name: name, Position: i + 1, Active: true, MaxCalls: rnd.IntN(4)}
			q.Members[i], q.Limits[i], q.Available[i] = name, ms[i].MaxCalls, rnd.IntN(5) > 0
			active[i] = rnd.IntN(4)
			if ms[i].MaxCalls > 0 {
				active[i] = min(active[i], ms[i].MaxCalls)
				capped = capped || (q.Available[i] && active[i] == ms[i].MaxCalls)
			}
			for k := range active[i] {
				other.Acquire(ctx, name, fmt.Sprint("held", k), 0)
			}
		}
		// Local view: available and under max_calls, as Pool computes it.
		avail := make([]bool, n)
		any := false
		for i := range ms {
			avail[i] = q.Available[i] && (ms[i].MaxCalls <= 0 || active[i] < ms[i].MaxCalls)
			any = any || avail[i]
		}

		q.Kind = LeastConnections
		want := map[int]bool{}
		c := &Choice{Members: ms, Available: avail, Active: active, Rand: rnd.Uint64}
		for range 64 {
			if i := (leastConnections{}).Pick(c); i >= 0 {
				want[i] = true
			}
		}
		for range 3 {
			q.Rand = rnd.Uint64()
			i, handled := r.PickAcquire(ctx, q)
			if !handled || (i < 0) != !any || (i >= 0 && !want[i]) {
				t.Fatalf("scenario %d lc: got %d handled %v, local picks %v", sc, i, handled, want)
			}
			if i >= 0 {
				r.Release(ctx, q.Members[i], q.CallID)
			}
		}

		if capped {
			continue // round robin skips full members itself; see TestRedisRoundRobinInRedis
		}
		q.Kind = RoundRobin
		for ticket := range uint64(2 * n) {
			// Each failover pick (After) in between takes no ticket.
			for after := -1; after < n; after++ {
				q.After = after
				if after >= 0 && rnd.IntN(2) == 0 {
					continue
				}
				c := &Choice{Members: ms, Available: avail, Ticket: ticket, After: after}
				want := (roundRobin{}).Pick(c)
				i, handled := r.PickAcquire(ctx, q)
				if !handled || i != want {
					t.Fatalf("scenario %d rr ticket %d after %d: got %d want %d (limits %v active %v avail %v)",
						sc, ticket, after, i, want, q.Limits, active, avail)
				}
				if i >= 0 {
					r.Release(ctx, q.Members[i], q.CallID)
				}
			}
		}
	}
}

// Ties among least-loaded members go to each of them alike.
func TestRedisLeastConnectionsTies(t *testing.T) {
	redisNoLeaks(t)
	srv := redistest.Start(t)
	r := redisStore(t, srv.Addr, "A", RedisOptions{})
	p := redisPool(t, "p", LeastConnections, r, redisMembers("a", "b", "c"))
	counts := map[string]int{}
	for i := range 600 {
		l, err := p.Pick(context.Background(), fmt.Sprint(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		counts[l.Member.Name]++
		l.Release()
	}
	for _, m := range []string{"a", "b", "c"} {
		if counts[m] < 140 || counts[m] > 260 {
			t.Fatalf("ties not shared evenly: %v", counts)
		}
	}
}

// One pick and its slot are one round trip; so is each other operation.
func TestRedisRoundTrips(t *testing.T) {
	redisNoLeaks(t)
	srv := redistest.Start(t)
	ctx := context.Background()
	trips := &tripCounter{}
	r := redisStore(t, srv.Addr, "A", RedisOptions{}, trips)
	names := make([]string, 30)
	for i := range names {
		names[i] = fmt.Sprint("m", i)
	}
	ms := redisMembers(names...)
	all := make([]bool, len(ms))
	limits := make([]int, len(ms))
	for i := range ms {
		ms[i].MaxCalls, limits[i], all[i] = 5, 5, true
	}
	pick := func(kind Kind) func() func() {
		return func() func() {
			i, _ := r.PickAcquire(ctx, PickRequest{Pool: "p", Kind: kind, Members: names,
				Limits: limits, Available: all, CallID: "c", After: -1})
			return func() { r.Release(ctx, names[i], "c") }
		}
	}
	poolPick := func(kind Kind) func() func() {
		p := redisPool(t, string(kind), kind, r, ms)
		return func() func() {
			l, err := p.Pick(ctx, "c", nil)
			if err != nil {
				t.Fatal(err)
			}
			return l.Release
		}
	}
	tests := []struct {
		name string
		give func() (undo func()) // undo is not counted
	}{
		{"Next", func() func() { r.Next(ctx, "p"); return func() {} }},
		{"Acquire", func() func() {
			r.Acquire(ctx, "m0", "c", 5)
			return func() { r.Release(ctx, "m0", "c") }
		}},
		{"Release", func() func() {
			r.Release(ctx, "m0", "c")
			return func() { r.Acquire(ctx, "m0", "c", 5) }
		}},
		{"PickAcquire round robin", pick(RoundRobin)},
		{"PickAcquire least connections", pick(LeastConnections)},
		{"Pool.Pick round robin", poolPick(RoundRobin)},
		{"Pool.Pick least connections", poolPick(LeastConnections)},
	}
	r.Acquire(ctx, "m0", "c", 5) // for Release
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.give()() // warm: connection made, script cached
			start := trips.n.Load()
			undo := tt.give()
			got := trips.n.Load() - start
			undo()
			if got != 1 {
				t.Fatalf("%d round trips", got)
			}
		})
	}
	if !r.Healthy() {
		t.Fatal("fell back")
	}
}

// max_calls holds across instances under contention.
func TestRedisMaxCallsAcrossInstances(t *testing.T) {
	redisNoLeaks(t)
	srv := redistest.Start(t)
	tests := []struct {
		name string
		take func(st *Redis, p *Pool, call string) bool
	}{
		{"Pool.Pick", func(_ *Redis, p *Pool, call string) bool {
			_, err := p.Pick(context.Background(), call, nil)
			return err == nil
		}},
		{"route cap via Acquire", func(st *Redis, _ *Pool, call string) bool {
			return st.Acquire(context.Background(), "route:sales", call, 10)
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := RedisOptions{Prefix: fmt.Sprintf("cap%d:", i)}
			stores := []*Redis{redisStore(t, srv.Addr, "A", o), redisStore(t, srv.Addr, "B", o)}
			ms := redisMembers("a")
			ms[0].MaxCalls = 10
			pools := []*Pool{redisPool(t, "p", RoundRobin, stores[0], ms), redisPool(t, "p", RoundRobin, stores[1], ms)}
			var got atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for g := range 50 {
				wg.Go(func() {
					<-start
					if tt.take(stores[g%2], pools[g%2], fmt.Sprint("call", g)) {
						got.Add(1)
					}
				})
			}
			close(start)
			wg.Wait()
			if got.Load() != 10 {
				t.Fatalf("%d slots taken with max_calls 10", got.Load())
			}
			for _, st := range stores {
				if !st.Healthy() {
					t.Fatal("fell back: the count was not shared")
				}
			}
		})
	}
}

// Leases expire LeaseTTL after their last refresh, by the injected clock.
func TestRedisLeaseExpiry(t *testing.T) {
	redisNoLeaks(t)
	srv := redistest.Start(t)
	ctx := context.Background()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	o := RedisOptions{LeaseTTL: 30 * time.Second, Now: clock.Now}
	a, b := redisStore(t, srv.Addr, "A", o), redisStore(t, srv.Addr, "B", o)
	for _, c := range []string{"c1", "c2"} {
		if !a.Acquire(ctx, "a", c, 2) {
			t.Fatal("acquire refused")
		}
	}
	tests := []struct {
		advance time.Duration
		want    bool
	}{
		{0, false},
		{30*time.Second - time.Millisecond, false},
		{time.Millisecond, true}, // A never refreshed: its leases are gone
	}
	for _, tt := range tests {
		clock.Add(tt.advance)
		if got := b.Acquire(ctx, "a", "new", 2); got != tt.want {
			t.Fatalf("after +%v: acquire %v want %v", tt.advance, got, tt.want)
		}
	}
	if n := b.Active("a"); n != 1 {
		t.Fatalf("active %d, want B's one call", n)
	}
}

// An instance that dies (Run stopped, nothing released) stops counting
// within LeaseTTL; while its Run lives its calls keep counting.
func TestRedisDeadInstanceStopsCounting(t *testing.T) {
	redisNoLeaks(t)
	srv := redistest.Start(t)
	const ttl = 300 * time.Millisecond
	o := RedisOptions{LeaseTTL: ttl, Refresh: 20 * time.Millisecond}
	a, b := redisStore(t, srv.Addr, "A", o), redisStore(t, srv.Addr, "B", o)
	stopA := runRedis(t, a)
	runRedis(t, b)
	for _, c := range []string{"c1", "c2"} {
		a.Acquire(context.Background(), "a", c, 0)
	}
	b.Active("a") // B now refreshes this count
	time.Sleep(3 * ttl)
	if n := b.Active("a"); n != 2 {
		t.Fatalf("after 3×TTL with A alive: B sees %d calls, want 2", n)
	}
	stopA()
	died := time.Now()
	eventually(t, ttl+200*time.Millisecond, "dead instance's calls still counted", func() bool { return b.Active("a") == 0 })
	t.Logf("counted %v after the instance died (LeaseTTL %v)", time.Since(died).Round(time.Millisecond), ttl)
}

// A slow Redis is an unavailable Redis: answered locally within Timeout,
// back to Redis when it answers again, with the lease taken meanwhile.
func TestRedisSlowRedis(t *testing.T) {
	redisNoLeaks(t)
	srv := redistest.Start(t)
	ctx := context.Background()
	var fallbacks atomic.Int64
	o := RedisOptions{Timeout: 50 * time.Millisecond, Refresh: 20 * time.Millisecond,
		OnFallback: func() { fallbacks.Add(1) }}
	a := redisStore(t, srv.Addr, "A", o)
	runRedis(t, a)
	admin := redisClient(t, srv.Addr)
	if err := admin.Do(ctx, "CLIENT", "PAUSE", 400, "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if !a.Acquire(ctx, "a", "slow", 1) {
		t.Fatal("refused")
	}
	if d := time.Since(t0); d > o.Timeout+40*time.Millisecond {
		t.Fatalf("acquire took %v with Timeout %v", d, o.Timeout)
	}
	if a.Healthy() || fallbacks.Load() != 1 {
		t.Fatalf("healthy %v fallbacks %d", a.Healthy(), fallbacks.Load())
	}
	if a.Acquire(ctx, "a", "other", 1) {
		t.Fatal("local state ignored max_calls")
	}
	eventually(t, 2*time.Second, "store did not return to redis", a.Healthy)
	if s, err := admin.ZScore(ctx, "{ailb}:lease:a", "A/slow").Result(); err != nil || s == 0 {
		t.Fatalf("lease taken while redis was slow not written back: %v %v", s, err)
	}
}

// While Redis is out (simulated: the store believes it down), releases and
// acquires are local; when Run sees Redis again they reach it.
func TestRedisOutageCatchUp(t *testing.T) {
	redisNoLeaks(t)
	srv := redistest.Start(t)
	ctx := context.Background()
	admin := redisClient(t, srv.Addr)
	a := redisStore(t, srv.Addr, "A", RedisOptions{Refresh: 20 * time.Millisecond})
	for _, c := range []string{"c1", "c2"} {
		a.Acquire(ctx, "a", c, 0)
	}
	a.down.Store(true)
	a.Release(ctx, "a", "c1") // only local
	a.Acquire(ctx, "b", "c3", 0)
	a.Acquire(ctx, "a", "c4", 0)
	if got := admin.ZRange(ctx, "{ailb}:lease:a", 0, -1).Val(); strings.Join(got, ",") != "A/c1,A/c2" {
		t.Fatalf("redis changed while out: %v", got)
	}
	runRedis(t, a)
	eventually(t, time.Second, "store did not return to redis", a.Healthy)
	tests := []struct {
		key  string
		want string
	}{
		{"{ailb}:lease:a", "A/c2,A/c4"},
		{"{ailb}:lease:b", "A/c3"},
	}
	for _, tt := range tests {
		got := admin.ZRange(ctx, tt.key, 0, -1).Val()
		if strings.Join(got, ",") != tt.want {
			t.Errorf("%s: %v want %s", tt.key, got, tt.want)
		}
	}
	if n := a.Active("a"); n != 2 {
		t.Fatalf("active %d", n)
	}
}

// Redis killed under a concurrent pick/release load: no pick fails, none
// waits past Timeout; after a restart, operations return to Redis and the
// calls still held are registered again.
func TestRedisKilledUnderLoad(t *testing.T) {
	redisNoLeaks(t)
	srv := redistest.Start(t)
	ctx := context.Background()
	const timeout = 50 * time.Millisecond
	var fallbacks atomic.Int64
	o := RedisOptions{Timeout: timeout, Refresh: 20 * time.Millisecond, LeaseTTL: 3 * time.Second,
		OnFallback: func() { fallbacks.Add(1) }}
	var stores []*Redis
	var logs []*observer.ObservedLogs
	for _, name := range []string{"A", "B"} {
		core, l := observer.New(zap.InfoLevel)
		o.Log = zap.New(core)
		stores = append(stores, redisStore(t, srv.Addr, name, o))
		logs = append(logs, l)
	}
	pools := []*Pool{
		redisPool(t, "rr", RoundRobin, stores[0], redisMembers("a", "b", "c")),
		redisPool(t, "lc", LeastConnections, stores[1], redisMembers("a", "b", "c")),
	}
	for _, st := range stores {
		runRedis(t, st)
	}
	// Long calls: one held from before the crash, one taken during it.
	if !stores[0].Acquire(ctx, "a", "long-before", 0) {
		t.Fatal("refused")
	}

	var failed, slow atomic.Int64
	var worst atomic.Int64
	timed := func(f func()) {
		t0 := time.Now()
		f()
		d := time.Since(t0)
		if d > timeout+40*time.Millisecond {
			slow.Add(1)
		}
		for w := worst.Load(); int64(d) > w && !worst.CompareAndSwap(w, int64(d)); w = worst.Load() {
		}
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			p := pools[g%2]
			for i := 0; loadCtx.Err() == nil; i++ {
				var l *Lease
				var err error
				timed(func() { l, err = p.Pick(ctx, fmt.Sprintf("g%d-%d", g, i), nil) })
				if err != nil {
					failed.Add(1)
					continue
				}
				time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
				timed(l.Release)
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	srv.Kill()
	time.Sleep(200 * time.Millisecond)
	for _, st := range stores {
		if st.Healthy() {
			t.Error("healthy with redis dead")
		}
	}
	if !stores[0].Acquire(ctx, "b", "long-during", 0) {
		t.Fatal("refused")
	}
	down := fallbacks.Load()
	srv.Restart()
	for _, st := range stores {
		eventually(t, 2*time.Second, "store did not return to redis", st.Healthy)
	}
	time.Sleep(100 * time.Millisecond)
	stopLoad()
	wg.Wait()
	t.Logf("fallbacks %d (%d by the restart), worst op %v", fallbacks.Load(), down, time.Duration(worst.Load()))

	if failed.Load() != 0 {
		t.Errorf("%d picks failed", failed.Load())
	}
	if slow.Load() != 0 {
		t.Errorf("%d operations took longer than Timeout (worst %v)", slow.Load(), time.Duration(worst.Load()))
	}
	if down == 0 {
		t.Error("no fallback counted")
	}
	admin := redisClient(t, srv.Addr)
	for key, lease := range map[string]string{"{ailb}:lease:a": "A/long-before", "{ailb}:lease:b": "A/long-during"} {
		if err := admin.ZScore(ctx, key, lease).Err(); err != nil {
			t.Errorf("%s %s not registered again: %v", key, lease, err)
		}
	}
	before := fallbacks.Load()
	for i := range 20 {
		l, err := pools[i%2].Pick(ctx, fmt.Sprint("after", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
	}
	if fallbacks.Load() != before {
		t.Errorf("%d operations still local after redis came back", fallbacks.Load()-before)
	}
	if n, err := admin.Exists(ctx, "{ailb}:rr:rr").Result(); err != nil || n != 1 {
		t.Errorf("rotation not back in redis: %v %v", n, err)
	}
	// One line per transition: down, back, down, back ... ending back.
	for i, l := range logs {
		var got []string
		for _, e := range l.All() {
			got = append(got, e.Message)
		}
		want := strings.Repeat("redis unavailable, using local state,redis back,", max(1, len(got)/2))
		if s := strings.Join(got, ","); s+"," != want {
			t.Errorf("store %d logged %q", i, s)
		}
	}
}

// Without Redis at all every operation is answered locally: caps per
// instance, the rotation goes on, one log line.
func TestRedisNeverUp(t *testing.T) {
	redisNoLeaks(t)
	ctx := context.Background()
	var fallbacks atomic.Int64
	core, logs := observer.New(zap.InfoLevel)
	r := redisStore(t, "127.0.0.1:1", "A", RedisOptions{OnFallback: func() { fallbacks.Add(1) }, Log: zap.New(core)})
	tests := []struct {
		name string
		give func() any
		want any
	}{
		{"first ticket", func() any { return r.Next(ctx, "p") }, uint64(0)},
		{"second ticket", func() any { return r.Next(ctx, "p") }, uint64(1)},
		{"acquire", func() any { return r.Acquire(ctx, "a", "c1", 2) }, true},
		{"acquire again, same call", func() any { return r.Acquire(ctx, "a", "c1", 2) }, true},
		{"acquire", func() any { return r.Acquire(ctx, "a", "c2", 2) }, true},
		{"at max_calls", func() any { return r.Acquire(ctx, "a", "c3", 2) }, false},
		{"active", func() any { return r.Active("a") }, 2},
		{"release once of two", func() any { r.Release(ctx, "a", "c1"); return r.Active("a") }, 2},
		{"release", func() any { r.Release(ctx, "a", "c1"); return r.Active("a") }, 1},
		{"pick not handled", func() any {
			_, ok := r.PickAcquire(ctx, PickRequest{Pool: "p", Kind: RoundRobin, Members: []string{"a"}, Available: []bool{true}, After: -1})
			return ok
		}, false},
		{"healthy", func() any { return r.Healthy() }, false},
	}
	for _, tt := range tests {
		if got := tt.give(); got != tt.want {
			t.Fatalf("%s: got %v want %v", tt.name, got, tt.want)
		}
	}
	// Every operation but Active and the release that left a slot held.
	if fallbacks.Load() != 8 {
		t.Errorf("%d fallbacks, want one per operation (8)", fallbacks.Load())
	}
	if logs.Len() != 1 {
		t.Errorf("%d log lines, want 1", logs.Len())
	}
	p := redisPool(t, "p", RoundRobin, r, redisMembers("a", "b"))
	if got := pickNames(t, p, 4); got != "a,b,a,b" {
		t.Fatalf("local rotation %s", got)
	}
}

func pickNames(t *testing.T, p *Pool, n int) string {
	t.Helper()
	var out []string
	for i := range n {
		l, err := p.Pick(context.Background(), fmt.Sprint("n", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l.Member.Name)
		l.Release()
	}
	return strings.Join(out, ",")
}

// Member status is shared and survives a new store.
func TestRedisStatus(t *testing.T) {
	redisNoLeaks(t)
	srv := redistest.Start(t)
	ctx := context.Background()
	a, b := redisStore(t, srv.Addr, "A", RedisOptions{}), redisStore(t, srv.Addr, "B", RedisOptions{})
	tests := []struct {
		pool, member string
		active       bool
		want         map[string]bool
	}{
		{"sales", "a", false, map[string]bool{"sales/a": false}},
		{"sales", "b", true, map[string]bool{"sales/a": false, "sales/b": true}},
		{"sales", "a", true, map[string]bool{"sales/a": true, "sales/b": true}},
	}
	for _, tt := range tests {
		if err := a.SetStatus(ctx, tt.pool, tt.member, tt.active); err != nil {
			t.Fatal(err)
		}
		later := redisStore(t, srv.Addr, "C", RedisOptions{})
		for _, r := range []*Redis{b, later} {
			got, err := r.Statuses(ctx)
			if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("after %s/%s=%v: %v %v, want %v", tt.pool, tt.member, tt.active, got, err, tt.want)
			}
		}
	}
	if err := a.SetStatus(ctx, "a/b", "c", true); err == nil || errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("pool with '/': %v", err)
	}
	srv.Kill()
	if err := a.SetStatus(ctx, "sales", "a", false); !errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("set with redis dead: %v", err)
	}
	if _, err := b.Statuses(ctx); !errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("read with redis dead: %v", err)
	}
}

func BenchmarkRedisAcquireRelease(b *testing.B) {
	srv := redistest.Start(b)
	r := redisStore(b, srv.Addr, "A", RedisOptions{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if !r.Acquire(ctx, "a", "c", 10) {
			b.Fatal("refused")
		}
		r.Release(ctx, "a", "c")
	}
	if !r.Healthy() {
		b.Fatal("fell back")
	}
}

func BenchmarkRedisPickAcquire(b *testing.B) {
	srv := redistest.Start(b)
	r := redisStore(b, srv.Addr, "A", RedisOptions{})
	ctx := context.Background()
	for _, kind := range []Kind{RoundRobin, LeastConnections} {
		b.Run(string(kind), func(b *testing.B) {
			q := PickRequest{Pool: "p", Kind: kind, Members: []string{"a", "b", "c"},
				Limits: []int{10, 10, 0}, Available: []bool{true, true, true}, CallID: "c", After: -1}
			b.ReportAllocs()
			for b.Loop() {
				i, ok := r.PickAcquire(ctx, q)
				if !ok || i < 0 {
					b.Fatal("no pick")
				}
				b.StopTimer()
				r.Release(ctx, q.Members[i], "c")
				b.StartTimer()
			}
		})
	}
	if !r.Healthy() {
		b.Fatal("fell back")
	}
}

func BenchmarkRedisPoolPick(b *testing.B) {
	srv := redistest.Start(b)
	r := redisStore(b, srv.Addr, "A", RedisOptions{})
	ctx := context.Background()
	for _, kind := range []Kind{RoundRobin, LeastConnections} {
		for _, n := range []int{3, 30, 300} {
			b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
				names := make([]string, n)
				for i := range names {
					names[i] = fmt.Sprint("m", i)
				}
				ms := redisMembers(names...)
				for i := range ms {
					ms[i].MaxCalls = 10 * (i % 2) // half capped
				}
				p := redisPool(b, fmt.Sprint(kind, n), kind, r, ms)
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
	if !r.Healthy() {
		b.Fatal("fell back")
	}
}
