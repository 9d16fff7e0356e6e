package breaker_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"ailb/breaker"
)

func TestStatus(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := breaker.New(breaker.Options{
		PerAssistant: map[string]breaker.Settings{"b": {ConsecutiveFailures: 2, OpenFor: time.Minute}, "a": {}},
		Now:          func() time.Time { return t0 },
	})
	call(t, s, "b", nil)
	call(t, s, "b", &gone{})
	fail(t, s, "b", 2)
	got := s.Status()
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "b" {
		t.Fatalf("status %+v: want a then b", got)
	}
	b := got[1]
	// Counts restart when the breaker opens.
	if b.State != breaker.Open || b.Counts != (breaker.Counts{}) || !b.OpenUntil.Equal(t0.Add(time.Minute)) {
		t.Fatalf("b: %+v", b)
	}
	if !got[0].OpenUntil.IsZero() {
		t.Errorf("a is closed but has open_until %v", got[0].OpenUntil)
	}
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name":"b"`, `"state":"open"`, `"open_until":"2026-03-01T12:01:00Z"`, `"consecutive":0`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("%s lacks %s", raw, want)
		}
	}
}

func TestStatusCounts(t *testing.T) {
	s, _ := newSet(t, breaker.Settings{ConsecutiveFailures: 5})
	call(t, s, "a", nil)
	call(t, s, "a", errBusy)
	call(t, s, "a", errBusy)
	call(t, s, "a", &gone{})
	running, _ := s.Admit("a")
	defer running(nil)
	want := breaker.Counts{Requests: 5, Successes: 1, Failures: 2, Exclusions: 1, Consecutive: 2}
	if got := statusOf(t, s, "a").Counts; got != want {
		t.Fatalf("counts %+v, want %+v", got, want)
	}
}

func TestStateNames(t *testing.T) {
	tests := []struct {
		give breaker.State
		want string
		val  int
	}{
		{breaker.Closed, "closed", 0},
		{breaker.HalfOpen, "half-open", 1},
		{breaker.Open, "open", 2},
	}
	for _, tt := range tests {
		if tt.give.String() != tt.want || int(tt.give) != tt.val {
			t.Errorf("%d: %q", int(tt.give), tt.give)
		}
	}
}
