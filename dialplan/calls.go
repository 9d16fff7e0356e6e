package dialplan

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"

	"github.com/percipia/eslgo/command"

	"ailb/esl"
)

// Errors of SetState, mapped to HTTP statuses by the admin API.
var (
	ErrUnknownCall = errors.New("no such call in progress")
	ErrBadToken    = errors.New("wrong call token")
	ErrBadState    = errors.New("invalid state")
)

// StateNameRE and MaxStateValue bound what an assistant may store.
var StateNameRE = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// MaxStateValue is the longest value accepted for one state variable.
const MaxStateValue = 256

// liveCall is what the state API needs of a call in progress.
type liveCall struct {
	token string
	s     *esl.Session
}

// registry holds the calls in progress by call id.
type registry struct {
	mu sync.RWMutex
	m  map[string]liveCall
}

func (r *registry) add(id string, lc liveCall) {
	r.mu.Lock()
	if r.m == nil {
		r.m = map[string]liveCall{}
	}
	r.m[id] = lc
	r.mu.Unlock()
}

func (r *registry) remove(id string) {
	r.mu.Lock()
	delete(r.m, id)
	r.mu.Unlock()
}

func (r *registry) get(id string) (liveCall, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	lc, ok := r.m[id]
	return lc, ok
}

// ValidateState checks names and values an assistant wants to store.
func ValidateState(vars map[string]string) error {
	if len(vars) == 0 {
		return fmt.Errorf("%w: no values", ErrBadState)
	}
	if len(vars) > 32 {
		return fmt.Errorf("%w: %d values, at most 32", ErrBadState, len(vars))
	}
	for k, v := range vars {
		if !StateNameRE.MatchString(k) {
			return fmt.Errorf("%w: name %q: want 1-32 of a-z, 0-9 and _", ErrBadState, k)
		}
		if len(v) > MaxStateValue {
			return fmt.Errorf("%w: %s: %d bytes, at most %d", ErrBadState, k, len(v), MaxStateValue)
		}
		if err := esl.CheckValue(v); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadState, k, err)
		}
	}
	return nil
}

// SetState stores what an assistant collected as ailb_state_<name>
// variables on the live channel. token is the call's X-AILB-Token.
func (f *Flow) SetState(ctx context.Context, callID, token string, vars map[string]string) error {
	lc, ok := f.calls.get(callID)
	if !ok {
		return ErrUnknownCall
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(lc.token)) != 1 {
		return ErrBadToken
	}
	if err := ValidateState(vars); err != nil {
		return err
	}
	full := make(map[string]string, len(vars))
	for k, v := range vars {
		full["ailb_state_"+k] = v
	}
	return setChannelVars(ctx, lc.s, full)
}

// setChannelVars sends one uuid_setvar per value in one write: values may
// hold spaces and semicolons, which uuid_setvar_multi would split.
func setChannelVars(ctx context.Context, s *esl.Session, vars map[string]string) error {
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	cmds := make([]esl.Command, 0, len(names))
	for _, k := range names {
		cmds = append(cmds, command.API{Command: "uuid_setvar", Arguments: s.UUID() + " " + k + " " + esl.ArgEscape(vars[k])})
	}
	rs, err := s.Send(ctx, cmds...)
	if err != nil {
		return err
	}
	for i, r := range rs {
		if !r.OK() {
			return fmt.Errorf("uuid_setvar %s: %s", names[i], r.Result())
		}
	}
	return nil
}
