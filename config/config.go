// Package config is ailb's one YAML schema: Load parses a file strictly
// (unknown keys are errors), fills defaults, resolves secrets from the
// environment and validates every cross-reference.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is a whole ailb configuration.
type Config struct {
	Listen Listen `yaml:"listen"`
	ESL    ESL    `yaml:"esl"`
	Log    Log    `yaml:"log"`
	// Redis shares state between ailb instances; absent means in memory.
	Redis *Redis `yaml:"redis"`
	Admin Admin  `yaml:"admin"`
	Media Media  `yaml:"media"`
	// Defaults apply to every assistant that does not set the field.
	Defaults   AssistantDefaults     `yaml:"defaults"`
	Assistants map[string]*Assistant `yaml:"assistants"`
	Pools      map[string]*Pool      `yaml:"pools"`
	IVR        map[string]*Menu      `yaml:"ivr"`
	// Routes are tried in order; the first whose match holds takes the call.
	Routes []*Route `yaml:"routes"`
	// DefaultRoute takes calls no route matches. Required.
	DefaultRoute *Target `yaml:"default_route"`
}

// Listen holds the listener addresses.
type Listen struct {
	// ESL is where FreeSWITCH's socket application connects (default 127.0.0.1:8084).
	ESL string `yaml:"esl"`
	// HTTP serves /metrics, /healthz, /readyz and the admin API (default 127.0.0.1:8086; "" disables).
	HTTP string `yaml:"http"`
	// Media is the WebSocket relay FreeSWITCH streams callers' audio to
	// (default 127.0.0.1:8085; "" disables it, leaving only direct mode).
	Media *string `yaml:"media"`
	// Allow lists the CIDRs FreeSWITCH may connect from (default loopback only).
	Allow []string `yaml:"allow"`
}

// Media tunes WebSocket streaming.
type Media struct {
	// URL is how FreeSWITCH reaches the relay, when it differs from
	// ws://<listen.media> (another host, TLS in front).
	URL string `yaml:"url"`
	// HoldPrompt plays while ailb moves a streaming caller to the next
	// step, so the caller never hears dead air (default: a ringback tone).
	HoldPrompt string `yaml:"hold_prompt"`
}

// Redis is the shared state store. Addrs with one address is a single
// node; several are a Cluster; MasterName selects Sentinel.
type Redis struct {
	Addrs       []string `yaml:"addrs"`
	MasterName  string   `yaml:"master_name"`
	PasswordEnv string   `yaml:"password_env"`
	DB          int      `yaml:"db"`
	// Prefix starts every key (default "ailb:").
	Prefix string `yaml:"prefix"`
	// Timeout bounds each operation; a slower Redis counts as down and
	// local state is used (default 50ms).
	Timeout Duration `yaml:"timeout"`
	// LeaseTTL is how long a crashed instance's calls keep counting (default 30s).
	LeaseTTL Duration `yaml:"lease_ttl"`
	// SharedBreakers shares breaker state between instances (default true).
	SharedBreakers *bool `yaml:"shared_breakers"`

	Password string `yaml:"-"`
}

// Shared reports the effective shared_breakers.
func (r *Redis) Shared() bool { return r.SharedBreakers == nil || *r.SharedBreakers }

// Admin protects the admin API.
type Admin struct {
	// TokenEnv names the environment variable holding the bearer token.
	// Without it the admin API answers 401 to everything.
	TokenEnv string `yaml:"token_env"`
	Token    string `yaml:"-"`
}

// ESL tunes the call sessions.
type ESL struct {
	// Linger is how long FreeSWITCH keeps the socket after a hangup so the
	// last events arrive (default 10s; ailb exits sooner once it has them).
	Linger Duration `yaml:"linger"`
	// ReplyTimeout bounds each command's reply (default 10s).
	ReplyTimeout Duration `yaml:"reply_timeout"`
	// MaxCallDuration hands a call back to the dialplan after this long (default 4h).
	MaxCallDuration Duration `yaml:"max_call_duration"`
}

// Log selects the log output.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // json (default) or console
}

// AssistantDefaults are inherited by assistants.
type AssistantDefaults struct {
	// AnswerTimeout is how long an assistant may ring (default 4s).
	AnswerTimeout Duration `yaml:"answer_timeout"`
	// MaxCalls caps concurrent calls per assistant (default 0: no cap).
	MaxCalls int `yaml:"max_calls"`
	// Breaker settings for every assistant.
	Breaker Breaker `yaml:"breaker"`
	// Retry of transient failures on the same assistant.
	Retry Retry `yaml:"retry"`
}

