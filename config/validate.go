package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"ailb/media"
	"ailb/routing"
)

var (
	// Names end up in channel variables, metric labels, SIP headers and
	// uuid_setvar_multi lists, so they are plain tokens.
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	// A dial target or a part of one: no whitespace, quotes, $ (variable
	// expansion) or the bracket, comma and pipe characters of dial strings.
	dialRE      = regexp.MustCompile(`^[A-Za-z0-9_./@:%+*#=;-]+$`)
	endpointRE  = regexp.MustCompile(`^[a-z][a-z0-9_]*/[A-Za-z0-9_./@:%+*#=;-]+$`)
	headerRE    = regexp.MustCompile(`^X-[A-Za-z0-9-]{1,64}$`)
	varNameRE   = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
	causeRE     = regexp.MustCompile(`^[A-Z_]{3,40}$`)
	extensionRE = regexp.MustCompile(`^[A-Za-z0-9_+*#.-]{1,64}$`)
	digitsRE    = regexp.MustCompile(`^[0-9*#]{1,16}$`)
	collectRE   = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)
	wsHeaderRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)
	hostPortRE  = regexp.MustCompile(`^[A-Za-z0-9.:\[\]-]+:[0-9]{1,5}$`)
	promptRE    = regexp.MustCompile(`^[^\s'"{}$]+$|^(say|phrase):[^\r\n'"{}$]+$`)
	placeRE     = regexp.MustCompile(`\{[a-z_]+\}`)
)

// Placeholders allowed in SIP header values.
var sipPlaceholders = []string{"{from}", "{to}", "{call_id}", "{route}", "{pool}", "{assistant}"}

func (c *Config) applyDefaults() {
	if c.Listen.ESL == "" {
		c.Listen.ESL = "127.0.0.1:8084"
	}
	if c.Listen.Media == nil {
		def := "127.0.0.1:8085"
		c.Listen.Media = &def
	}
	if c.Media.HoldPrompt == "" {
		c.Media.HoldPrompt = "tone_stream://%(2000,4000,440,480);loops=-1"
	}
	if c.Listen.Allow == nil {
		c.Listen.Allow = []string{"127.0.0.1/32", "::1/128"}
	}
	setDur(&c.ESL.Linger, 10*time.Second)
	setDur(&c.ESL.ReplyTimeout, 10*time.Second)
	setDur(&c.ESL.MaxCallDuration, 4*time.Hour)
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	setDur(&c.Defaults.AnswerTimeout, 4*time.Second)
	c.Defaults.Breaker.inherit(&Breaker{ConsecutiveFailures: 5, FailureRatio: 0.5, MinCalls: 10,
		Window: Duration(time.Minute), OpenFor: Duration(30 * time.Second), Probes: 1})
	if c.Defaults.Retry.Backoff == nil {
		c.Defaults.Retry.Backoff = []Duration{Duration(100 * time.Millisecond), Duration(300 * time.Millisecond)}
	}
	setDur(&c.Defaults.Retry.MaxSilence, 2*time.Second)
	for name, a := range c.Assistants {
		if a == nil {
			continue
		}
		a.Name = name
		setDur(&a.AnswerTimeout, c.Defaults.AnswerTimeout.D())
		if a.MaxCalls == 0 {
			a.MaxCalls = c.Defaults.MaxCalls
		}
		if a.Breaker == nil {
			a.Breaker = &Breaker{}
		}
		a.Breaker.inherit(&c.Defaults.Breaker)
		if w := a.WebSocket; w != nil {
			w.defaults()
		}
		if a.Retry == nil {
			r := c.Defaults.Retry
			a.Retry = &r
		} else {
			if a.Retry.Backoff == nil {
				a.Retry.Backoff = c.Defaults.Retry.Backoff
			}
			setDur(&a.Retry.MaxSilence, c.Defaults.Retry.MaxSilence.D())
		}
	}
	if r := c.Redis; r != nil {
		if r.Prefix == "" {
			r.Prefix = "ailb:"
		}
		setDur(&r.Timeout, 50*time.Millisecond)
		setDur(&r.LeaseTTL, 30*time.Second)
	}
	for name, p := range c.Pools {
		if p == nil {
			continue
		}
		p.Name = name
		for i, m := range p.Members {
			if m == nil {
				continue
			}
			if m.Status == "" {
				m.Status = StatusActive
			}
			if m.Position == 0 {
				m.Position = i + 1
			}
		}
		for _, a := range p.Fallback {
			a.defaults()
		}
		if p.After != nil {
			p.After.defaults()
		}
	}
	for name, m := range c.IVR {
		if m == nil {
			continue
		}
		m.Name = name
		if m.Tries == 0 {
			m.Tries = 3
		}
		if m.Next != nil {
			m.Next.defaults()
		}
		setDur(&m.Timeout, 5*time.Second)
		setDur(&m.DigitTimeout, 3*time.Second)
		if m.MinDigits == 0 {
			m.MinDigits = 1
		}
		if m.MaxDigits == 0 {
			m.MaxDigits = max(1, m.MinDigits)
		}
		if m.Terminators == "" {
			m.Terminators = "#"
		}
		for _, o := range m.Options {
			if o != nil {
				o.defaults()
			}
		}
		if m.OnFailure != nil {
			m.OnFailure.defaults()
		}
	}
	for _, r := range c.Routes {
		if r != nil && r.Extension != "" && r.Context == "" {
			r.Context = "default"
		}
		if r != nil && r.Overflow != nil {
			r.Overflow.defaults()
		}
	}
	if t := c.DefaultRoute; t != nil && t.Extension != "" && t.Context == "" {
		t.Context = "default"
	}
}

