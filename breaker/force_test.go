package breaker_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"ailb/breaker"
)

func TestForce(t *testing.T) {
	tests := []struct {
		name        string
		open        bool // trip the breaker first
		give        []breaker.Action
		wantState   breaker.State
		wantForced  bool
		wantAdmit   bool
		wantChanges []string
	}{
		{"open a closed breaker", false, []breaker.Action{breaker.ForceOpen},
			breaker.Open, true, false, []string{"a:closed>open"}},
		{"close an open breaker", true, []breaker.Action{breaker.ForceClosed},
			breaker.Closed, true, true, []string{"a:closed>open", "a:open>closed"}},
		{"open then closed", false, []breaker.Action{breaker.ForceOpen, breaker.ForceClosed},
			breaker.Closed, true, true, []string{"a:closed>open", "a:open>closed"}},
		{"reset an open breaker", true, []breaker.Action{breaker.Reset},
			breaker.Closed, false, true, []string{"a:closed>open", "a:open>closed"}},
		{"reset a forced-open breaker", false, []breaker.Action{breaker.ForceOpen, breaker.Reset},
			breaker.Closed, false, true, []string{"a:closed>open", "a:open>closed"}},
		{"forcing closed a closed breaker changes nothing", false, []breaker.Action{breaker.ForceClosed, breaker.ForceClosed},
			breaker.Closed, true, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newSet(t, breaker.Settings{ConsecutiveFailures: 1, OpenFor: 30 * time.Millisecond})
			if tt.open {
				fail(t, s, "a", 1)
			}
			for _, a := range tt.give {
				if err := s.Force("a", a); err != nil {
					t.Fatalf("Force %s: %v", a, err)
				}
			}
			st := statusOf(t, s, "a")
			if s.State("a") != tt.wantState || st.State != tt.wantState || st.Forced != tt.wantForced {
				t.Fatalf("state %s / status %s forced %v; want %s forced %v",
					s.State("a"), st.State, st.Forced, tt.wantState, tt.wantForced)
			}
			if got := s.Ready("a"); got != tt.wantAdmit {
				t.Fatalf("ready %v", got)
			}
			done, ok := s.Admit("a")
			if ok != tt.wantAdmit {
				t.Fatalf("admit %v", ok)
			}
			if ok {
				done(nil)
			}
			if got := c.list(); !slices.Equal(got, tt.wantChanges) {
				t.Fatalf("OnChange %v, want %v", got, tt.wantChanges)
			}
		})
	}
}

func TestForcedOpenOutlastsOpenFor(t *testing.T) {
	s, _ := newSet(t, breaker.Settings{ConsecutiveFailures: 1, OpenFor: 20 * time.Millisecond})
	if err := s.Force("a", breaker.ForceOpen); err != nil {
		t.Fatal(err)
	}
	time.Sleep(40 * time.Millisecond)
	if _, ok := s.Admit("a"); ok || s.Ready("a") || s.State("a") != breaker.Open {
		t.Fatal("forced open let a call through after OpenFor")
	}
	if !statusOf(t, s, "a").OpenUntil.IsZero() {
		t.Error("forced open has an open_until")
	}
}

func TestForcedClosedNeverOpens(t *testing.T) {
	s, c := newSet(t, breaker.Settings{ConsecutiveFailures: 1})
	if err := s.Force("a", breaker.ForceClosed); err != nil {
		t.Fatal(err)
	}
	fail(t, s, "a", 20)
	if s.State("a") != breaker.Closed || len(c.list()) != 0 {
		t.Fatalf("forced closed: %s, changes %v", s.State("a"), c.list())
	}
	if err := s.Force("a", breaker.Reset); err != nil {
		t.Fatal(err)
	}
	fail(t, s, "a", 1)
	if s.State("a") != breaker.Open {
		t.Fatal("after Reset the breaker must open again")
	}
}

func TestResetStartsFresh(t *testing.T) {
	s, c := newSet(t, breaker.Settings{ConsecutiveFailures: 3})
	fail(t, s, "a", 2)
	late, _ := s.Admit("a") // admitted before the reset, reported after
	if err := s.Force("a", breaker.Reset); err != nil {
		t.Fatal(err)
	}
	late(errBusy) // opens the discarded breaker: nobody hears of it
	fail(t, s, "a", 2)
	if got := statusOf(t, s, "a").Counts; got.Failures != 2 || s.State("a") != breaker.Closed {
		t.Fatalf("after reset: counts %+v, state %s; old results must not count", got, s.State("a"))
	}
	if got := c.list(); len(got) != 0 {
		t.Fatalf("OnChange %v: the discarded breaker's transition was reported", got)
	}
}

func TestForceErrors(t *testing.T) {
	s, _ := newSet(t, breaker.Settings{})
	err := s.Force("nobody", breaker.ForceOpen)
	if !errors.Is(err, breaker.ErrUnknownAssistant) || !strings.Contains(err.Error(), `"nobody"`) {
		t.Fatalf("unknown assistant: %v", err)
	}
	if err := s.Force("a", breaker.Action(42)); err == nil {
		t.Fatal("unknown action accepted")
	}
}

func TestParseAction(t *testing.T) {
	tests := []struct {
		give    string
		want    breaker.Action
		wantErr bool
	}{
		{give: "open", want: breaker.ForceOpen},
		{give: "closed", want: breaker.ForceClosed},
		{give: "reset", want: breaker.Reset},
		{give: "half-open", wantErr: true},
		{give: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := breaker.ParseAction(tt.give)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseAction(%q) = %v, %v", tt.give, got, err)
		}
	}
}
