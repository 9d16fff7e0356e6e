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