func (a *Action) defaults() {
	if a == nil {
		return
	}
	switch a.Action {
	case ActExtension:
		if a.Context == "" {
			a.Context = "default"
		}
	case ActRingGroup:
		if a.Mode == "" {
			a.Mode = "simultaneous"
		}
		setDur(&a.Timeout, 20*time.Second)
	case ActHangup:
		if a.Cause == "" {
			a.Cause = "NORMAL_CLEARING"
		}
	}
}

func (w *WebSocket) defaults() {
	if w.Protocol == "" {
		w.Protocol = ProtocolRaw
	}
	if w.Mode == "" {
		w.Mode = ModeRelay
	}
	if w.Module == "" {
		w.Module = ModuleFork
	}
	if w.SampleRate == 0 {
		w.SampleRate = 16000
		if w.Protocol == ProtocolTwilio {
			w.SampleRate = 8000
		}
	}
	setDur(&w.ConnectTimeout, 3*time.Second)
	setDur(&w.FirstAudioTimeout, 5*time.Second)
	if w.SilenceTimeout == nil {
		d := Duration(15 * time.Second)
		w.SilenceTimeout = &d
	}
}

// inherit fills unset fields from d.
func (b *Breaker) inherit(d *Breaker) {
	if b.ConsecutiveFailures == 0 {
		b.ConsecutiveFailures = d.ConsecutiveFailures
	}
	if b.FailureRatio == 0 {
		b.FailureRatio = d.FailureRatio
	}
	if b.MinCalls == 0 {
		b.MinCalls = d.MinCalls
	}
	setDur(&b.Window, d.Window.D())
	setDur(&b.OpenFor, d.OpenFor.D())
	if b.Probes == 0 {
		b.Probes = d.Probes
	}
}

