package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"ailb/routing"
)

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
			// It travels as one argument of play_and_get_digits: no spaces or
			// quotes (the splitter), no ${ (FreeSWITCH would expand it).
			if _, err := regexp.Compile(m.Regex); err != nil || strings.ContainsAny(m.Regex, " \t'\"") || strings.Contains(m.Regex, "${") {
				e.add(path+".regex", "%q: want a regular expression without spaces, quotes or ${", m.Regex)
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
