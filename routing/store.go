package routing

import (
	"context"
	"sync"
	"sync/atomic"
)

// Store holds the state pools share: rotation counters and active calls.
// Implementations never fail a call: a backend that is unavailable falls
// back to local state inside the implementation.
type Store interface {
	// Next returns the pool's next rotation ticket.
	Next(ctx context.Context, pool string) uint64
	// Acquire counts the call on member unless it already has limit calls
	// (limit <= 0: no cap). It reports whether the slot was taken.
	Acquire(ctx context.Context, member, callID string, limit int) bool
	// Release ends the count taken by Acquire.
	Release(ctx context.Context, member, callID string)
	// Active is the member's current number of calls.
	Active(member string) int
}

// PickAcquirer is a Store that can pick a round-robin or least-connections
// member and take its slot in one step (one round trip to Redis), so
// instances sharing the store act as one balancer.
type PickAcquirer interface {
	// PickAcquire returns the index of the member that got the slot.
	// handled is false when the store could not decide (Redis down): the
	// pool then picks locally and calls Acquire.
	PickAcquire(ctx context.Context, r PickRequest) (index int, handled bool)
}

// PickRequest describes one shared pick.
type PickRequest struct {
	Pool      string
	Kind      Kind     // RoundRobin or LeastConnections
	Members   []string // in position order
	Limits    []int    // max_calls per member (<= 0: no cap)
	Available []bool   // the pool's local view: status, breaker, tried
	CallID    string
	Rand      uint64 // tie-break for least connections
	// After is the index of the member this call tried last (-1: none).
	// Round robin then takes the next available member after it, without
	// advancing the shared rotation.
	After int
}

// Memory is the embedded store: counters in this process. Lookups are
// lock-free: the maps are replaced, never changed, when a key is added
// (keys are assistants, routes and pools: added once, read on every pick).
type Memory struct {
	mu       sync.Mutex // serialises adding keys
	active   atomic.Pointer[map[string]*atomic.Int64]
	counters atomic.Pointer[map[string]*atomic.Uint64]
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	m := &Memory{}
	m.active.Store(&map[string]*atomic.Int64{})
	m.counters.Store(&map[string]*atomic.Uint64{})
	return m
}

func counter[T any](mu *sync.Mutex, p *atomic.Pointer[map[string]*T], key string) *T {
	if c, ok := (*p.Load())[key]; ok {
		return c
	}
	mu.Lock()
	defer mu.Unlock()
	old := *p.Load()
	if c, ok := old[key]; ok {
		return c
	}
	next := make(map[string]*T, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	c := new(T)
	next[key] = c
	p.Store(&next)
	return c
}

// Next implements Store. The first ticket is 0.
func (m *Memory) Next(_ context.Context, pool string) uint64 {
	return counter(&m.mu, &m.counters, pool).Add(1) - 1
}

// Acquire implements Store.
func (m *Memory) Acquire(_ context.Context, member, _ string, limit int) bool {
	c := counter(&m.mu, &m.active, member)
	for {
		n := c.Load()
		if limit > 0 && n >= int64(limit) {
			return false
		}
		if c.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release implements Store.
func (m *Memory) Release(_ context.Context, member, _ string) {
	counter(&m.mu, &m.active, member).Add(-1)
}

// Active implements Store.
func (m *Memory) Active(member string) int {
	if c, ok := (*m.active.Load())[member]; ok {
		return int(c.Load())
	}
	return 0
}