// Breaker tunes an assistant's circuit breaker; unset fields inherit.
type Breaker struct {
	// ConsecutiveFailures opens the breaker after this many failures in a row (default 5).
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// FailureRatio opens it when failures/calls reaches this over Window (default 0.5)...
	FailureRatio float64 `yaml:"failure_ratio"`
	// ...with at least MinCalls results in Window (default 10).
	MinCalls int `yaml:"min_calls"`
	// Window is the rolling window of the ratio (default 60s).
	Window Duration `yaml:"window"`
	// OpenFor is how long it stays open before letting probes through (default 30s).
	OpenFor Duration `yaml:"open_for"`
	// Probes is how many calls half-open lets through; that many successes close it (default 1).
	Probes int `yaml:"probes"`
}

// Retry tries a transient failure (503 / NORMAL_TEMPORARY_FAILURE) again
// on the same assistant while its breaker allows.
type Retry struct {
	// Attempts is how many retries (default 0: none).
	Attempts int `yaml:"attempts"`
	// Backoff is the wait before each retry (default 100ms, 300ms; the last repeats).
	Backoff []Duration `yaml:"backoff"`
	// MaxSilence caps the time the caller waits, counted from the first
	// failure, beyond which no retry starts (default 2s).
	MaxSilence Duration `yaml:"max_silence"`
}

// Assistant is one AI voice assistant, reached over SIP or a WebSocket.
type Assistant struct {
	Name      string     `yaml:"-"`
	SIP       *SIP       `yaml:"sip"`
	WebSocket *WebSocket `yaml:"websocket"`
	// AnswerTimeout overrides defaults.answer_timeout.
	AnswerTimeout Duration `yaml:"answer_timeout"`
	// MaxCalls overrides defaults.max_calls (0 inherits; -1 means no cap).
	MaxCalls int `yaml:"max_calls"`
	// Breaker overrides fields of defaults.breaker.
	Breaker *Breaker `yaml:"breaker"`
	// Retry overrides defaults.retry.
	Retry *Retry `yaml:"retry"`
}

// SIP says how to dial an assistant: Endpoint, or Gateway plus Number.
type SIP struct {
	// Endpoint is a FreeSWITCH dial target, e.g. sofia/internal/ai@10.0.0.5:5060.
	Endpoint string `yaml:"endpoint"`
	// Gateway and Number dial sofia/gateway/<gateway>/<number>.
	Gateway string `yaml:"gateway"`
	Number  string `yaml:"number"`
	// Headers are extra SIP headers on the INVITE (names must start with X-).
	// Values may use {from}, {to}, {call_id}, {route}, {pool}, {assistant};
	// caller-supplied values are escaped.
	Headers map[string]string `yaml:"headers"`
	// HeaderEnv are headers whose value is read from an environment
	// variable (for secrets): header name -> variable name.
	HeaderEnv map[string]string `yaml:"header_env"`
	// Secrets resolved from HeaderEnv at load; never logged.
	Secrets map[string]string `yaml:"-"`
}

// WebSocket says how to stream a caller to an assistant.
type WebSocket struct {
	// URL is a ws:// or wss:// template; {session} {from} {to} {bot_id}
	// {auth_token} {call_uuid} are replaced, each value URL-escaped.
	URL string `yaml:"url"`
	// Protocol the assistant speaks: raw (L16 frames both ways, default)
	// or twilio (Twilio Media Streams JSON, mu-law 8 kHz).
	Protocol string `yaml:"protocol"`
	// Mode relay (default): FreeSWITCH streams to ailb, which dials the
	// assistant and adapts the protocol. direct: FreeSWITCH connects to
	// the assistant itself (raw protocol, audio_fork), ailb only watches.
	Mode string `yaml:"mode"`
	// SampleRate 8000 or 16000 (default 8000 for twilio, 16000 for raw).
	SampleRate int `yaml:"sample_rate"`
	// Module audio_fork (default; plays the assistant's audio) or
	// audio_stream (one way: the assistant hears the caller only).
	Module string `yaml:"module"`
	BotID  string `yaml:"bot_id"`
	// AuthTokenEnv names the environment variable for {auth_token}.
	AuthTokenEnv string `yaml:"auth_token_env"`
	// Headers and HeaderEnv are extra upgrade headers (relay mode).
	Headers   map[string]string `yaml:"headers"`
	HeaderEnv map[string]string `yaml:"header_env"`
	// ConnectTimeout bounds reaching the assistant (default 3s).
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// FirstAudioTimeout bounds the wait for the assistant's first audio
	// (default 5s); before that a failure moves the caller to the next member.
	FirstAudioTimeout Duration `yaml:"first_audio_timeout"`
	// SilenceTimeout ends a conversation whose assistant stopped sending
	// audio for this long (default 15s; 0 disables).
	SilenceTimeout *Duration `yaml:"silence_timeout"`

	AuthToken string            `yaml:"-"`
	Secrets   map[string]string `yaml:"-"`
}

