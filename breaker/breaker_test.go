package breaker_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ailb/breaker"
)

func TestConsecutiveFailuresOpen(t *testing.T) {
	tests := []struct {
		give uint32 // ConsecutiveFailures
		want int    // failures that open it
	}{
		{give: 1, want: 1},
		{give: 3, want: 3},
		{give: 0, want: 5}, // default
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.give), func(t *testing.T) {
			s, _ := newSet(t, breaker.Settings{ConsecutiveFailures: tt.give, OpenFor: time.Minute})
			fail(t, s, "a", tt.want-1)
			if got := s.State("a"); got != breaker.Closed || !s.Ready("a") {
				t.Fatalf("after %d failures: %s, ready %v; want closed", tt.want-1, got, s.Ready("a"))
			}
			call(t, s, "a", nil) // a success breaks the run
			fail(t, s, "a", tt.want-1)
			if got := s.State("a"); got != breaker.Closed {
				t.Fatalf("run broken by a success: %s, want closed", got)
			}
			fail(t, s, "a", 1)
			if got := s.State("a"); got != breaker.Open {
				t.Fatalf("after %d in a row: %s, want open", tt.want, got)
			}
			if s.Ready("a") {
				t.Error("open breaker is ready")
			}
			if done, ok := s.Admit("a"); ok || done != nil {
				t.Error("open breaker admitted a call")
			}
		})
	}
}

func TestHalfOpenProbe(t *testing.T) {
	tests := []struct {
		give error
		want breaker.State
	}{
		{give: nil, want: breaker.Closed},
		{give: errBusy, want: breaker.Open},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.give), func(t *testing.T) {
			s, _ := newSet(t, breaker.Settings{ConsecutiveFailures: 1, OpenFor: 40 * time.Millisecond})
			fail(t, s, "a", 1)
			if s.Ready("a") {
				t.Fatal("ready right after opening")
			}
			time.Sleep(60 * time.Millisecond)
			if !s.Ready("a") || s.State("a") != breaker.HalfOpen {
				t.Fatalf("after OpenFor: %s, ready %v; want half-open, ready", s.State("a"), s.Ready("a"))
			}
			probe, ok := s.Admit("a")
			if !ok {
				t.Fatal("probe refused")
			}
			if _, ok := s.Admit("a"); ok {
				t.Fatal("second call admitted while the one probe runs")
			}
			probe(tt.give)
			if got := s.State("a"); got != tt.want {
				t.Fatalf("after probe %v: %s, want %s", tt.give, got, tt.want)
			}
		})
	}
}

func TestProbesCloseAfterThatManySuccesses(t *testing.T) {
	s, _ := newSet(t, breaker.Settings{ConsecutiveFailures: 1, OpenFor: 30 * time.Millisecond, Probes: 2})
	fail(t, s, "a", 1)
	time.Sleep(45 * time.Millisecond)
	p1, ok1 := s.Admit("a")
	p2, ok2 := s.Admit("a")
	if _, ok3 := s.Admit("a"); !ok1 || !ok2 || ok3 {
		t.Fatalf("admitted %v %v %v, want two probes only", ok1, ok2, ok3)
	}
	p1(nil)
	if got := s.State("a"); got != breaker.HalfOpen {
		t.Fatalf("after one of two successes: %s", got)
	}
	p2(nil)
	if got := s.State("a"); got != breaker.Closed {
		t.Fatalf("after two successes: %s", got)
	}
}

func TestFailureRatio(t *testing.T) {
	// ConsecutiveFailures is out of reach: only the ratio can open it.
	st := breaker.Settings{ConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 10, OpenFor: time.Minute}
	tests := []struct {
		name string
		give string // s success, f failure, x excluded
		want breaker.State
	}{
		{"half of ten", "sfsfsfsfsf", breaker.Open},
		{"half of nine is too few", "sfsfsfsff", breaker.Closed},
		{"four of ten", "ssfsfsfssf", breaker.Closed},
		{"six of twelve", "ssssssffffff", breaker.Open},
		{"exclusions are not results", "xxxxxxxxfff", breaker.Closed},
		{"exclusions do not dilute", "xxxxxsfsfsfsfsf", breaker.Open},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newSet(t, st)
			for _, r := range tt.give {
				call(t, s, "a", map[rune]error{'s': nil, 'f': errBusy, 'x': &gone{}}[r])
			}
			if got := s.State("a"); got != tt.want {
				t.Fatalf("%s: %s, want %s", tt.give, got, tt.want)
			}
		})
	}
}

