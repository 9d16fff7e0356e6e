package breaker_test

import (
	"slices"
	"testing"
	"time"

	"ailb/breaker"
)

func TestUpdate(t *testing.T) {
	c := &changes{}
	one := breaker.Settings{ConsecutiveFailures: 1, OpenFor: time.Minute}
	s := breaker.New(breaker.Options{
		PerAssistant: map[string]breaker.Settings{"same": one, "changed": one, "removed": one, "inherits": {}, "forced": one},
		Default:      breaker.Settings{ConsecutiveFailures: 1, OpenFor: time.Minute},
		OnChange:     c.on,
	})
	for _, a := range []string{"same", "changed", "removed", "inherits"} {
		fail(t, s, a, 1)
	}
	call(t, s, "lazy", nil) // not configured: Default
	fail(t, s, "lazy", 1)
	if err := s.Force("forced", breaker.ForceOpen); err != nil {
		t.Fatal(err)
	}
	c.got = nil

	s.Update(breaker.Options{
		PerAssistant: map[string]breaker.Settings{
			"same":     one,
			"changed":  {ConsecutiveFailures: 2, OpenFor: time.Minute},
			"inherits": {},
			"added":    {},
			"forced":   {ConsecutiveFailures: 7},
		},
		// Same effective Default: "inherits" and "lazy" keep their state.
		Default: breaker.Settings{ConsecutiveFailures: 1, OpenFor: time.Minute, FailureRatio: 0.5},
	})

	tests := []struct {
		give string
		want breaker.State
	}{
		{"same", breaker.Open},
		{"inherits", breaker.Open},
		{"lazy", breaker.Open},
		{"changed", breaker.Closed},
		{"added", breaker.Closed},
		{"forced", breaker.Open}, // new settings, the force holds
	}
	for _, tt := range tests {
		if got := s.State(tt.give); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.give, got, tt.want)
		}
	}
	var names []string
	for _, st := range s.Status() {
		names = append(names, st.Name)
	}
	if want := []string{"added", "changed", "forced", "inherits", "lazy", "same"}; !slices.Equal(names, want) {
		t.Errorf("Status lists %v, want %v", names, want)
	}
	if err := s.Force("removed", breaker.ForceOpen); err == nil {
		t.Error("removed assistant still forceable")
	}
	if want := []string{"changed:open>closed"}; !slices.Equal(c.list(), want) {
		t.Errorf("OnChange %v, want %v", c.list(), want)
	}
	// The changed assistant runs on its new settings.
	fail(t, s, "changed", 1)
	if got := s.State("changed"); got != breaker.Closed {
		t.Errorf("changed opened after 1 failure with ConsecutiveFailures 2")
	}

	// A new Default changes the lazily made breaker too.
	s.Update(breaker.Options{
		PerAssistant: map[string]breaker.Settings{"same": one},
		Default:      breaker.Settings{ConsecutiveFailures: 3},
	})
	if got := s.State("lazy"); got != breaker.Closed {
		t.Errorf("lazy after a new Default: %s, want a fresh breaker", got)
	}
	if got := s.State("same"); got != breaker.Open {
		t.Errorf("same after an unrelated change: %s", got)
	}
}
