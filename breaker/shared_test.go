package breaker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"ailb/breaker"
	"ailb/internal/redistest"
)

const refresh = 50 * time.Millisecond

// instance is one ailb instance's breakers sharing state through Redis.
type instance struct {
	*breaker.Set
	fallbacks atomic.Int32
	logs      *observer.ObservedLogs
	client    *redis.Client
}

// newInstance starts a Set with a running Shared on addr; cleanup stops
// Run, waits for it and closes the client.
func newInstance(t *testing.T, addr string, st breaker.Settings) *instance {
	t.Helper()
	in := &instance{}
	core, logs := observer.New(zapcore.InfoLevel)
	in.logs = logs
	in.client = redis.NewClient(&redis.Options{
		Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1,
		DialTimeout: 50 * time.Millisecond, ReadTimeout: 50 * time.Millisecond, WriteTimeout: 50 * time.Millisecond,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	sh := breaker.NewShared(in.client, breaker.SharedOptions{
		Prefix: "test:", Refresh: refresh, Log: zap.New(core),
		OnFallback: func() { in.fallbacks.Add(1) },
	})
	in.Set = breaker.New(breaker.Options{PerAssistant: map[string]breaker.Settings{"a": st}, Shared: sh})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		sh.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
		in.client.Close()
	})
	return in
}

func (in *instance) logged(msg string) int { return in.logs.FilterMessage(msg).Len() }

func TestSharedOpenReachesOtherInstances(t *testing.T) {
	srv := redistest.Start(t)
	st := breaker.Settings{ConsecutiveFailures: 3, OpenFor: 400 * time.Millisecond, Window: 10 * time.Second}
	a := newInstance(t, srv.Addr, st)
	b := newInstance(t, srv.Addr, st)

	fail(t, a.Set, "a", 3)
	opened := time.Now()
	eventually(t, refresh+60*time.Millisecond, "b refuses after a opened", func() bool { return !b.Ready("a") })
	t.Logf("b refused %v after a opened", time.Since(opened))
	if _, ok := b.Admit("a"); ok {
		t.Fatal("b admitted a call while a's open-until holds")
	}
	if got := b.State("a"); got != breaker.Open {
		t.Fatalf("b's breaker %s, want open so that it probes like a half-open one", got)
	}
	if statusOf(t, b.Set, "a").SharedOpenUntil.IsZero() {
		t.Error("b's status has no shared open_until")
	}
	if got := statusOf(t, a.Set, "a").SharedOpenUntil; !got.IsZero() {
		t.Errorf("a reads its own open-until as another's: %v", got)
	}

	// After OpenFor b probes like a half-open breaker: one call only.
	eventually(t, 800*time.Millisecond, "b lets a probe through", func() bool { return b.Ready("a") })
	probe, ok := b.Admit("a")
	if !ok {
		t.Fatal("b refused the probe")
	}
	if _, ok := b.Admit("a"); ok {
		t.Fatal("b admitted a second call while its probe runs")
	}
	probe(nil)
	if got := b.State("a"); got != breaker.Closed {
		t.Fatalf("b after a successful probe: %s", got)
	}
	// A probe success anywhere clears the key.
	eventually(t, refresh+60*time.Millisecond, "open_until cleared", func() bool {
		n, err := b.client.Exists(context.Background(), "test:breaker:a:open_until").Result()
		return err == nil && n == 0
	})
}

func TestSharedCountsOpenTogether(t *testing.T) {
	tests := []struct {
		name string
		st   breaker.Settings
		give string // each instance's results: s success, f failure
	}{
		{"in a row", breaker.Settings{ConsecutiveFailures: 4, MinRequests: 100}, "ff"},
		{"ratio", breaker.Settings{ConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 8}, "sfsf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.Start(t)
			tt.st.OpenFor, tt.st.Window = time.Minute, 10*time.Second
			a := newInstance(t, srv.Addr, tt.st)
			b := newInstance(t, srv.Addr, tt.st)
			for _, in := range []*instance{a, b} {
				for _, r := range tt.give {
					call(t, in.Set, "a", map[rune]error{'s': nil, 'f': errBusy}[r])
				}
				if got := in.State("a"); got != breaker.Closed {
					t.Fatalf("one instance's results alone opened it: %s", got)
				}
			}
			for _, in := range []*instance{a, b} {
				eventually(t, 4*refresh, "both open", func() bool { return in.State("a") == breaker.Open })
			}
		})
	}
}

func TestSharedCountsBelowRuleStayClosed(t *testing.T) {
	srv := redistest.Start(t)
	st := breaker.Settings{ConsecutiveFailures: 5, MinRequests: 100, OpenFor: time.Minute, Window: 10 * time.Second}
	a := newInstance(t, srv.Addr, st)
	b := newInstance(t, srv.Addr, st)
	fail(t, a.Set, "a", 2)
	fail(t, b.Set, "a", 2)
	call(t, b.Set, "a", nil) // breaks the run everywhere
	fail(t, a.Set, "a", 2)
	time.Sleep(4 * refresh)
	if a.State("a") != breaker.Closed || b.State("a") != breaker.Closed {
		t.Fatalf("opened below the rule: a %s, b %s", a.State("a"), b.State("a"))
	}
}

