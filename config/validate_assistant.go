package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"ailb/media"
)

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
