package breaker

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// work is one entry's part of a round trip.
type work struct {
	e      *entry
	phase  uint64 // unchanged at the end, or the reads are stale
	b      batch
	now    int64 // unix ms
	first  int64 // oldest bucket in the window
	n      int64 // buckets in the window
	keyAt  int   // its first key in the MGET
	prefix string
}

// cycle is one round trip: pending writes, then one MGET of every
// assistant's open-until and counts, then what they mean here.
func (sh *Shared) cycle(ctx context.Context) {
	sh.mu.Lock()
	sets := append([]*Set(nil), sh.sets...)
	sh.mu.Unlock()
	var ws []*work
	for _, s := range sets {
		now := s.now().UnixMilli()
		for _, e := range *s.entries.Load() {
			w := &work{e: e, phase: e.phase.Load(), now: now, n: e.cfg.buckets(), prefix: sh.prefix}
			w.first = now/e.cfg.bucket().Milliseconds() - w.n + 1
			w.b = e.share.take()
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, sh.timeout)
	defer cancel()
	pipe := sh.client.Pipeline()
	var keys []string
	for _, w := range ws {
		w.write(rctx, pipe)
		w.keyAt = len(keys)
		keys = w.readKeys(keys)
	}
	mget := pipe.MGet(rctx, keys...)
	if _, err := pipe.Exec(rctx); err != nil {
		for _, w := range ws {
			w.e.share.restore(w.b)
		}
		if ctx.Err() == nil {
			sh.failed(err)
		}
		return
	}
	sh.recovered()
	vals := mget.Val()
	for _, w := range ws {
		w.apply(vals[w.keyAt : w.keyAt+int(2+2*w.n)])
	}
}

func (w *work) key(suffix string) string {
	return w.prefix + "breaker:" + w.e.name + ":" + suffix
}

func (w *work) bucketKey(kind string, b int64) string {
	return w.key(kind + ":" + strconv.FormatInt(b, 10))
}

// counterKeys are every key of the counts in the window.
func (w *work) counterKeys(keys []string) []string {
	keys = append(keys, w.key("consecutive"))
	for b := w.first; b < w.first+w.n; b++ {
		keys = append(keys, w.bucketKey("ok", b), w.bucketKey("fail", b))
	}
	return keys
}

// write queues the entry's writes: the open-until change first (it
// clears counts from before), then results since the last round trip.
func (w *work) write(ctx context.Context, pipe redis.Pipeliner) {
	win := w.e.cfg.Window
	switch w.b.op {
	case opOpen:
		if ttl := w.b.until - w.now; ttl > 0 {
			pipe.Set(ctx, w.key("open_until"), w.b.until, msDuration(ttl))
		}
		pipe.Del(ctx, w.counterKeys(nil)...)
	case opClear:
		pipe.Del(ctx, w.counterKeys([]string{w.key("open_until")})...)
	}
	for _, s := range w.b.slots {
		if s.bucket < w.first {
			continue // past the window everywhere
		}
		if s.ok > 0 {
			k := w.bucketKey("ok", s.bucket)
			pipe.IncrBy(ctx, k, int64(s.ok))
			pipe.PExpire(ctx, k, win)
		}
		if s.fail > 0 {
			k := w.bucketKey("fail", s.bucket)
			pipe.IncrBy(ctx, k, int64(s.fail))
			pipe.PExpire(ctx, k, win)
		}
	}
	switch k := w.key("consecutive"); {
	case w.b.sawOK:
		pipe.Set(ctx, k, w.b.tail, win)
	case w.b.tail > 0:
		pipe.IncrBy(ctx, k, int64(w.b.tail))
		pipe.PExpire(ctx, k, win)
	}
}

// readKeys appends open_until, consecutive, then ok and fail per bucket.
func (w *work) readKeys(keys []string) []string {
	keys = append(keys, w.key("open_until"))
	return w.counterKeys(keys)
}

// apply reads the entry's values: another instance's open-until refuses
// calls here and opens the local breaker so it probes like theirs;
// counts of all instances that meet the rule open it for everyone.
func (w *work) apply(vals []any) {
	e := w.e
	if e.dropped.Load() || e.phase.Load() != w.phase {
		return // changed during the round trip; the next one reads again
	}
	until := num(vals[0])
	if until <= w.now || until == w.b.own {
		until = 0
	}
	e.sharedUntil.Store(until)
	if e.force.Load() != notForced {
		return
	}
	consec := num(vals[1])
	var ok, fail int64
	for i := 2; i < len(vals); i += 2 {
		ok += num(vals[i])
		fail += num(vals[i+1])
	}
	switch {
	case until != 0:
		if e.local() != Open {
			e.trip(causeShared)
		}
	case e.local() == Closed && e.cfg.trips(u32(consec), u32(fail), u32(ok+fail)):
		e.trip(causeCombined)
	}
}

// num reads an MGET value; missing or garbled is 0.
func num(v any) int64 {
	s, ok := v.(string)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func u32(n int64) uint32 { return uint32(min(n, math.MaxUint32)) }

func msDuration(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