func TestSharedSurvivesRedis(t *testing.T) {
	srv := redistest.Start(t)
	st := breaker.Settings{ConsecutiveFailures: 3, OpenFor: 300 * time.Millisecond, Window: 10 * time.Second}
	a := newInstance(t, srv.Addr, st)
	b := newInstance(t, srv.Addr, st)
	time.Sleep(2 * refresh) // both have shared once

	srv.Kill()
	timeout := 50 * time.Millisecond // SharedOptions.Timeout default
	var slowest time.Duration
	deadline := time.Now().Add(4 * refresh)
	for time.Now().Before(deadline) {
		for _, in := range []*instance{a, b} {
			t0 := time.Now()
			done, ok := in.Admit("a")
			if !ok {
				t.Fatal("refused while closed with Redis down")
			}
			done(nil)
			in.Ready("a")
			slowest = max(slowest, time.Since(t0))
		}
		time.Sleep(time.Millisecond)
	}
	if slowest >= timeout {
		t.Fatalf("a call waited %v with Redis down", slowest)
	}
	for _, in := range []*instance{a, b} {
		if in.fallbacks.Load() == 0 {
			t.Fatal("OnFallback not called with Redis down")
		}
		if n := in.logged("redis unavailable: breakers use local state"); n != 1 {
			t.Fatalf("%d lines about Redis going away, want 1", n)
		}
	}
	// Local breakers still work.
	fail(t, a.Set, "a", 3)
	if a.State("a") != breaker.Open || b.State("a") != breaker.Closed {
		t.Fatalf("local only: a %s, b %s", a.State("a"), b.State("a"))
	}

	srv.Restart()
	for _, in := range []*instance{a, b} {
		eventually(t, 2*time.Second, "redis back logged", func() bool {
			return in.logged("redis back: breaker state shared again") == 1
		})
	}
	if err := a.Force("a", breaker.Reset); err != nil {
		t.Fatal(err)
	}
	fallbacks := b.fallbacks.Load()
	fail(t, a.Set, "a", 3)
	eventually(t, refresh+60*time.Millisecond, "b refuses after Redis came back", func() bool { return !b.Ready("a") })
	if b.fallbacks.Load() != fallbacks {
		t.Error("fallbacks counted after Redis came back")
	}
}

func TestSharedResetClearsOpenUntil(t *testing.T) {
	srv := redistest.Start(t)
	st := breaker.Settings{ConsecutiveFailures: 1, OpenFor: time.Minute, Window: 10 * time.Second}
	a := newInstance(t, srv.Addr, st)
	fail(t, a.Set, "a", 1)
	eventually(t, 4*refresh, "open_until written", func() bool {
		n, _ := a.client.Exists(context.Background(), "test:breaker:a:open_until").Result()
		return n == 1
	})
	if err := a.Force("a", breaker.Reset); err != nil {
		t.Fatal(err)
	}
	eventually(t, 4*refresh, "open_until deleted", func() bool {
		n, _ := a.client.Exists(context.Background(), "test:breaker:a:open_until").Result()
		return n == 0
	})
	if !a.Ready("a") {
		t.Fatal("reset assistant not ready")
	}
}

// busyScript keeps Redis busy for ARGV[1] microseconds: every other
// client waits, as with an overloaded server.
const busyScript = `
local t0 = redis.call('TIME')
local start = t0[1] * 1000000 + t0[2]
while true do
  local t = redis.call('TIME')
  if t[1] * 1000000 + t[2] - start > tonumber(ARGV[1]) then return 1 end
end`

func TestSharedSlowRedisDelaysNoCall(t *testing.T) {
	srv := redistest.Start(t)
	st := breaker.Settings{ConsecutiveFailures: 3, OpenFor: time.Minute, Window: 10 * time.Second}
	a := newInstance(t, srv.Addr, st)
	time.Sleep(2 * refresh)

	busy := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true, ReadTimeout: 2 * time.Second,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	defer busy.Close()
	stalled := make(chan error, 1)
	go func() { stalled <- busy.Eval(context.Background(), busyScript, nil, 400000).Err() }()
	time.Sleep(20 * time.Millisecond)

	var slowest time.Duration
	for range 200 {
		t0 := time.Now()
		done, ok := a.Admit("a")
		if !ok {
			t.Fatal("refused while Redis is slow")
		}
		done(nil)
		slowest = max(slowest, time.Since(t0))
		time.Sleep(time.Millisecond)
	}
	if err := <-stalled; err != nil {
		t.Fatalf("busy script: %v", err)
	}
	if slowest >= 50*time.Millisecond {
		t.Fatalf("a call waited %v while Redis was slow", slowest)
	}
	if a.fallbacks.Load() == 0 || a.logged("redis unavailable: breakers use local state") != 1 {
		t.Fatalf("slow Redis: %d fallbacks, %d lines", a.fallbacks.Load(), a.logged("redis unavailable: breakers use local state"))
	}
	eventually(t, time.Second, "redis back logged", func() bool {
		return a.logged("redis back: breaker state shared again") == 1
	})
}
