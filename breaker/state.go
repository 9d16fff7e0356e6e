package breaker

import (
	"errors"
	"fmt"

	"github.com/sony/gobreaker/v2"
)

// State is a breaker's state. Its value is the ailb_breaker_state metric.
type State int

// States.
const (
	Closed   State = 0 // calls go through
	HalfOpen State = 1 // only probes go through
	Open     State = 2 // calls are refused
)

func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// MarshalText writes the state's name, as in JSON status.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// stateOf maps gobreaker's states onto ours.
func stateOf(s gobreaker.State) State {
	switch s {
	case gobreaker.StateHalfOpen:
		return HalfOpen
	case gobreaker.StateOpen:
		return Open
	}
	return Closed
}

// Action is an operator's override of one assistant's breaker.
type Action int

// Actions.
const (
	// ForceOpen refuses every call until ForceClosed or Reset.
	ForceOpen Action = iota + 1
	// ForceClosed admits every call and never opens until Reset.
	ForceClosed
	// Reset drops any force and starts a fresh, closed breaker.
	Reset
)

func (a Action) String() string {
	switch a {
	case ForceOpen:
		return "open"
	case ForceClosed:
		return "closed"
	case Reset:
		return "reset"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// ParseAction reads an action by name: open, closed or reset.
func ParseAction(s string) (Action, error) {
	for _, a := range []Action{ForceOpen, ForceClosed, Reset} {
		if a.String() == s {
			return a, nil
		}
	}
	return 0, fmt.Errorf("breaker: action %q: want open, closed or reset", s)
}

// ErrUnknownAssistant is wrapped by errors about an assistant the Set
// does not know.
var ErrUnknownAssistant = errors.New("breaker: unknown assistant")
