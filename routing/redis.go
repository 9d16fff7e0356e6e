package routing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// ErrRedisUnavailable means Redis did not answer in time: the operation's
// effect was not shared with the other instances. Retry later.
var ErrRedisUnavailable = errors.New("routing: redis unavailable")

// RedisOptions configures a Redis store. Every zero value takes its default.
type RedisOptions struct {
	// Prefix starts every key (default "ailb:"). Without its trailing ':'
	// it becomes the keys' Cluster hash tag: "{ailb}:rr:sales".
	Prefix string
	// Instance names this process in its leases (default
	// hostname-pid-random). Two live processes must never share it.
	Instance string
	// LeaseTTL is how long a lease counts without being refreshed, so a
	// crashed instance's calls stop counting within it (default 30s). Run
	// refreshes this instance's leases every LeaseTTL/3.
	LeaseTTL time.Duration
	// Timeout bounds each Redis operation (default 50ms): a slow Redis is
	// an unavailable Redis. The client must honour context deadlines
	// (ContextTimeoutEnabled), or its own read timeout applies.
	Timeout time.Duration
	// Refresh is how often Run re-reads the counts behind Active and, while
	// Redis is down, probes it (default 1s, at most LeaseTTL/3).
	Refresh time.Duration
	// OnFallback is called for each operation answered from local state
	// (metric ailb_store_fallback_total). Optional.
	OnFallback func()
	// Log gets one line per transition between Redis and local state
	// (default: none).
	Log *zap.Logger
	// Now is the clock behind lease expiry (default time.Now).
	Now func() time.Time
}

// Redis is the Store shared by several ailb instances through Redis:
// rotation counters, call leases that expire unless their instance
// refreshes them, member status. When Redis fails or is slow it answers
// from local state (the calls this instance holds) until Run sees Redis
// answer again; no call fails or waits longer than Timeout because of it.
type Redis struct {
	c       redis.UniversalClient
	o       RedisOptions
	tag     string // "{ailb}:", first in every key
	acquire *redis.Script
	release *redis.Script
	pick    *redis.Script
	down    atomic.Bool
	dirty   atomic.Bool // a lease was taken locally: Run writes leases next

	mu    sync.RWMutex
	sets  map[string]*leaseSet      // by assistant or route key
	next  map[string]*atomic.Uint64 // local rotation: next ticket per pool
	stale []staleLease              // may be in Redis though not held
}

var (
	_ Store        = (*Redis)(nil)
	_ PickAcquirer = (*Redis)(nil)
)

// leaseSet is one key's state in this process.
type leaseSet struct {
	rkey    string         // its Redis key
	calls   map[string]int // call ID -> acquires held here; under Redis.mu
	held    atomic.Int64   // len(calls): Active while Redis is down
	shared  atomic.Int64   // live count in Redis at its last answer
	touched atomic.Bool    // used since Run's last lease refresh
}

// staleLease is a lease an unanswered or failed operation may have left in
// Redis though this instance does not hold it. Run removes it once Redis
// answers, unless the call holds it again by then; after LeaseTTL it has
// expired on its own.
type staleLease struct {
	key, call string
	at        time.Time
}

// NewRedis returns a store on c. Call Run for as long as calls are held.
func NewRedis(c redis.UniversalClient, o RedisOptions) *Redis {
	if o.Prefix == "" {
		o.Prefix = "ailb:"
	}
	if o.Instance == "" {
		host, _ := os.Hostname()
		o.Instance = fmt.Sprintf("%s-%d-%08x", host, os.Getpid(), rand.Uint32())
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 30 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 50 * time.Millisecond
	}
	if o.Refresh <= 0 {
		o.Refresh = time.Second
	}
	o.Refresh = max(min(o.Refresh, o.LeaseTTL/3), time.Millisecond)
	if o.OnFallback == nil {
		o.OnFallback = func() {}
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	tag := strings.TrimSuffix(o.Prefix, ":")
	if tag == "" {
		tag = "ailb"
	}
	if ignoresDeadlines(c) {
		o.Log.Warn("redis client ignores context deadlines (ContextTimeoutEnabled false): " +
			"a slow redis delays calls up to the client's read timeout instead of " + o.Timeout.String())
	}
	return &Redis{
		c: c, o: o, tag: "{" + tag + "}:",
		acquire: redis.NewScript(acquireScript),
		release: redis.NewScript(releaseScript),
		pick:    redis.NewScript(pickScript),
		sets:    map[string]*leaseSet{},
		next:    map[string]*atomic.Uint64{},
	}
}

func ignoresDeadlines(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case *redis.Client:
		return !c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return !c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return !c.Options().ContextTimeoutEnabled
	}
	return false
}

