package dialplan_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"ailb/config"
	"ailb/dialplan"
	"ailb/esl"
	"ailb/esl/fssim"
	"ailb/internal/redistest"
	"ailb/routing"
)

// instance is one ailb (ESL server + flow) on a Redis store.
type instance struct {
	sw        *fssim.Switch
	rt        *dialplan.Runtime
	fallbacks atomic.Int64
}

func startInstance(t *testing.T, yaml, redisAddr string, targets []fssim.Target) *instance {
	t.Helper()
	cfg, err := config.Load(strings.NewReader(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(&redis.Options{Addr: redisAddr, ContextTimeoutEnabled: true, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	in := &instance{}
	store := routing.NewRedis(client, routing.RedisOptions{Timeout: 50 * time.Millisecond, LeaseTTL: 3 * time.Second, Refresh: 100 * time.Millisecond, OnFallback: func() { in.fallbacks.Add(1) }})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); store.Run(ctx) }()
	// Registered first, so it runs after the ESL server has stopped.
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		client.Close()
	})
	rt, err := dialplan.NewRuntime(cfg, nil, dialplan.Deps{Store: store}, store, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	in.rt = rt
	addr := serveESL(t, &esl.Server{Log: zap.NewNop(), HangupWait: 2 * time.Second, Handler: rt.Flow})
	in.sw = &fssim.Switch{Addr: addr, Scale: 0.05, Targets: targets}
	return in
}

func (in *instance) call(t *testing.T) *fssim.Result {
	t.Helper()
	res, err := in.sw.Run(context.Background(), fssim.Call{Vars: map[string]string{"ailb_route": "sales"}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Two instances taking turns produce one rotation, not two.
func TestTwoInstancesShareOneRotation(t *testing.T) {
	r := redistest.Start(t)
	a := startInstance(t, baseConfig, r.Addr, []fssim.Target{{Outcome: talk}})
	b := startInstance(t, baseConfig, r.Addr, []fssim.Target{{Outcome: talk}})
	var got []string
	for i := range 6 {
		in := a
		if i%2 == 1 {
			in = b
		}
		got = append(got, endpoints(in.call(t)))
	}
	want := "sofia/internal/a@10.0.0.1 sofia/internal/b@10.0.0.2 sofia/gateway/gw/300"
	if s := strings.Join(got, " "); s != want+" "+want {
		t.Fatalf("rotation across instances:\n got %s\nwant %s %s", s, want, want)
	}
}

// A member switched off on one instance is off on the other.
func TestMemberStatusSharedBetweenInstances(t *testing.T) {
	r := redistest.Start(t)
	a := startInstance(t, baseConfig, r.Addr, []fssim.Target{{Outcome: talk}})
	b := startInstance(t, baseConfig, r.Addr, []fssim.Target{{Outcome: talk}})
	if err := a.rt.SetStatus(context.Background(), "sales", "a", false); err != nil {
		t.Fatal(err)
	}
	if changed, err := b.rt.SyncStatus(context.Background()); err != nil || !changed {
		t.Fatalf("sync: %v %v", changed, err)
	}
	for range 4 {
		if eps := endpoints(b.call(t)); strings.Contains(eps, "/a@") {
			t.Fatalf("inactive member used on the other instance: %s", eps)
		}
	}
}

// Redis dies in the middle of a load run: no call fails, local state
// takes over; Redis comes back and the instances share again.
func TestRedisKilledMidLoadDropsNoCall(t *testing.T) {
	r := redistest.Start(t)
	targets := []fssim.Target{{Match: "b@", Outcome: busy}, {Outcome: fssim.Outcome{Kind: fssim.Answer, TalkFor: 300 * time.Millisecond}}}
	a := startInstance(t, baseConfig, r.Addr, targets)
	b := startInstance(t, baseConfig, r.Addr, targets)
	const n = 120
	var wg sync.WaitGroup
	var failed atomic.Int64
	var failures sync.Map
	for i := range n {
		if i == n/3 {
			r.Kill()
		}
		if i == 2*n/3 {
			r.Restart()
		}
		in := a
		if i%2 == 1 {
			in = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := in.sw.Run(context.Background(), fssim.Call{Vars: map[string]string{"ailb_route": "sales"}})
			if err != nil || len(res.Bridges) == 0 || !res.Bridges[len(res.Bridges)-1].Answered || res.HangupCause != "NORMAL_CLEARING" {
				failed.Add(1)
				failures.Store(i, res)
			}
		}()
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	if f := failed.Load(); f != 0 {
		failures.Range(func(k, v any) bool {
			if res, ok := v.(*fssim.Result); ok && res != nil {
				t.Logf("call %v: %s cause %q end %q", k, endpoints(res), res.HangupCause, res.End)
			}
			return true
		})
		t.Fatalf("%d of %d calls failed while Redis died and came back", f, n)
	}
	if a.fallbacks.Load()+b.fallbacks.Load() == 0 {
		t.Fatal("no operation fell back to local state while Redis was down")
	}
	// Back to one shared rotation.
	time.Sleep(300 * time.Millisecond)
	before := a.fallbacks.Load() + b.fallbacks.Load()
	a.call(t)
	b.call(t)
	if after := a.fallbacks.Load() + b.fallbacks.Load(); after != before {
		t.Fatalf("still on local state after Redis came back: %d more fallbacks", after-before)
	}
}
