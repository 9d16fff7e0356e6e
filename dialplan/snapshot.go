// Package dialplan is ailb's server-side dialplan: for every call it
// resolves the route, connects the caller to an assistant, moves on when
// one fails, and runs the pool's fallback, without ever dropping the
// caller.
package dialplan

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"ailb/config"
	"ailb/media"
	"ailb/routing"
)

// Snapshot is everything a call reads from configuration, immutable. A
// reload builds a new one; calls in progress keep the one they started
// with.
type Snapshot struct {
	Routes     routing.Table
	Pools      map[string]*Pool
	Assistants map[string]*Assistant
	Menus      map[string]*config.Menu
	// Overflow is each capped route's action for calls over its max_calls.
	Overflow map[string]*config.Action
	// Store counts active calls per assistant (shared by every pool).
	Store routing.Store
	// Gate is the assistants' breakers (nil: none).
	Gate routing.Gate
	// Config is what the snapshot was built from (admin API listings).
	Config *config.Config
	// Relay registers relayed streams; RelayURL is how FreeSWITCH reaches it.
	Relay    Relay
	RelayURL string
	// HoldPrompt plays while a streaming caller is moved on.
	HoldPrompt string
	// Streams is set when some assistant is reached over WebSocket.
	Streams bool
	// Linger is the `linger` sent to FreeSWITCH, in seconds.
	Linger int
	// MaxCall hands a call back to the dialplan after this long.
	MaxCall time.Duration

	setup setup // every call's first commands, built once
}

// Pool is a routing pool with what happens around it.
type Pool struct {
	*routing.Pool
	Fallback config.Actions
	After    *config.Action
}

// Assistant is one assistant as the call flow uses it: SIP or WS is set.
type Assistant struct {
	Name     string
	SIP      *media.SIPAssistant
	WS       *WSAssistant
	MaxCalls int // 0: no cap
	Retry    config.Retry
}

// WSAssistant is an assistant reached by streaming the caller's audio.
type WSAssistant struct {
	URL      *media.URLTemplate
	Protocol string // raw or twilio
	Direct   bool   // FreeSWITCH connects to the assistant itself
	Module   string // audio_fork or audio_stream
	Rate     int
	BotID    string
	Token    string      // {auth_token}; never logged
	Header   http.Header // upgrade headers; may hold secrets

	ConnectTimeout, FirstAudio, Silence time.Duration
}

// Deps are the long-lived objects a snapshot uses; they outlive reloads.
type Deps struct {
	Store   routing.Store    // required
	Gate    routing.Gate     // breakers; nil for none
	Latency *routing.Latency // lowest_latency's measurements; nil for fresh ones
	// Status overrides members' configured status ("pool/member" -> active),
	// as set through the admin API.
	Status map[string]bool
	// OnSkip counts members skipped because their breaker is open.
	OnSkip func(pool, member string)
	// Relay is the WebSocket relay (nil: relay-mode assistants fail over).
	Relay Relay
}

// Relay is the media relay as the call flow uses it.
type Relay interface {
	Register(media.StreamConfig) (*media.Stream, error)
}