func setDur(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

// errs collects validation problems, each prefixed by the field path.
type errs []string

func (e *errs) add(path, format string, args ...any) {
	*e = append(*e, path+": "+fmt.Sprintf(format, args...))
}

func (e errs) err() error {
	if len(e) == 0 {
		return nil
	}
	return errors.New(strings.Join(e, "\n"))
}

// Validate checks every field and cross-reference and resolves secrets.
// All problems are reported at once, each naming its field.
func (c *Config) Validate(env func(string) (string, bool)) error {
	var e errs
	c.validateListen(&e)
	if lv := c.Log.Level; !slices.Contains([]string{"debug", "info", "warn", "error"}, lv) {
		e.add("log.level", "%q: must be debug, info, warn or error", lv)
	}
	if f := c.Log.Format; f != "json" && f != "console" {
		e.add("log.format", "%q: must be json or console", f)
	}
	if c.ESL.Linger.D() < time.Second || c.ESL.Linger.D() > 5*time.Minute {
		e.add("esl.linger", "must be 1s..5m")
	}
	if c.Defaults.MaxCalls < 0 {
		e.add("defaults.max_calls", "must be 0 (no cap) or more")
	}
	c.validateBreaker(&e, "defaults.breaker", &c.Defaults.Breaker)
	c.validateRetry(&e, "defaults.retry", &c.Defaults.Retry)
	c.validateRedis(&e, env)
	if c.Admin.TokenEnv != "" {
		v, ok := env(c.Admin.TokenEnv)
		switch {
		case !ok || v == "":
			e.add("admin.token_env", "environment variable %s is not set", c.Admin.TokenEnv)
		case len(v) < 16:
			e.add("admin.token_env", "the token in %s is shorter than 16 characters", c.Admin.TokenEnv)
		default:
			c.Admin.Token = v
		}
	}
	if len(c.Assistants) == 0 {
		e.add("assistants", "at least one assistant is required")
	}
	for _, name := range sortedKeys(c.Assistants) {
		c.validateAssistant(&e, name, c.Assistants[name], env)
	}
	for _, name := range sortedKeys(c.Pools) {
		c.validatePool(&e, name, c.Pools[name])
	}
	for _, name := range sortedKeys(c.IVR) {
		c.validateMenu(&e, name, c.IVR[name])
	}
	seen := map[string]int{}
	for i, r := range c.Routes {
		path := fmt.Sprintf("routes[%d]", i)
		if r == nil {
			e.add(path, "empty route")
			continue
		}
		if r.MaxCalls < 0 {
			e.add(path+".max_calls", "must be 0 (no cap) or more")
		}
		if r.Overflow != nil {
			if r.MaxCalls == 0 {
				e.add(path+".overflow", "only with max_calls")
			}
			c.validateAction(&e, path+".overflow", r.Overflow)
			if r.Overflow.Action == ActRepeat {
				e.add(path+".overflow.action", "repeat only makes sense in an ivr menu")
			}
		}
		if !nameRE.MatchString(r.Name) {
			e.add(path+".name", "%q: must be a lowercase token (a-z, 0-9, _ or -)", r.Name)
		} else if j, dup := seen[r.Name]; dup {
			e.add(path+".name", "%q is also routes[%d]", r.Name, j)
		}
		seen[r.Name] = i
		c.validateMatch(&e, path+".match", &r.Match)
		c.validateTarget(&e, path, &r.Target)
	}
	if c.DefaultRoute == nil {
		e.add("default_route", "required: where calls no route matches go")
	} else {
		c.validateTarget(&e, "default_route", c.DefaultRoute)
	}
	return e.err()
}

func (c *Config) validateListen(e *errs) {
	if _, err := netip.ParseAddrPort(c.Listen.ESL); err != nil {
		e.add("listen.esl", "%q: want host:port with an IP address", c.Listen.ESL)
	}
	if c.Listen.HTTP != "" {
		if _, err := netip.ParseAddrPort(c.Listen.HTTP); err != nil {
			e.add("listen.http", "%q: want host:port with an IP address", c.Listen.HTTP)
		}
	}
	if m := *c.Listen.Media; m != "" {
		if _, err := netip.ParseAddrPort(m); err != nil {
			e.add("listen.media", "%q: want host:port with an IP address", m)
		}
	}
	if c.Media.URL != "" {
		if u, err := url.Parse(c.Media.URL); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" || u.RawQuery != "" {
			e.add("media.url", "%q: want ws://host:port or wss://host:port[/path] without a query", c.Media.URL)
		}
	}
	if !promptRE.MatchString(c.Media.HoldPrompt) {
		e.add("media.hold_prompt", "%q: want a sound file, tone_stream://... or local_stream://...", c.Media.HoldPrompt)
	}
	if len(c.Listen.Allow) == 0 {
		e.add("listen.allow", "at least one CIDR is required (FreeSWITCH's address)")
	}
	for i, a := range c.Listen.Allow {
		if _, err := netip.ParsePrefix(a); err != nil {
			e.add(fmt.Sprintf("listen.allow[%d]", i), "%q is not a CIDR (e.g. 10.0.0.5/32)", a)
		}
	}
}