func TestRatioWindowRolls(t *testing.T) {
	// Window 100ms in 10ms buckets: results older than the window drop out.
	s, _ := newSet(t, breaker.Settings{ConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 4, Window: 100 * time.Millisecond})
	call(t, s, "a", errBusy)
	call(t, s, "a", nil)
	call(t, s, "a", errBusy)
	time.Sleep(130 * time.Millisecond)
	call(t, s, "a", nil)
	call(t, s, "a", errBusy) // 5 results, 3 failures if the old ones stayed
	if got := s.State("a"); got != breaker.Closed {
		t.Fatalf("old results still counted: %s", got)
	}
	if got := statusOf(t, s, "a").Counts; got.Successes != 1 || got.Failures != 1 {
		t.Fatalf("counts %+v, want the two recent results", got)
	}
}

func TestLateResults(t *testing.T) {
	// Window 100ms in 10ms buckets. Calls are admitted late in the first
	// 100ms so that their results come after a fixed window would have
	// restarted (and dropped them); the rolling window keeps them while
	// their admission bucket is inside the window.
	tests := []struct {
		name  string
		give  time.Duration // between admission and result
		want  breaker.State
		wantN uint32 // failures counted after the first result
	}{
		{"buckets moved on", 40 * time.Millisecond, breaker.Open, 1},
		{"past the whole window", 150 * time.Millisecond, breaker.Closed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newSet(t, breaker.Settings{ConsecutiveFailures: 2, Window: 100 * time.Millisecond, OpenFor: time.Minute})
			time.Sleep(75 * time.Millisecond)
			d1, _ := s.Admit("a")
			d2, _ := s.Admit("a")
			time.Sleep(tt.give)
			d1(errBusy)
			if got := statusOf(t, s, "a").Counts.Failures; got != tt.wantN {
				t.Fatalf("first late failure: %d counted, want %d", got, tt.wantN)
			}
			d2(errBusy)
			if got := s.State("a"); got != tt.want {
				t.Fatalf("state %s, want %s", got, tt.want)
			}
		})
	}
}

func TestExclusionsCountNeitherWay(t *testing.T) {
	s, _ := newSet(t, breaker.Settings{ConsecutiveFailures: 2, OpenFor: 30 * time.Millisecond})
	call(t, s, "a", errBusy)
	call(t, s, "a", &gone{})
	call(t, s, "a", fmt.Errorf("bridge: %w", &gone{})) // wrapped
	if got := statusOf(t, s, "a").Counts; got.Successes != 0 || got.Failures != 1 || got.Exclusions != 2 || got.Consecutive != 1 {
		t.Fatalf("counts %+v: exclusions must not count as successes", got)
	}
	call(t, s, "a", errBusy)
	if got := s.State("a"); got != breaker.Open {
		t.Fatalf("state %s, want open: exclusions broke the run", got)
	}
	time.Sleep(45 * time.Millisecond)
	probe, ok := s.Admit("a")
	if !ok {
		t.Fatal("probe refused")
	}
	probe(&gone{})
	if got := s.State("a"); got != breaker.HalfOpen {
		t.Fatalf("after an excluded probe: %s, want still half-open", got)
	}
	probe2, ok := s.Admit("a")
	if !ok {
		t.Fatal("the excluded probe kept its slot")
	}
	probe2(nil)
	if got := s.State("a"); got != breaker.Closed {
		t.Fatalf("after a successful probe: %s", got)
	}
}

func TestTypedNilIsSuccess(t *testing.T) {
	s, _ := newSet(t, breaker.Settings{ConsecutiveFailures: 1})
	var f *gone
	call(t, s, "a", f)
	if got := statusOf(t, s, "a").Counts; got.Successes != 1 || s.State("a") != breaker.Closed {
		t.Fatalf("typed nil: counts %+v, state %s", got, s.State("a"))
	}
}