// Build turns a validated configuration into a Snapshot.
func Build(c *config.Config, d Deps) (*Snapshot, error) {
	if d.Store == nil {
		return nil, fmt.Errorf("dialplan: no store")
	}
	if d.Latency == nil {
		d.Latency = routing.NewLatency(routing.LatencyOptions{})
	}
	s := &Snapshot{
		Pools:      map[string]*Pool{},
		Assistants: map[string]*Assistant{},
		Menus:      c.IVR,
		Overflow:   map[string]*config.Action{},
		Store:      d.Store,
		Gate:       d.Gate,
		Linger:     int(c.ESL.Linger.D() / time.Second),
		MaxCall:    c.ESL.MaxCallDuration.D(),
		Config:     c,
		Relay:      d.Relay,
		RelayURL:   relayURL(c),
		HoldPrompt: c.Media.HoldPrompt,
	}
	for name, a := range c.Assistants {
		sa := &Assistant{Name: name, MaxCalls: max(0, a.MaxCalls), Retry: *a.Retry}
		if a.WebSocket != nil {
			ws, err := wsAssistant(a.WebSocket)
			if err != nil {
				return nil, fmt.Errorf("assistants.%s.websocket: %w", name, err)
			}
			sa.WS = ws
			s.Streams = true
		} else {
			sa.SIP = sipAssistant(a)
		}
		s.Assistants[name] = sa
	}
	for name, p := range c.Pools {
		ms := make([]routing.Member, 0, len(p.Members))
		for _, m := range p.Members {
			active := m.Status == config.StatusActive
			if v, ok := d.Status[name+"/"+m.Assistant]; ok {
				active = v
			}
			ms = append(ms, routing.Member{
				Name:     m.Assistant,
				Priority: m.Priority,
				Weight:   m.EffectiveWeight(),
				Position: m.Position,
				MaxCalls: s.Assistants[m.Assistant].MaxCalls,
				Active:   active,
			})
		}
		rp, err := routing.NewPool(routing.PoolConfig{
			Name: name, Strategy: routing.Kind(p.Strategy), FollowThrough: p.Follow(),
			Members: ms, Store: d.Store, Gate: d.Gate, Latency: d.Latency, OnSkip: d.OnSkip,
			HashKey: hashKey(p.HashKey),
		})
		if err != nil {
			return nil, fmt.Errorf("pools.%s: %w", name, err)
		}
		s.Pools[name] = &Pool{Pool: rp, Fallback: p.Fallback, After: p.After}
	}
	for _, r := range c.Routes {
		s.Routes.Rules = append(s.Routes.Rules, routing.Rule{
			Name:        r.Name,
			Destination: r.Match.DestinationRE(),
			Caller:      r.Match.CallerRE(),
			Context:     r.Match.Context,
			Variables:   r.Match.Variables,
			Target:      target(&r.Target),
			MaxCalls:    r.MaxCalls,
		})
		if r.Overflow != nil {
			s.Overflow[r.Name] = r.Overflow
		}
	}
	s.Routes.Default = routing.Rule{Name: "default", Target: target(c.DefaultRoute)}
	s.setup = newSetup(s.Linger, s.Streams)
	return s, nil
}

// hashKey reads consistent_hash's key from the call.
func hashKey(k string) func(routing.HashFacts) string {
	switch {
	case k == "":
		return nil
	case k == "caller":
		return func(f routing.HashFacts) string { return f.Caller }
	case k == "destination":
		return func(f routing.HashFacts) string { return f.Destination }
	}
	name := strings.TrimPrefix(k, "variable:")
	return func(f routing.HashFacts) string {
		if f.Var == nil {
			return ""
		}
		return f.Var(name)
	}
}

func relayURL(c *config.Config) string {
	if c.Media.URL != "" {
		return strings.TrimRight(c.Media.URL, "/")
	}
	if c.Listen.Media == nil || *c.Listen.Media == "" {
		return ""
	}
	return "ws://" + *c.Listen.Media
}

func wsAssistant(w *config.WebSocket) (*WSAssistant, error) {
	t, err := media.ParseURLTemplate(w.URL)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	for k, v := range w.Headers {
		h.Set(k, v)
	}
	for k, v := range w.Secrets {
		h.Set(k, v)
	}
	return &WSAssistant{
		URL: t, Protocol: w.Protocol, Direct: w.Mode == config.ModeDirect, Module: w.Module,
		Rate: w.SampleRate, BotID: w.BotID, Token: w.AuthToken, Header: h,
		ConnectTimeout: w.ConnectTimeout.D(), FirstAudio: w.FirstAudioTimeout.D(), Silence: w.SilenceTimeout.D(),
	}, nil
}

func sipAssistant(a *config.Assistant) *media.SIPAssistant {
	target := a.SIP.Endpoint
	if target == "" {
		target = "sofia/gateway/" + a.SIP.Gateway + "/" + a.SIP.Number
	}
	sa := &media.SIPAssistant{Name: a.Name, Target: target, AnswerTimeout: a.AnswerTimeout.D()}
	names := make([]string, 0, len(a.SIP.Headers)+len(a.SIP.Secrets))
	for h := range a.SIP.Headers {
		names = append(names, h)
	}
	for h := range a.SIP.Secrets {
		names = append(names, h)
	}
	sort.Strings(names)
	for _, h := range names {
		v, ok := a.SIP.Headers[h]
		if !ok {
			v = a.SIP.Secrets[h]
		}
		sa.Headers = append(sa.Headers, media.Header{Name: h, Value: v})
	}
	return sa
}

func target(t *config.Target) routing.Target {
	switch t.Kind() {
	case "pool":
		return routing.Target{Kind: routing.ToPool, Name: t.Pool}
	case "assistant":
		return routing.Target{Kind: routing.ToAssistant, Name: t.Assistant}
	case "extension":
		return routing.Target{Kind: routing.ToExtension, Extension: t.Extension, Context: t.Context}
	case "ivr":
		return routing.Target{Kind: routing.ToIVR, Name: t.IVR}
	}
	return routing.Target{Kind: routing.ToHangup, Cause: t.Hangup}
}