// AllowPrefixes is listen.allow parsed.
func (c *Config) AllowPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(c.Listen.Allow))
	for _, a := range c.Listen.Allow {
		if p, err := netip.ParsePrefix(a); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

func (c *Config) validateAssistant(e *errs, name string, a *Assistant, env func(string) (string, bool)) {
	path := "assistants." + name
	if !nameRE.MatchString(name) {
		e.add(path, "name must be a lowercase token (a-z, 0-9, _ or -), at most 63 characters")
	}
	if a == nil {
		e.add(path, "empty assistant: set sip")
		return
	}
	if a.AnswerTimeout.D() < 500*time.Millisecond || a.AnswerTimeout.D() > 5*time.Minute {
		e.add(path+".answer_timeout", "must be 500ms..5m")
	}
	if a.MaxCalls < -1 {
		e.add(path+".max_calls", "must be -1 (no cap), 0 (inherit defaults.max_calls) or more")
	}
	if a.Breaker != nil {
		c.validateBreaker(e, path+".breaker", a.Breaker)
	}
	if a.Retry != nil {
		c.validateRetry(e, path+".retry", a.Retry)
	}
	switch {
	case a.SIP != nil && a.WebSocket != nil:
		e.add(path, "set sip or websocket, not both")
		return
	case a.WebSocket != nil:
		c.validateWebSocket(e, path+".websocket", a.WebSocket, env)
		return
	}
	s := a.SIP
	if s == nil {
		e.add(path, "set sip or websocket")
		return
	}
	switch {
	case s.Endpoint != "" && (s.Gateway != "" || s.Number != ""):
		e.add(path+".sip", "set endpoint, or gateway with number, not both")
	case s.Endpoint != "":
		if !endpointRE.MatchString(s.Endpoint) {
			e.add(path+".sip.endpoint", "%q: want a dial target like sofia/internal/ai@10.0.0.5:5060 (no spaces, quotes, $, commas, pipes or brackets)", s.Endpoint)
		}
	case s.Gateway != "" || s.Number != "":
		if !dialRE.MatchString(s.Gateway) {
			e.add(path+".sip.gateway", "%q: want a gateway name", s.Gateway)
		}
		if !dialRE.MatchString(s.Number) {
			e.add(path+".sip.number", "%q: want the number to dial at the gateway", s.Number)
		}
	default:
		e.add(path+".sip", "set endpoint, or gateway and number")
	}
	for _, h := range sortedKeys(s.Headers) {
		hp := path + ".sip.headers." + h
		if !headerRE.MatchString(h) {
			e.add(hp, "header names must look like X-Name")
		}
		if strings.HasPrefix(strings.ToUpper(h), "X-AILB-") {
			e.add(hp, "X-AILB-* headers are set by ailb")
		}
		v := s.Headers[h]
		if strings.ContainsAny(v, "\r\n\x00") || strings.ContainsAny(placeRE.ReplaceAllString(v, ""), "{}$") {
			e.add(hp, "value may not contain line breaks, $ or braces other than placeholders")
		}
		for _, ph := range placeRE.FindAllString(v, -1) {
			if !slices.Contains(sipPlaceholders, ph) {
				e.add(hp, "unknown placeholder %s (known: %s)", ph, strings.Join(sipPlaceholders, " "))
			}
		}
	}
	s.Secrets = map[string]string{}
	for _, h := range sortedKeys(s.HeaderEnv) {
		hp := path + ".sip.header_env." + h
		if !headerRE.MatchString(h) {
			e.add(hp, "header names must look like X-Name")
		}
		if _, dup := s.Headers[h]; dup {
			e.add(hp, "also set in headers")
		}
		v, ok := env(s.HeaderEnv[h])
		switch {
		case !ok || v == "":
			e.add(hp, "environment variable %s is not set", s.HeaderEnv[h])
		case strings.ContainsAny(v, "\r\n\x00"):
			e.add(hp, "environment variable %s contains a line break", s.HeaderEnv[h])
		default:
			s.Secrets[h] = v
		}
	}
}

func (c *Config) validateWebSocket(e *errs, path string, w *WebSocket, env func(string) (string, bool)) {
	if _, err := media.ParseURLTemplate(w.URL); err != nil {
		e.add(path+".url", "%v", err)
	}
	if w.Protocol != ProtocolRaw && w.Protocol != ProtocolTwilio {
		e.add(path+".protocol", "%q: must be raw or twilio", w.Protocol)
	}
	if w.Mode != ModeRelay && w.Mode != ModeDirect {
		e.add(path+".mode", "%q: must be relay or direct", w.Mode)
	}
	if w.Module != ModuleFork && w.Module != ModuleStream {
		e.add(path+".module", "%q: must be audio_fork or audio_stream", w.Module)
	}
	if w.SampleRate != 8000 && w.SampleRate != 16000 {
		e.add(path+".sample_rate", "%d: must be 8000 or 16000", w.SampleRate)
	}
	if w.Protocol == ProtocolTwilio && w.SampleRate != 8000 {
		e.add(path+".sample_rate", "twilio streams are 8000 Hz")
	}
	if w.Mode == ModeDirect && (w.Protocol != ProtocolRaw || w.Module != ModuleFork) {
		e.add(path+".mode", "direct needs protocol raw and module audio_fork: FreeSWITCH talks to the assistant itself")
	}
	if w.Mode == ModeDirect && (len(w.Headers) > 0 || len(w.HeaderEnv) > 0) {
		e.add(path+".headers", "upgrade headers need mode relay: FreeSWITCH's modules send none")
	}
	if w.Mode == ModeRelay && *c.Listen.Media == "" {
		e.add(path+".mode", "relay needs listen.media (the relay's listener)")
	}
	if w.BotID != "" && !extensionRE.MatchString(w.BotID) {
		e.add(path+".bot_id", "%q: want letters, digits, _ . + * # or -", w.BotID)
	}
	if w.ConnectTimeout.D() < 100*time.Millisecond || w.ConnectTimeout.D() > time.Minute {
		e.add(path+".connect_timeout", "must be 100ms..1m")
	}
	if w.FirstAudioTimeout.D() < 100*time.Millisecond || w.FirstAudioTimeout.D() > time.Minute {
		e.add(path+".first_audio_timeout", "must be 100ms..1m")
	}
	if d := w.SilenceTimeout.D(); d < 0 || d > 10*time.Minute || (d > 0 && d < 500*time.Millisecond) {
		e.add(path+".silence_timeout", "must be 0 (off) or 500ms..10m")
	}
	if w.AuthTokenEnv != "" {
		v, ok := env(w.AuthTokenEnv)
		if !ok || v == "" {
			e.add(path+".auth_token_env", "environment variable %s is not set", w.AuthTokenEnv)
		}
		w.AuthToken = v
	} else if strings.Contains(w.URL, "{auth_token}") {
		e.add(path+".auth_token_env", "the url uses {auth_token}: name the environment variable that holds it")
	}
	w.Secrets = map[string]string{}
	for _, h := range sortedKeys(w.Headers) {
		if !wsHeaderRE.MatchString(h) || strings.ContainsAny(w.Headers[h], "\r\n\x00") {
			e.add(path+".headers."+h, "want a header name and a value without line breaks")
		}
	}
	for _, h := range sortedKeys(w.HeaderEnv) {
		if !wsHeaderRE.MatchString(h) {
			e.add(path+".header_env."+h, "want a header name")
		}
		v, ok := env(w.HeaderEnv[h])
		if !ok || v == "" || strings.ContainsAny(v, "\r\n\x00") {
			e.add(path+".header_env."+h, "environment variable %s is not set (or holds a line break)", w.HeaderEnv[h])
			continue
		}
		w.Secrets[h] = v
	}
}

func (c *Config) validatePool(e *errs, name string, p *Pool) {
	path := "pools." + name
	if !nameRE.MatchString(name) {
		e.add(path, "name must be a lowercase token (a-z, 0-9, _ or -)")
	}
	if p == nil {
		e.add(path, "empty pool")
		return
	}
	switch {
	case p.Strategy == "":
		e.add(path+".strategy", "required: one of %s", strategyList())
	case !slices.Contains(routing.Kinds, routing.Kind(p.Strategy)):
		e.add(path+".strategy", "%q: unknown, want one of %s", p.Strategy, strategyList())
	}
	switch hk := p.HashKey; {
	case routing.Kind(p.Strategy) == routing.ConsistentHash && hk == "":
		e.add(path+".hash_key", "required by consistent_hash: caller, destination or variable:<name>")
	case hk == "" || hk == "caller" || hk == "destination":
	case strings.HasPrefix(hk, "variable:") && varNameRE.MatchString(strings.TrimPrefix(hk, "variable:")):
	default:
		e.add(path+".hash_key", "%q: want caller, destination or variable:<name>", hk)
	}
	if p.HashKey != "" && routing.Kind(p.Strategy) != routing.ConsistentHash {
		e.add(path+".hash_key", "only used by consistent_hash")
	}
	if len(p.Members) == 0 {
		e.add(path+".members", "at least one member is required")
	}
	seen := map[string]int{}
	positions := map[int]int{}
	for i, m := range p.Members {
		mp := fmt.Sprintf("%s.members[%d]", path, i)
		if m == nil {
			e.add(mp, "empty member")
			continue
		}
		if _, ok := c.Assistants[m.Assistant]; !ok {
			e.add(mp+".assistant", "%q is not a configured assistant", m.Assistant)
		}
		if j, dup := seen[m.Assistant]; dup {
			e.add(mp+".assistant", "%q is also members[%d]", m.Assistant, j)
		}
		seen[m.Assistant] = i
		if w := m.EffectiveWeight(); w < 0 || w > 100 {
			e.add(mp+".weight", "must be 0..100")
		}
		if m.Priority < 0 {
			e.add(mp+".priority", "must be 0 or more")
		}
		if m.Position < 1 {
			e.add(mp+".position", "must be 1 or more")
		} else if j, dup := positions[m.Position]; dup {
			e.add(mp+".position", "%d is also members[%d]'s position", m.Position, j)
		}
		positions[m.Position] = i
		if m.Status != StatusActive && m.Status != StatusInactive {
			e.add(mp+".status", "%q: must be active or inactive", m.Status)
		}
	}
	if k := routing.Kind(p.Strategy); k == routing.Percentage || k == routing.WeightedRoundRobin || k == routing.ConsistentHash {
		total := 0
		for _, m := range p.Members {
			if m != nil {
				total += m.EffectiveWeight()
			}
		}
		if total == 0 {
			e.add(path+".members", "%s strategy: every weight is 0, no member could be picked", p.Strategy)
		}
	}
	if len(p.Fallback) == 0 {
		e.add(path+".fallback", "required: what the caller gets when no assistant takes the call")
	}
	for i, a := range p.Fallback {
		ap := fmt.Sprintf("%s.fallback[%d]", path, i)
		c.validateAction(e, ap, a)
		if a != nil && i < len(p.Fallback)-1 && (a.Action == ActExtension || a.Action == ActHangup) {
			e.add(ap, "%s always takes the call: nothing after it would run", a.Action)
		}
		if a != nil && a.Action == ActPool {
			e.add(ap+".action", "a fallback cannot be another pool (use assistant: one attempt, no loops)")
		}
	}
	if p.After != nil {
		c.validateAction(e, path+".after", p.After)
		if k := p.After.Action; k != ActExtension && k != ActHangup && k != ActIVR {
			e.add(path+".after.action", "%q: after the AI only extension, ivr or hangup make sense", k)
		}
	}
}

func (c *Config) validateAction(e *errs, path string, a *Action) {
	if a == nil {
		e.add(path, "empty action")
		return
	}
	switch a.Action {
	case ActExtension:
		if !extensionRE.MatchString(a.Extension) {
			e.add(path+".extension", "%q: want an extension number or name", a.Extension)
		}
		if !extensionRE.MatchString(a.Context) {
			e.add(path+".context", "%q: want a dialplan context", a.Context)
		}
	case ActRingGroup:
		if len(a.Endpoints) == 0 {
			e.add(path+".endpoints", "at least one endpoint is required")
		}
		for i, ep := range a.Endpoints {
			if !endpointRE.MatchString(ep) {
				e.add(fmt.Sprintf("%s.endpoints[%d]", path, i), "%q: want a dial target like user/1001 or sofia/internal/1001@pbx", ep)
			}
		}
		if a.Mode != "simultaneous" && a.Mode != "sequential" {
			e.add(path+".mode", "%q: must be simultaneous or sequential", a.Mode)
		}
		if a.Timeout.D() < time.Second || a.Timeout.D() > 10*time.Minute {
			e.add(path+".timeout", "must be 1s..10m")
		}
	case ActIVR:
		if _, ok := c.IVR[a.Menu]; !ok {
			e.add(path+".menu", "%q is not a configured ivr menu", a.Menu)
		}
	case ActAssistant:
		if _, ok := c.Assistants[a.Assistant]; !ok {
			e.add(path+".assistant", "%q is not a configured assistant", a.Assistant)
		}
	case ActPool:
		if _, ok := c.Pools[a.Pool]; !ok {
			e.add(path+".pool", "%q is not a configured pool", a.Pool)
		}
	case ActHangup:
		if !causeRE.MatchString(a.Cause) {
			e.add(path+".cause", "%q: want a FreeSWITCH cause such as NORMAL_CLEARING", a.Cause)
		}
	case ActRepeat:
		if !strings.Contains(path, ".options.") {
			e.add(path+".action", "repeat is only an ivr option")
		}
	case "":
		e.add(path+".action", "required: extension, ring_group, ivr, assistant or hangup")
	default:
		e.add(path+".action", "%q: unknown, want extension, ring_group, ivr, assistant, pool or hangup", a.Action)
	}
}

func (c *Config) validateMenu(e *errs, name string, m *Menu) {
	path := "ivr." + name
	if !nameRE.MatchString(name) {
		e.add(path, "name must be a lowercase token (a-z, 0-9, _ or -)")
	}
	if m == nil {
		e.add(path, "empty menu")
		return
	}
	if !promptRE.MatchString(m.Prompt) {
		e.add(path+".prompt", "%q: want a sound file, tone_stream://..., say:<text> or phrase:<macro> (no spaces in file names, no quotes, braces or $)", m.Prompt)
	}
	for field, p := range map[string]string{"invalid_prompt": m.InvalidPrompt, "timeout_prompt": m.TimeoutPrompt} {
		if p != "" && !promptRE.MatchString(p) {
			e.add(path+"."+field, "%q: same form as prompt", p)
		}
	}
	if m.Tries < 1 || m.Tries > 10 {
		e.add(path+".tries", "must be 1..10")
	}
	if m.MinDigits < 1 || m.MaxDigits < m.MinDigits || m.MaxDigits > 32 {
		e.add(path+".max_digits", "want 1 <= min_digits <= max_digits <= 32")
	}
	if m.Timeout.D() < time.Second || m.Timeout.D() > time.Minute {
		e.add(path+".timeout", "must be 1s..1m")
	}
	if strings.Trim(m.Terminators, "0123456789*#") != "" {
		e.add(path+".terminators", "%q: only DTMF digits", m.Terminators)
	}
	switch {
	case m.Collect != "" && len(m.Options) > 0:
		e.add(path, "a menu either collects an answer (collect) or offers options, not both")
	case m.Collect != "":
		if !collectRE.MatchString(m.Collect) {
			e.add(path+".collect", "%q: want a name of a-z, 0-9 and _ (it becomes ailb_ivr_<name>)", m.Collect)
		}
		if m.Regex != "" {
			if _, err := regexp.Compile(m.Regex); err != nil || strings.ContainsAny(m.Regex, " \t'\"") {
				e.add(path+".regex", "%q: want a regular expression without spaces or quotes", m.Regex)
			}
		}
		if m.Next != nil {
			c.validateAction(e, path+".next", m.Next)
		}
	default:
		if len(m.Options) == 0 {
			e.add(path+".options", "at least one option is required (or collect)")
		}
		if m.Regex != "" || m.Next != nil {
			e.add(path, "regex and next are for menus that collect")
		}
	}
	for _, d := range sortedKeys(m.Options) {
		op := path + ".options." + d
		if !digitsRE.MatchString(d) {
			e.add(op, "option keys are the digits pressed (0-9, * and #)")
		}
		c.validateAction(e, op, m.Options[d])
	}
	if m.OnFailure != nil {
		c.validateAction(e, path+".on_failure", m.OnFailure)
	}
}

func (c *Config) validateMatch(e *errs, path string, m *Match) {
	var err error
	if m.Destination != "" {
		if m.destRE, err = regexp.Compile(m.Destination); err != nil {
			e.add(path+".destination", "bad regular expression: %v", err)
		}
	}
	if m.Caller != "" {
		if m.callerRE, err = regexp.Compile(m.Caller); err != nil {
			e.add(path+".caller", "bad regular expression: %v", err)
		}
	}
	for _, k := range sortedKeys(m.Variables) {
		if !varNameRE.MatchString(k) {
			e.add(path+".variables."+k, "variable names are letters, digits and _")
		}
	}
	if m.Destination == "" && m.Caller == "" && m.Context == "" && len(m.Variables) == 0 {
		e.add(path, "no condition: a route without conditions matches every call (use default_route)")
	}
}

func (c *Config) validateTarget(e *errs, path string, t *Target) {
	n := 0
	for _, s := range []string{t.Pool, t.Assistant, t.Extension, t.IVR, t.Hangup} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		e.add(path, "set exactly one of pool, assistant, extension, ivr or hangup")
		return
	}
	switch {
	case t.Pool != "":
		if _, ok := c.Pools[t.Pool]; !ok {
			e.add(path+".pool", "%q is not a configured pool", t.Pool)
		}
	case t.Assistant != "":
		if _, ok := c.Assistants[t.Assistant]; !ok {
			e.add(path+".assistant", "%q is not a configured assistant", t.Assistant)
		}
	case t.Extension != "":
		if !extensionRE.MatchString(t.Extension) {
			e.add(path+".extension", "%q: want an extension number or name", t.Extension)
		}
		if !extensionRE.MatchString(t.Context) {
			e.add(path+".context", "%q: want a dialplan context", t.Context)
		}
	case t.IVR != "":
		if _, ok := c.IVR[t.IVR]; !ok {
			e.add(path+".ivr", "%q is not a configured ivr menu", t.IVR)
		}
	case t.Hangup != "":
		if !causeRE.MatchString(t.Hangup) {
			e.add(path+".hangup", "%q: want a FreeSWITCH cause such as CALL_REJECTED", t.Hangup)
		}
	}
	if t.Context != "" && t.Extension == "" {
		e.add(path+".context", "only with extension")
	}
}

