package routing

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Run keeps this instance's part of Redis current until ctx ends. Every
// Refresh it re-reads the live counts behind Active, removes leases that
// failed operations may have left behind, and checks that Redis answers;
// every LeaseTTL/3 it also renews the leases this instance holds, in one
// pipeline. While Redis is down it probes it every Refresh; when Redis
// answers it writes back every lease held (those taken locally in the
// meantime too), then operations return to Redis.
func (r *Redis) Run(ctx context.Context) {
	t := time.NewTicker(r.o.Refresh)
	defer t.Stop()
	st := runState{every: max(1, int(r.o.LeaseTTL/3/r.o.Refresh)), reload: true, renew: true}
	for {
		r.step(ctx, &st)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runState is Run's own bookkeeping.
type runState struct {
	every  int  // refreshes per lease renewal
	ticks  int  // refreshes since the last renewal
	reload bool // Redis may have lost the scripts: load them first
	renew  bool // renew leases on the next refresh
}

func (r *Redis) step(ctx context.Context, st *runState) {
	wasDown := r.down.Load()
	if wasDown {
		octx, cancel := context.WithTimeout(ctx, r.o.Timeout)
		err := r.c.Ping(octx).Err()
		cancel()
		if err != nil {
			return
		}
		// Maybe restarted empty: scripts and leases are gone.
		st.reload, st.renew = true, true
	}
	if st.reload {
		if err := r.loadScripts(ctx); err != nil {
			r.failed(ctx, err)
			return
		}
		st.reload = false
	}
	st.ticks++
	dirty := r.dirty.Swap(false)
	leases := st.renew || st.ticks >= st.every || dirty
	renew, err := r.refresh(ctx, leases)
	if err != nil {
		r.failed(ctx, err)
		st.renew = st.renew || leases
		return
	}
	if leases {
		st.ticks = 0
	}
	st.renew = renew
	if wasDown && r.down.CompareAndSwap(true, false) {
		r.o.Log.Info("redis back")
	}
}

func (r *Redis) loadScripts(ctx context.Context) error {
	for _, s := range []*redis.Script{r.acquire, r.release, r.pick} {
		octx, cancel := context.WithTimeout(ctx, r.o.Timeout)
		err := s.Load(octx, r.c).Err()
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// heldSet is the leases this instance holds on one key, at a refresh.
type heldSet struct {
	s     *leaseSet
	key   string
	calls []string
}

// refresh sends one pipeline: renewed leases (when leases), removal of
// stale ones, live counts. It reports whether a lease must be renewed at
// once because a call took it again while the refresh removed it.
func (r *Redis) refresh(ctx context.Context, leases bool) (bool, error) {
	now := r.o.Now()
	nowMs := strconv.FormatInt(now.UnixMilli(), 10)
	expiry := float64(r.expiry(now))

	var held []heldSet
	var flush []staleLease
	r.mu.Lock()
	fresh := r.stale[:0]
	for _, l := range r.stale {
		if now.Sub(l.at) < r.o.LeaseTTL { // older ones expired in Redis
			fresh = append(fresh, l)
		}
	}
	clear(r.stale[len(fresh):])
	r.stale = fresh
	nstale := len(r.stale)
	for _, l := range r.stale {
		if s := r.sets[l.key]; s == nil || s.calls[l.call] == 0 {
			flush = append(flush, l)
		}
	}
	sets := make([]*leaseSet, 0, len(r.sets))
	for k, s := range r.sets {
		if leases {
			if !s.touched.Load() && len(s.calls) == 0 && s.shared.Load() == 0 {
				delete(r.sets, k) // idle and unused for a lease period
				continue
			}
			s.touched.Store(false)
			if len(s.calls) > 0 {
				h := heldSet{s: s, key: k, calls: make([]string, 0, len(s.calls))}
				for c := range s.calls {
					h.calls = append(h.calls, c)
				}
				held = append(held, h)
			}
		}
		sets = append(sets, s)
	}
	r.mu.Unlock()

	counts := make([]*redis.IntCmd, len(sets))
	octx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	_, err := r.c.Pipelined(octx, func(p redis.Pipeliner) error {
		p.Ping(octx) // so an idle store still notices Redis going away
		for _, h := range held {
			zs := make([]redis.Z, len(h.calls))
			for i, c := range h.calls {
				zs[i] = redis.Z{Score: expiry, Member: r.lease(c)}
			}
			p.ZAdd(octx, h.s.rkey, zs...)
			p.PExpire(octx, h.s.rkey, 2*r.o.LeaseTTL)
		}
		for _, l := range flush {
			p.ZRem(octx, r.leaseKey(l.key), r.lease(l.call))
		}
		for i, s := range sets {
			if leases {
				p.ZRemRangeByScore(octx, s.rkey, "-inf", nowMs)
			}
			counts[i] = p.ZCount(octx, s.rkey, "("+nowMs, "+inf")
		}
		return nil
	})
	cancel()
	if err != nil {
		return false, err
	}
	for i, c := range counts {
		sets[i].shared.Store(c.Val())
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	r.stale = append([]staleLease(nil), r.stale[nstale:]...)
	// Released while the pipeline ran: its ZADD may have put them back.
	for _, h := range held {
		for _, c := range h.calls {
			if s := r.sets[h.key]; s == nil || s.calls[c] == 0 {
				r.stale = append(r.stale, staleLease{key: h.key, call: c, at: now})
			}
		}
	}
	renew := false
	for _, l := range flush {
		if s := r.sets[l.key]; s != nil && s.calls[l.call] > 0 {
			renew = true
		}
	}
	return renew, nil
}
