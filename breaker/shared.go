package breaker

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// SharedOptions tune Shared. Zero values take the documented defaults.
type SharedOptions struct {
	// Prefix starts every key (default "ailb:").
	Prefix string
	// Timeout bounds each round trip (default 50ms). Give the client
	// ContextTimeoutEnabled (or short read/write timeouts) so it holds.
	Timeout time.Duration
	// Refresh is how often results are written and shared state is read
	// (default 250ms); an open is written at once.
	Refresh time.Duration
	// OnFallback is told each time a round trip fails and local state
	// stands in (ailb_store_fallback_total). Optional.
	OnFallback func()
	// Log gets one line when Redis goes away and one when it is back.
	Log *zap.Logger
}

// Shared shares breaker state between ailb instances through Redis:
//
//	<prefix>breaker:<assistant>:open_until     unix ms, PX = OpenFor
//	<prefix>breaker:<assistant>:ok:<bucket>    successes in one bucket, PX = Window
//	<prefix>breaker:<assistant>:fail:<bucket>  failures in one bucket, PX = Window
//	<prefix>breaker:<assistant>:consecutive    failures in a row across instances, PX = Window
//
// bucket is unix ms / (Window/10). Instances must use the same settings.
// Only Run talks to Redis; calls never wait for it.
type Shared struct {
	client     redis.UniversalClient
	prefix     string
	timeout    time.Duration
	refresh    time.Duration
	onFallback func()
	log        *zap.Logger
	kick       chan struct{}
	running    atomic.Bool

	mu   sync.Mutex
	sets []*Set

	down bool // owned by Run
}

// NewShared prepares sharing over client; pass it in Options.Shared and
// run Run.
func NewShared(client redis.UniversalClient, o SharedOptions) *Shared {
	sh := &Shared{
		client: client, prefix: o.Prefix, timeout: o.Timeout, refresh: o.Refresh,
		onFallback: o.OnFallback, log: o.Log, kick: make(chan struct{}, 1),
	}
	if sh.prefix == "" {
		sh.prefix = "ailb:"
	}
	if sh.timeout <= 0 {
		sh.timeout = 50 * time.Millisecond
	}
	if sh.refresh <= 0 {
		sh.refresh = 250 * time.Millisecond
	}
	if sh.log == nil {
		sh.log = zap.NewNop()
	}
	return sh
}

func (sh *Shared) attach(s *Set) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.sets = append(sh.sets, s)
}

// Run writes and reads shared state every Refresh, and at once when a
// breaker opens or closes, in one pipelined round trip (one MGET for all
// reads). It returns when ctx ends. Call it once.
func (sh *Shared) Run(ctx context.Context) {
	if !sh.running.CompareAndSwap(false, true) {
		sh.log.Error("breaker: Shared.Run is already running")
		return
	}
	defer sh.running.Store(false)
	t := time.NewTicker(sh.refresh)
	defer t.Stop()
	for {
		sh.cycle(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-sh.kick:
		}
	}
}

// note turns a delivered transition into a write for Run.
func (sh *Shared) note(e *entry, t transition) {
	switch {
	case t.to == Open && (t.cause == causeCalls || t.cause == causeCombined):
		e.share.setOp(opOpen, t.until.UnixMilli())
	case t.from == HalfOpen && t.to == Closed:
		e.share.setOp(opClear, 0) // a probe succeeded: open for nobody
	default:
		return
	}
	sh.wake()
}

// clear deletes e's shared open-until and counts (operator reset).
func (sh *Shared) clear(e *entry) {
	e.share.setOp(opClear, 0)
	sh.wake()
}

func (sh *Shared) wake() {
	select {
	case sh.kick <- struct{}{}:
	default:
	}
}

// failed records a failed round trip: local state stands in.
func (sh *Shared) failed(err error) {
	if sh.onFallback != nil {
		sh.onFallback()
	}
	if !sh.down {
		sh.down = true
		sh.log.Warn("redis unavailable: breakers use local state", zap.Error(err))
	}
}

func (sh *Shared) recovered() {
	if sh.down {
		sh.down = false
		sh.log.Info("redis back: breaker state shared again")
	}
}