func (c *Config) validateBreaker(e *errs, path string, b *Breaker) {
	if b.ConsecutiveFailures < 1 || b.ConsecutiveFailures > 1000 {
		e.add(path+".consecutive_failures", "must be 1..1000")
	}
	if b.FailureRatio <= 0 || b.FailureRatio > 1 {
		e.add(path+".failure_ratio", "must be more than 0 and at most 1")
	}
	if b.MinCalls < 1 {
		e.add(path+".min_calls", "must be 1 or more")
	}
	if b.Window.D() < time.Second || b.Window.D() > time.Hour {
		e.add(path+".window", "must be 1s..1h")
	}
	if b.OpenFor.D() < 100*time.Millisecond || b.OpenFor.D() > time.Hour {
		e.add(path+".open_for", "must be 100ms..1h")
	}
	if b.Probes < 1 || b.Probes > 100 {
		e.add(path+".probes", "must be 1..100")
	}
}

func (c *Config) validateRetry(e *errs, path string, r *Retry) {
	if r.Attempts < 0 || r.Attempts > 5 {
		e.add(path+".attempts", "must be 0..5")
	}
	for i, b := range r.Backoff {
		if b.D() < 0 || b.D() > 5*time.Second {
			e.add(fmt.Sprintf("%s.backoff[%d]", path, i), "must be 0..5s")
		}
	}
	if r.Attempts > 0 && len(r.Backoff) == 0 {
		e.add(path+".backoff", "at least one wait is required with attempts")
	}
	if r.MaxSilence.D() < 0 || r.MaxSilence.D() > 30*time.Second {
		e.add(path+".max_silence", "must be 0..30s")
	}
}