func TestDoneTwiceHasOneEffect(t *testing.T) {
	s, _ := newSet(t, breaker.Settings{ConsecutiveFailures: 2})
	done, _ := s.Admit("a")
	done(errBusy)
	done(errBusy)
	done(nil)
	if got := statusOf(t, s, "a").Counts; got.Failures != 1 || got.Successes != 0 || s.State("a") != breaker.Closed {
		t.Fatalf("counts %+v, state %s: want one failure", got, s.State("a"))
	}
	// One probe reported twice must not count as the two successes that
	// close a breaker with Probes 2.
	s2, _ := newSet(t, breaker.Settings{ConsecutiveFailures: 1, OpenFor: 30 * time.Millisecond, Probes: 2})
	fail(t, s2, "a", 1)
	time.Sleep(45 * time.Millisecond)
	probe, _ := s2.Admit("a")
	probe(nil)
	probe(nil)
	if got := s2.State("a"); got != breaker.HalfOpen {
		t.Fatalf("one probe reported twice closed the breaker: %s", got)
	}
}

func TestOnlyOneProbeUnderContention(t *testing.T) {
	s, _ := newSet(t, breaker.Settings{ConsecutiveFailures: 1, OpenFor: 30 * time.Millisecond})
	fail(t, s, "a", 1)
	time.Sleep(45 * time.Millisecond)
	var admitted atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			if done, ok := s.Admit("a"); ok {
				admitted.Add(1)
				defer done(nil)
				time.Sleep(10 * time.Millisecond) // hold the slot while others try
			}
		})
	}
	wg.Wait()
	if got := admitted.Load(); got != 1 {
		t.Fatalf("%d probes admitted, want 1", got)
	}
	if got := s.State("a"); got != breaker.Closed {
		t.Fatalf("state %s after the probe succeeded", got)
	}
}

func TestConcurrentCallsAreAllCounted(t *testing.T) {
	s, _ := newSet(t, breaker.Settings{ConsecutiveFailures: 1000, MinRequests: 1000})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				done, ok := s.Admit("a")
				if !ok {
					t.Error("refused")
					return
				}
				switch (i + j) % 3 {
				case 0:
					done(nil)
				case 1:
					done(errBusy)
				default:
					done(&gone{})
				}
			}
		})
	}
	wg.Wait()
	got := statusOf(t, s, "a").Counts
	if got.Requests != 800 || got.Successes+got.Failures+got.Exclusions != 800 {
		t.Fatalf("counts %+v, want 800 requests and results", got)
	}
}

func TestOnChangeOrder(t *testing.T) {
	var s *breaker.Set
	c := &changes{}
	s = breaker.New(breaker.Options{
		PerAssistant: map[string]breaker.Settings{"a": {ConsecutiveFailures: 2, OpenFor: 30 * time.Millisecond}},
		OnChange: func(a string, from, to breaker.State) {
			// Calling back into the Set from OnChange must not deadlock,
			// and sees the new state.
			if got := s.State(a); got != to {
				t.Errorf("State from OnChange(%s>%s) = %s", from, to, got)
			}
			s.Status()
			c.on(a, from, to)
		},
	})
	fail(t, s, "a", 2)
	time.Sleep(45 * time.Millisecond)
	call(t, s, "a", nil)
	want := []string{"a:closed>open", "a:open>half-open", "a:half-open>closed"}
	if got := c.list(); !slices.Equal(got, want) {
		t.Fatalf("OnChange %v, want %v", got, want)
	}
}

func TestUnknownAssistantGetsDefault(t *testing.T) {
	s := breaker.New(breaker.Options{Default: breaker.Settings{ConsecutiveFailures: 2}})
	if !s.Ready("x") || s.State("x") != breaker.Closed || len(s.Status()) != 0 {
		t.Fatal("an unseen assistant must be ready and closed without a breaker")
	}
	if err := s.Force("x", breaker.ForceOpen); err == nil {
		t.Fatal("forced an assistant with no breaker")
	}
	fail(t, s, "x", 2)
	if got := s.State("x"); got != breaker.Open {
		t.Fatalf("x after 2 failures with Default: %s", got)
	}
}