// WebSocket protocol, mode and module values.
const (
	ProtocolRaw    = "raw"
	ProtocolTwilio = "twilio"
	ModeRelay      = "relay"
	ModeDirect     = "direct"
	ModuleFork     = "audio_fork"
	ModuleStream   = "audio_stream"
)

// Strategy names a load-balancing strategy.
type Strategy string

// Member status values.
const (
	StatusActive   = "active"
	StatusInactive = "inactive"
)

// Pool is a set of assistants balanced by one strategy.
type Pool struct {
	Name     string   `yaml:"-"`
	Strategy Strategy `yaml:"strategy"`
	// HashKey is what consistent_hash hashes: caller, destination, or
	// variable:<name> (a channel variable such as a customer id).
	HashKey string `yaml:"hash_key"`
	// FollowThrough tries the next member when one fails (default true).
	FollowThrough *bool     `yaml:"follow_through"`
	Members       []*Member `yaml:"members"`
	// Fallback runs when every member failed, was skipped, or follow-through is off.
	Fallback Actions `yaml:"fallback"`
	// After runs when the AI conversation ends normally (default: hang up).
	After *Action `yaml:"after"`
}

// Follow reports the effective follow_through.
func (p *Pool) Follow() bool { return p.FollowThrough == nil || *p.FollowThrough }

// Member is one assistant's place in a pool.
type Member struct {
	Assistant string `yaml:"assistant"`
	// Priority orders members for the priority strategy (lower first).
	Priority int `yaml:"priority"`
	// Weight 0..100 is the share for percentage (0: never picked).
	Weight *int `yaml:"weight"`
	// Position orders members for round_robin (default: list order).
	Position int `yaml:"position"`
	// Status active (default) or inactive.
	Status string `yaml:"status"`
}

// EffectiveWeight is the member's weight (default 1).
func (m *Member) EffectiveWeight() int {
	if m.Weight == nil {
		return 1
	}
	return *m.Weight
}

// Route sends matching calls to a target.
type Route struct {
	Name  string `yaml:"name"`
	Match Match  `yaml:"match"`
	// MaxCalls caps the route's concurrent calls across every instance
	// (0: no cap). Calls over it get Overflow.
	MaxCalls int `yaml:"max_calls"`
	// Overflow is what a call over max_calls gets (default: back to
	// FreeSWITCH's dialplan).
	Overflow *Action `yaml:"overflow"`
	// Target fields, inline: exactly one of pool, assistant, extension, ivr, hangup.
	Target `yaml:",inline"`
}

// Match conditions; all that are set must hold.
type Match struct {
	// Destination is a regular expression on the destination number.
	Destination string `yaml:"destination"`
	// Caller is a regular expression on the caller ID number.
	Caller string `yaml:"caller"`
	// Context is the caller's dialplan context, compared exactly.
	Context string `yaml:"context"`
	// Variables compares channel variables exactly (e.g. ailb_route: sales).
	Variables map[string]string `yaml:"variables"`

	destRE, callerRE *regexp.Regexp
}

// DestinationRE is the compiled Destination (nil when unset).
func (m *Match) DestinationRE() *regexp.Regexp { return m.destRE }

// CallerRE is the compiled Caller (nil when unset).
func (m *Match) CallerRE() *regexp.Regexp { return m.callerRE }

// Target is where a route sends a call.
type Target struct {
	Pool      string `yaml:"pool"`
	Assistant string `yaml:"assistant"`
	Extension string `yaml:"extension"`
	// Context for Extension (default "default").
	Context string `yaml:"context"`
	IVR     string `yaml:"ivr"`
	Hangup  string `yaml:"hangup"`
}

// Kind names which target is set.
func (t *Target) Kind() string {
	switch {
	case t.Pool != "":
		return "pool"
	case t.Assistant != "":
		return "assistant"
	case t.Extension != "":
		return "extension"
	case t.IVR != "":
		return "ivr"
	case t.Hangup != "":
		return "hangup"
	}
	return ""
}