func (c *Config) validateRedis(e *errs, env func(string) (string, bool)) {
	r := c.Redis
	if r == nil {
		return
	}
	if len(r.Addrs) == 0 {
		e.add("redis.addrs", "at least one host:port is required")
	}
	for i, a := range r.Addrs {
		if !hostPortRE.MatchString(a) {
			e.add(fmt.Sprintf("redis.addrs[%d]", i), "%q: want host:port", a)
		}
	}
	if r.MasterName != "" && !extensionRE.MatchString(r.MasterName) {
		e.add("redis.master_name", "%q: want a Sentinel master name", r.MasterName)
	}
	if r.DB < 0 || r.DB > 15 {
		e.add("redis.db", "must be 0..15")
	}
	if !regexp.MustCompile(`^[A-Za-z0-9:_.-]{1,32}$`).MatchString(r.Prefix) {
		e.add("redis.prefix", "%q: want letters, digits, : _ . or -", r.Prefix)
	}
	if r.Timeout.D() < time.Millisecond || r.Timeout.D() > 5*time.Second {
		e.add("redis.timeout", "must be 1ms..5s")
	}
	if r.LeaseTTL.D() < time.Second || r.LeaseTTL.D() > 10*time.Minute {
		e.add("redis.lease_ttl", "must be 1s..10m")
	}
	if r.PasswordEnv != "" {
		v, ok := env(r.PasswordEnv)
		if !ok || v == "" {
			e.add("redis.password_env", "environment variable %s is not set", r.PasswordEnv)
		}
		r.Password = v
	}
}

func strategyList() string {
	s := make([]string, len(routing.Kinds))
	for i, k := range routing.Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