// Healthy reports whether operations go to Redis (false: local state).
func (r *Redis) Healthy() bool { return !r.down.Load() }

// Next implements Store: INCR on the pool's counter, so the first ticket
// is 0. While Redis is down the rotation goes on locally from the last
// ticket Redis gave.
func (r *Redis) Next(ctx context.Context, pool string) uint64 {
	next := r.ticket(pool)
	if !r.down.Load() {
		octx, cancel := context.WithTimeout(ctx, r.o.Timeout)
		v, err := r.c.Incr(octx, r.tag+"rr:"+pool).Result()
		cancel()
		if err == nil {
			next.Store(uint64(v))
			return uint64(v - 1)
		}
		r.failed(ctx, err)
	}
	r.o.OnFallback()
	return next.Add(1) - 1
}

// Acquire implements Store with a lease "<instance>/<callID>" on key that
// counts until released or LeaseTTL without refresh. A call holds at most
// one slot per key: acquiring it again succeeds without counting twice and
// needs as many releases.
func (r *Redis) Acquire(ctx context.Context, key, callID string, limit int) bool {
	if !r.down.Load() {
		now := r.o.Now()
		octx, cancel := context.WithTimeout(ctx, r.o.Timeout)
		res, err := r.acquire.Run(octx, r.c, []string{r.leaseKey(key)},
			now.UnixMilli(), r.expiry(now), r.lease(callID), limit, r.keyTTL()).Int64Slice()
		cancel()
		if err == nil && len(res) != 2 {
			err = fmt.Errorf("routing: acquire script answered %v", res)
		}
		if err == nil {
			if res[0] == 1 {
				r.hold(key, callID).shared.Store(res[1])
				return true
			}
			r.set(key).shared.Store(res[1])
			return false
		}
		r.failed(ctx, err)
		r.addStale(now, callID, key)
	}
	r.o.OnFallback()
	return r.holdLocal(key, callID, limit)
}

// Release implements Store. Releasing a lease this instance does not hold
// does nothing.
func (r *Redis) Release(ctx context.Context, key, callID string) {
	r.mu.Lock()
	s := r.sets[key]
	if s == nil || s.calls[callID] == 0 {
		r.mu.Unlock()
		return
	}
	s.calls[callID]--
	if s.calls[callID] > 0 {
		r.mu.Unlock()
		return
	}
	delete(s.calls, callID)
	s.held.Store(int64(len(s.calls)))
	r.mu.Unlock()

	now := r.o.Now()
	if !r.down.Load() {
		// The call may be gone, its count must go too.
		ctx = context.WithoutCancel(ctx)
		octx, cancel := context.WithTimeout(ctx, r.o.Timeout)
		n, err := r.release.Run(octx, r.c, []string{s.rkey}, now.UnixMilli(), r.lease(callID)).Int64()
		cancel()
		if err == nil {
			s.shared.Store(n)
			return
		}
		r.failed(ctx, err)
	}
	r.addStale(now, callID, key)
	r.o.OnFallback()
}

// Active implements Store without I/O: the live count Redis gave at its
// last answer about key (a refresh by Run, or this instance's own
// operations), or while Redis is down the calls this instance holds.
func (r *Redis) Active(key string) int {
	s := r.set(key)
	if r.down.Load() {
		return int(s.held.Load())
	}
	return int(s.shared.Load())
}

