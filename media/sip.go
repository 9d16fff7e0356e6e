package media

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"ailb/esl"

	"github.com/percipia/eslgo/command"
)

// Session is what media needs of a call's ESL session.
type Session interface {
	UUID() string
	Start(ctx context.Context, app, arg string) (string, error)
	Wait(ctx context.Context, timeout time.Duration, match func(*esl.Event) bool) (*esl.Event, error)
	Do(ctx context.Context, cmd esl.Command) (esl.Reply, error)
}

var _ Session = (*esl.Session)(nil)

// ALegVars are set on the caller's channel before any bridge: a failed
// bridge must not hang up the caller (continue_on_fail), an answered one
// must hand control back when the AI leaves (hangup_after_bridge=false),
// ringing is not media (ignore_early_media), and the caller's own X-
// headers must not reach the assistant (sip_copy_custom_headers=false).
var ALegVars = []Var{
	{"continue_on_fail", "true"},
	{"hangup_after_bridge", "false"},
	{"ignore_early_media", "true"},
	{"sip_copy_custom_headers", "false"},
}

// Header is an extra SIP header; Value may hold placeholders.
type Header struct{ Name, Value string }

// SIPAssistant is how one assistant is dialled.
type SIPAssistant struct {
	Name          string
	Target        string // sofia/... dial target (validated config)
	AnswerTimeout time.Duration
	Headers       []Header
}

// CallInfo fills header placeholders and the ailb headers.
type CallInfo struct {
	CallID, Token, From, To, Route, Pool string
}

func (ci CallInfo) expand(v, assistant string) string {
	if !strings.Contains(v, "{") {
		return v
	}
	return strings.NewReplacer(
		"{from}", ci.From, "{to}", ci.To, "{call_id}", ci.CallID,
		"{route}", ci.Route, "{pool}", ci.Pool, "{assistant}", assistant,
	).Replace(v)
}

// DialString is the bridge argument for this assistant. bleg names the AI
// leg (origination_uuid) so it can be killed if FreeSWITCH never answers.
func (a *SIPAssistant) DialString(ci CallInfo, bleg string) string {
	vars := make([]Var, 0, 5+len(a.Headers))
	vars = append(vars,
		Var{"origination_uuid", bleg},
		Var{"originate_timeout", Seconds(a.AnswerTimeout)},
		Var{"sip_h_X-AILB-Call", ci.CallID},
	)
	if ci.Token != "" {
		vars = append(vars, Var{"sip_h_X-AILB-Token", ci.Token})
	}
	for _, h := range a.Headers {
		vars = append(vars, Var{"sip_h_" + h.Name, ci.expand(h.Value, a.Name)})
	}
	return DialString(vars, a.Target)
}

// Leg is an answered bridge: the caller is talking to the far end.
type Leg struct {
	AppUUID    string
	BLeg       string
	AnsweredAt time.Time
}

// End says how an answered leg ended.
type End struct {
	ByCaller bool   // the caller hung up; otherwise the far end left
	Cause    string // FreeSWITCH cause
}

// ErrStuck means FreeSWITCH neither answered nor failed a bridge long
// after its own timeout, even after the leg was killed: the channel's
// application queue cannot be trusted and the call goes back to the
// dialplan.
var ErrStuck = errors.New("media: bridge did not end after its timeout")

// watchdogGrace is how long past FreeSWITCH's own originate_timeout ailb
// waits before it kills the AI leg itself.
const watchdogGrace = 2 * time.Second

// Dial runs the bridge and returns when the far end answered (*Leg), failed
// (*Failure), or the caller hung up (*Failure of kind CallerGone). Other
// errors are the session's (the connection is gone).
func Dial(ctx context.Context, s Session, dial string, ring time.Duration, bleg string) (*Leg, error) {
	id, err := s.Start(ctx, "bridge", dial)
	if err != nil {
		return nil, err
	}
	match := func(ev *esl.Event) bool {
		return ev.Is(esl.ChannelBridge) || (ev.Is(esl.ChannelExecuteComplete) && ev.AppUUID() == id)
	}
	ev, err := s.Wait(ctx, ring+watchdogGrace, match)
	if errors.Is(err, esl.ErrTimeout) && bleg != "" {
		// FreeSWITCH's originate_timeout should have ended it: end it here.
		_, _ = s.Do(ctx, command.API{Command: "uuid_kill", Arguments: bleg + " ALLOTTED_TIMEOUT"})
		ev, err = s.Wait(ctx, watchdogGrace, match)
		if err == nil && !ev.Is(esl.ChannelBridge) {
			f := Classify(ev)
			if f == nil || f.Kind != CallerGone {
				return nil, &Failure{Kind: Timeout, Cause: "ALLOTTED_TIMEOUT"}
			}
			return nil, f
		}
	}
	var he *esl.HangupError
	switch {
	case errors.As(err, &he):
		return nil, ClassifyHangup(he.Event)
	case errors.Is(err, esl.ErrTimeout):
		return nil, ErrStuck
	case err != nil:
		return nil, err
	case ev.Is(esl.ChannelBridge):
		// Cloned: a substring would keep the whole 8 KB event alive for
		// the length of the conversation.
		return &Leg{AppUUID: id, BLeg: strings.Clone(ev.Get("Other-Leg-Unique-ID")), AnsweredAt: time.Now()}, nil
	}
	if f := Classify(ev); f != nil {
		return nil, f
	}
	// Completion with SUCCESS but no CHANNEL_BRIDGE seen: answered and
	// already over. Report it as answered.
	return &Leg{AppUUID: id, BLeg: strings.Clone(ev.Get("Other-Leg-Unique-ID")), AnsweredAt: time.Now()}, nil
}

// Wait blocks until the bridge ends: the far end leaves (its completion)
// or the caller hangs up.
func (l *Leg) Wait(ctx context.Context, s Session) (End, error) {
	ev, err := s.Wait(ctx, 0, esl.CompletionOf(l.AppUUID))
	var he *esl.HangupError
	if errors.As(err, &he) {
		return End{ByCaller: true, Cause: he.Cause}, nil
	}
	if err != nil {
		return End{}, err
	}
	cause := ev.Var("bridge_hangup_cause")
	if cause == "" {
		cause = ev.Var("last_bridge_hangup_cause")
	}
	return End{Cause: cause}, nil
}

// RingGroup is a fallback bridge to people (extensions, phones).
type RingGroup struct {
	Endpoints  []string // validated dial targets
	Sequential bool
	Timeout    time.Duration // per endpoint when sequential, overall otherwise
}

// DialString is the bridge argument: endpoints joined with ',' (all ring
// at once) or '|' (one after the other, each for Timeout).
func (g *RingGroup) DialString(ci CallInfo, bleg string) string {
	vars := []Var{{"sip_h_X-AILB-Call", ci.CallID}}
	if !g.Sequential {
		vars = append(vars, Var{"originate_timeout", Seconds(g.Timeout)})
		return DialString(vars, strings.Join(g.Endpoints, ","))
	}
	legs := make([]string, len(g.Endpoints))
	for i, ep := range g.Endpoints {
		legs[i] = fmt.Sprintf("[leg_timeout=%s]%s", Seconds(g.Timeout), ep)
	}
	return DialString(vars, strings.Join(legs, "|"))
}

// Ring is how long the group may ring before FreeSWITCH gives up.
func (g *RingGroup) Ring() time.Duration {
	if g.Sequential {
		return g.Timeout * time.Duration(len(g.Endpoints))
	}
	return g.Timeout
}