// Action kinds for fallback, after and IVR options.
const (
	ActExtension = "extension"
	ActRingGroup = "ring_group"
	ActIVR       = "ivr"
	ActAssistant = "assistant"
	ActPool      = "pool"
	ActHangup    = "hangup"
	ActRepeat    = "repeat" // IVR options only: play the menu again
)

// Action is one fallback step.
type Action struct {
	Action string `yaml:"action"`
	// extension
	Extension string `yaml:"extension"`
	Context   string `yaml:"context"`
	// ring_group
	Endpoints []string `yaml:"endpoints"`
	Mode      string   `yaml:"mode"` // simultaneous (default) or sequential
	Timeout   Duration `yaml:"timeout"`
	// ivr
	Menu string `yaml:"menu"`
	// assistant (one attempt, no follow-through) / pool (IVR options)
	Assistant string `yaml:"assistant"`
	Pool      string `yaml:"pool"`
	// hangup
	Cause string `yaml:"cause"`
}

// Actions is a fallback: one action, or a list tried in order until one
// takes the call. Written as a mapping or a sequence.
type Actions []*Action

// UnmarshalYAML accepts a single mapping or a sequence.
func (a *Actions) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		var one Action
		if err := n.Decode(&one); err != nil {
			return err
		}
		*a = Actions{&one}
		return nil
	}
	var many []*Action
	if err := n.Decode(&many); err != nil {
		return err
	}
	*a = many
	return nil
}

// Menu is a DTMF menu played with play_and_get_digits: a choice among
// Options, or a question (Collect) whose answer is kept on the channel.
type Menu struct {
	Name string `yaml:"-"`
	// Collect makes the menu a question: the digits are stored in
	// ailb_ivr_<collect>, and the question is skipped when that variable or
	// ailb_state_<collect> is already set. Then Next runs.
	Collect string `yaml:"collect"`
	// Regex validates a collected answer (default: any digits).
	Regex string `yaml:"regex"`
	// Next runs after a question was answered or skipped.
	Next *Action `yaml:"next"`
	// TimeoutPrompt plays when the caller entered nothing (default: invalid_prompt).
	TimeoutPrompt string `yaml:"timeout_prompt"`
	// Prompt is a sound file, tone_stream://..., say:<text> or phrase:<macro>.
	Prompt        string   `yaml:"prompt"`
	InvalidPrompt string   `yaml:"invalid_prompt"`
	Tries         int      `yaml:"tries"`         // default 3
	Timeout       Duration `yaml:"timeout"`       // wait for the first digit, default 5s
	DigitTimeout  Duration `yaml:"digit_timeout"` // between digits, default 3s
	MinDigits     int      `yaml:"min_digits"`    // default 1
	MaxDigits     int      `yaml:"max_digits"`    // default 1
	Terminators   string   `yaml:"terminators"`   // default "#"
	// Options map the digits entered to an action.
	Options map[string]*Action `yaml:"options"`
	// OnFailure runs when no valid choice was made (default: hang up).
	OnFailure *Action `yaml:"on_failure"`
}

// Duration is a time.Duration written as "4s", "250ms", "2h".
type Duration time.Duration

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 4s, 250ms)", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration back as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// LoadFile reads, defaults and validates a configuration file.
func LoadFile(path string) (*Config, error) { return LoadFileWith(path, nil) }

// LoadFileWith is LoadFile with edit applied after parsing and before
// defaults and validation (command-line overrides).
func LoadFileWith(path string, edit func(*Config)) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := load(f, os.LookupEnv, edit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Load parses a configuration. env resolves secret references; pass
// os.LookupEnv in production.
func Load(r io.Reader, env func(string) (string, bool)) (*Config, error) {
	return load(r, env, nil)
}

func load(r io.Reader, env func(string) (string, bool), edit func(*Config)) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, 8<<20))
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty configuration")
		}
		return nil, cleanYAMLError(err)
	}
	if edit != nil {
		edit(&c)
	}
	c.applyDefaults()
	if err := c.Validate(env); err != nil {
		return nil, err
	}
	return &c, nil
}

var typeNames = strings.NewReplacer(
	"in type config.Config", "at the top level",
	"in type config.", "in ",
)

// cleanYAMLError turns "field x not found in type config.Pool" into a
// sentence an operator reads without knowing Go types.
func cleanYAMLError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  ")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	msg = strings.ReplaceAll(msg, "not found", "is not a known key")
	return errors.New(typeNames.Replace(msg))
}
