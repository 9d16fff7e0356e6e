package routing

import "regexp"

// Facts are what a route can match on, read from the connect reply.
type Facts struct {
	Destination string
	Caller      string
	Context     string
	// Var returns a channel variable ("" when unset).
	Var func(name string) string
}

// Target kinds.
const (
	ToPool      = "pool"
	ToAssistant = "assistant"
	ToExtension = "extension"
	ToIVR       = "ivr"
	ToHangup    = "hangup"
)

// Target is where a route sends a call.
type Target struct {
	Kind      string // one of the To* constants
	Name      string // pool, assistant or IVR menu
	Extension string
	Context   string
	Cause     string
}

// Rule is one route: all conditions that are set must hold.
type Rule struct {
	Name        string
	Destination *regexp.Regexp
	Caller      *regexp.Regexp
	Context     string
	Variables   map[string]string
	Target      Target
	// MaxCalls caps the route's concurrent calls (0: no cap), counted in
	// the store under "route:<name>".
	MaxCalls int
}

func (r *Rule) matches(f Facts) bool {
	if r.Destination != nil && !r.Destination.MatchString(f.Destination) {
		return false
	}
	if r.Caller != nil && !r.Caller.MatchString(f.Caller) {
		return false
	}
	if r.Context != "" && r.Context != f.Context {
		return false
	}
	for k, v := range r.Variables {
		if f.Var == nil || f.Var(k) != v {
			return false
		}
	}
	return true
}

// Table resolves calls to routes: the first matching rule, else the default.
type Table struct {
	Rules   []Rule
	Default Rule
}

// Match returns the rule that takes the call.
func (t *Table) Match(f Facts) *Rule {
	for i := range t.Rules {
		if t.Rules[i].matches(f) {
			return &t.Rules[i]
		}
	}
	return &t.Default
}
