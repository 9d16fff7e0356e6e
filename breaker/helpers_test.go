package breaker_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"ailb/breaker"
	"ailb/routing"
)

// The Set is what routing's pools consult.
var _ routing.Gate = (*breaker.Set)(nil)

var errBusy = errors.New("assistant busy")

// gone is an outcome that counts neither way, like a caller hanging up
// first (media.Failure with Kind CallerGone).
type gone struct{}

func (*gone) Error() string  { return "caller gone" }
func (*gone) Excluded() bool { return true }

// changes records OnChange calls as "assistant:from>to".
type changes struct {
	mu  sync.Mutex
	got []string
}

func (c *changes) on(a string, from, to breaker.State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, fmt.Sprintf("%s:%s>%s", a, from, to))
}

func (c *changes) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

// newSet builds a Set with one configured assistant "a".
func newSet(t *testing.T, st breaker.Settings) (*breaker.Set, *changes) {
	t.Helper()
	c := &changes{}
	s := breaker.New(breaker.Options{
		PerAssistant: map[string]breaker.Settings{"a": st},
		OnChange:     c.on,
	})
	return s, c
}

// call admits one call to name and reports err; it fails the test when
// the breaker refuses.
func call(t *testing.T, s *breaker.Set, name string, err error) {
	t.Helper()
	done, ok := s.Admit(name)
	if !ok {
		t.Fatalf("%s: admission refused (state %s)", name, s.State(name))
	}
	done(err)
}

// fail reports n failures on name.
func fail(t *testing.T, s *breaker.Set, name string, n int) {
	t.Helper()
	for range n {
		call(t, s, name, errBusy)
	}
}

func statusOf(t *testing.T, s *breaker.Set, name string) breaker.Status {
	t.Helper()
	for _, st := range s.Status() {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("%s not in Status", name)
	return breaker.Status{}
}

// eventually polls cond every 5ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
