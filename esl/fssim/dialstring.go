package fssim

import "strings"

// Markers switch_ivr_originate puts in place of commas inside [..] before it
// splits a group on commas.
const (
	quotedComma   = '\x01'
	unquotedComma = '\x02'
)

// dialEndpoint is one leg of a dial string.
type dialEndpoint struct {
	target string            // e.g. sofia/internal/sip:ai@127.0.0.1:5090
	vars   map[string]string // its [..] variables over the <..> ones
}

// dialString is a parsed bridge argument: {global} variables, then groups
// tried in order ('|'), each ringing its endpoints at once (',').
type dialString struct {
	global map[string]string
	groups [][]dialEndpoint
}

func (d dialString) targets() []string {
	var out []string
	for _, g := range d.groups {
		for _, e := range g {
			out = append(out, e.target)
		}
	}
	return out
}

// parseDialString follows switch_ivr_originate: leading {..} (global) and
// <..> (per-leg defaults) blocks, '|' groups, ',' legs (commas inside [..]
// protected), per-leg [..] blocks; every block may switch its delimiter with
// ^^X.
func parseDialString(s string) dialString {
	d := dialString{global: map[string]string{}}
	local := map[string]string{}
	s = strings.TrimLeft(s, " ")
	for len(s) > 0 && (s[0] == '{' || s[0] == '<') {
		open, close, into := s[0], byte('}'), d.global
		if open == '<' {
			close, into = '>', local
		}
		end := findEndParen(s, open, close)
		if end < 0 {
			break
		}
		parseVarBlock(s[1:end], ',', into)
		s = strings.TrimLeft(s[end+1:], " ")
	}
	for _, group := range separateString(s, '|', 128) {
		group = protectBracketCommas(group)
		var legs []dialEndpoint
		for _, leg := range separateString(group, ',', 128) {
			leg = strings.TrimLeft(leg, " ")
			vars := make(map[string]string, len(local))
			for k, v := range local {
				vars[k] = v
			}
			for strings.HasPrefix(leg, "[") {
				end := findEndParen(leg, '[', ']')
				if end < 0 {
					break
				}
				inner := strings.ReplaceAll(leg[1:end], string(rune(quotedComma)), ",")
				parseVarBlock(inner, unquotedComma, vars)
				leg = leg[end+1:]
			}
			legs = append(legs, dialEndpoint{target: leg, vars: vars})
		}
		if len(legs) > 0 {
			d.groups = append(d.groups, legs)
		}
	}
	return d
}

// protectBracketCommas marks the commas inside [..] so the group split keeps
// them; commas in quotes or in a ^^ block keep their meaning as text.
func protectBracketCommas(s string) string {
	b := []byte(s)
	end, alt, quoted := -1, false, false
	for i := 0; i < len(b); i++ {
		if end < 0 && b[i] == '[' {
			end = findEndParen(s[i:], '[', ']')
			if end >= 0 {
				end += i
			}
			alt = i+2 < len(b) && b[i+1] == '^' && b[i+2] == '^'
			quoted = false
		}
		if b[i] == '\'' {
			quoted = !quoted
		}
		if end >= 0 && i < end && b[i] == ',' && (i == 0 || b[i-1] != '\\') {
			if quoted || alt {
				b[i] = quotedComma
			} else {
				b[i] = unquotedComma
			}
		}
		if i == end {
			end = -1
		}
	}
	return string(b)
}

// parseVarBlock adds "a=b" pairs split on delim (or a ^^X delimiter).
func parseVarBlock(s string, delim byte, into map[string]string) {
	if len(s) > 2 && s[0] == '^' && s[1] == '^' {
		delim = s[2]
		s = s[3:]
	}
	for _, kv := range separateString(s, delim, 1024) {
		pair := separateString(kv, '=', 2)
		if len(pair) == 2 {
			into[pair[0]] = pair[1]
		}
	}
}

// findEndParen returns the index of the bracket closing s[0], skipping
// nested pairs and quoted text, or -1.
func findEndParen(s string, open, close byte) int {
	depth := 0
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == open:
			depth++
		case c == close:
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// legNames derives the B-leg's user (callee number) and channel name the way
// sofia names an outbound channel: sofia/<profile>/<user@host>.
func legNames(target string) (user, chanName string) {
	parts := strings.SplitN(target, "/", 3)
	if len(parts) == 3 && parts[0] == "sofia" {
		rest := parts[2]
		if parts[1] == "gateway" {
			user = rest[strings.LastIndexByte(rest, '/')+1:]
			return cutUser(user), target
		}
		for _, p := range []string{"sip:", "sips:"} {
			rest = strings.TrimPrefix(rest, p)
		}
		rest, _, _ = strings.Cut(rest, ";")
		return cutUser(rest), "sofia/" + parts[1] + "/" + rest
	}
	return cutUser(target[strings.LastIndexByte(target, '/')+1:]), target
}

func cutUser(s string) string {
	u, _, _ := strings.Cut(s, "@")
	u, _, _ = strings.Cut(u, ";")
	return u
}