// PickAcquire implements PickAcquirer for round robin and least
// connections with one script call: the pick and the slot are decided in
// Redis against every instance's leases.
func (r *Redis) PickAcquire(ctx context.Context, q PickRequest) (int, bool) {
	kind := "rr"
	switch q.Kind {
	case RoundRobin:
	case LeastConnections:
		kind = "lc"
	default:
		return -1, false
	}
	if r.down.Load() {
		r.o.OnFallback()
		return -1, false
	}
	// Only available members go to Redis; start is where round robin
	// resumes after the member tried last (the first available one after
	// it in position order), -1 to take a ticket.
	idx := make([]int, 0, len(q.Members))
	start := -1
	after := q.After >= 0 && q.After < len(q.Members)
	for i := range q.Members {
		if i < len(q.Available) && q.Available[i] {
			if after && start < 0 && i > q.After {
				start = len(idx)
			}
			idx = append(idx, i)
		}
	}
	if after && start < 0 {
		start = 0
	}
	now := r.o.Now()
	keys := make([]string, 1, len(idx)+1)
	keys[0] = r.tag + "rr:" + q.Pool
	args := make([]any, 8, len(idx)+8)
	args[0], args[1], args[2], args[3] = kind, now.UnixMilli(), r.expiry(now), r.lease(q.CallID)
	args[4], args[5], args[6], args[7] = r.keyTTL(), q.Rand>>11, uncappedRoom, start
	sets := make([]*leaseSet, len(idx))
	for j, i := range idx {
		sets[j] = r.set(q.Members[i])
		keys = append(keys, sets[j].rkey)
		limit := 0
		if i < len(q.Limits) {
			limit = q.Limits[i]
		}
		args = append(args, limit)
	}
	octx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	res, err := r.pick.Run(octx, r.c, keys, args...).Int64Slice()
	cancel()
	if err == nil && (len(res) != len(idx)+2 || res[0] < -1 || res[0] >= int64(len(idx))) {
		err = fmt.Errorf("routing: pick script answered %v", res)
	}
	if err != nil {
		r.failed(ctx, err)
		names := make([]string, len(idx))
		for j, i := range idx {
			names[j] = q.Members[i]
		}
		r.addStale(now, q.CallID, names...)
		r.o.OnFallback()
		return -1, false
	}
	if res[1] >= 0 {
		r.ticket(q.Pool).Store(uint64(res[1]) + 1)
	}
	for j, n := range res[2:] {
		if n >= 0 {
			sets[j].shared.Store(n)
		}
	}
	if res[0] < 0 {
		return -1, true
	}
	i := idx[res[0]]
	r.hold(q.Members[i], q.CallID)
	return i, true
}

// failed switches to local state after an error of Redis's own; a caller
// that gave up says nothing about Redis.
func (r *Redis) failed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	if r.down.CompareAndSwap(false, true) {
		r.o.Log.Warn("redis unavailable, using local state", zap.Error(err))
	}
}

// set returns key's state, creating it, and marks it in use.
func (r *Redis) set(key string) *leaseSet {
	r.mu.RLock()
	s := r.sets[key]
	r.mu.RUnlock()
	if s == nil {
		r.mu.Lock()
		s = r.setLocked(key)
		r.mu.Unlock()
	}
	if !s.touched.Load() {
		s.touched.Store(true)
	}
	return s
}

func (r *Redis) setLocked(key string) *leaseSet {
	s := r.sets[key]
	if s == nil {
		s = &leaseSet{rkey: r.leaseKey(key), calls: map[string]int{}}
		r.sets[key] = s
	}
	s.touched.Store(true)
	return s
}

// hold records a lease Redis granted.
func (r *Redis) hold(key, callID string) *leaseSet {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.setLocked(key)
	s.calls[callID]++
	s.held.Store(int64(len(s.calls)))
	return s
}

// holdLocal takes a lease while Redis is down: the cap counts the calls
// this instance holds. Run writes the lease to Redis when it answers.
func (r *Redis) holdLocal(key, callID string, limit int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.setLocked(key)
	if s.calls[callID] == 0 && limit > 0 && len(s.calls) >= limit {
		return false
	}
	s.calls[callID]++
	s.held.Store(int64(len(s.calls)))
	r.dirty.Store(true)
	return true
}

func (r *Redis) addStale(now time.Time, callID string, keys ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range keys {
		r.stale = append(r.stale, staleLease{key: k, call: callID, at: now})
	}
}

// ticket returns the pool's local rotation counter.
func (r *Redis) ticket(pool string) *atomic.Uint64 {
	r.mu.RLock()
	t := r.next[pool]
	r.mu.RUnlock()
	if t != nil {
		return t
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if t = r.next[pool]; t == nil {
		t = new(atomic.Uint64)
		r.next[pool] = t
	}
	return t
}

func (r *Redis) leaseKey(key string) string { return r.tag + "lease:" + key }
func (r *Redis) lease(callID string) string { return r.o.Instance + "/" + callID }
func (r *Redis) expiry(now time.Time) int64 { return now.Add(r.o.LeaseTTL).UnixMilli() }

// keyTTL lets Redis drop a lease set nobody writes any more; every write
// pushes it past its leases' expiry.
func (r *Redis) keyTTL() int64 { return (2 * r.o.LeaseTTL).Milliseconds() }

// statusKey is the hash of member statuses.
func (r *Redis) statusKey() string { return r.tag + "status" }
