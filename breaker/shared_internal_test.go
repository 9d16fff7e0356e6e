package breaker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"ailb/internal/redistest"
)

// A probe that succeeds clears the shared open-until and counts even
// while the key would still live, so nobody keeps refusing calls.
func TestProbeSuccessClearsSharedState(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{
		Addr: srv.Addr, ContextTimeoutEnabled: true, MaxRetries: -1, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	defer client.Close()
	ctx := context.Background()
	sh := NewShared(client, SharedOptions{Prefix: "t:"})
	s := New(Options{
		PerAssistant: map[string]Settings{"a": {ConsecutiveFailures: 1, OpenFor: 40 * time.Millisecond, Window: 10 * time.Second}},
		Shared:       sh,
	})
	done, _ := s.Admit("a")
	done(errors.New("busy"))
	sh.cycle(ctx) // writes open_until
	until, err := client.Get(ctx, "t:breaker:a:open_until").Int64()
	if err != nil {
		t.Fatalf("open_until not written: %v", err)
	}
	// Outlive the breaker's own OpenFor, and leave a stale count behind.
	client.Set(ctx, "t:breaker:a:open_until", until, time.Minute)
	client.Set(ctx, "t:breaker:a:consecutive", 9, time.Minute)
	time.Sleep(60 * time.Millisecond)
	probe, ok := s.Admit("a")
	if !ok {
		t.Fatal("own open-until blocked the probe")
	}
	probe(nil)
	sh.cycle(ctx)
	n, err := client.Exists(ctx, "t:breaker:a:open_until", "t:breaker:a:consecutive").Result()
	if err != nil || n != 0 {
		t.Fatalf("after a successful probe %d keys remain (%v)", n, err)
	}
	if s.State("a") != Closed {
		t.Fatalf("state %s", s.State("a"))
	}
}

// Results of calls admitted before the breaker changed state belong to
// the old generation: gobreaker drops them and so must the shared counts.
func TestStaleResultsStayOutOfSharedCounts(t *testing.T) {
	sh := NewShared(nil, SharedOptions{}) // never runs: only the pending counts are read
	s := New(Options{PerAssistant: map[string]Settings{"a": {ConsecutiveFailures: 1}}, Shared: sh})
	tests := []struct {
		name   string
		change func()
	}{
		{"opened", func() {
			d, _ := s.Admit("a")
			d(errors.New("busy"))
		}},
		{"reset", func() { _ = s.Force("a", Reset) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = s.Force("a", Reset)
			e := s.lookup("a")
			e.share.take()
			stale, _ := s.Admit("a")
			tt.change()
			e.share.take()
			stale(errors.New("late"))
			if b := e.share.take(); len(b.slots) != 0 || b.tail != 0 {
				t.Fatalf("stale result counted: %+v", b)
			}
		})
	}
}
