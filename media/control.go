package media

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Control messages an assistant may send besides audio. Both carry what
// the assistant collected; names become channel variables ailb_state_<name>.
//
// Raw protocol (JSON text frames):
//
//	{"type":"ailb.state","data":{"account":"12345","language":"de"}}
//	{"type":"ailb.handoff","data":{"to":"ivr:billing","state":{"intent":"refund"}}}
//	{"type":"ailb.clear"}                        (stop playing queued audio)
//
// Twilio protocol:
//
//	{"event":"ailb.state","state":{"account":"12345"}}
//	{"event":"ailb.handoff","handoff":{"to":"extension:1000@support","state":{...}}}
//
// "to" is "fallback" (the pool's fallback action), "ivr:<menu>" or
// "extension:<ext>[@<context>]". State names match [a-z0-9_]{1,32}; values
// are at most 256 bytes of UTF-8 without control characters; at most 32
// entries. A message that breaks a rule is ignored as a whole and reported
// (EventControlError); the call goes on.
//
// ailb sends the raw assistant {"type":"ailb.dtmf","digit":"5"} for a key
// press (the Twilio assistant gets a dtmf message).

// StateVarPrefix starts the channel variable of every collected value.
const StateVarPrefix = "ailb_state_"

const (
	maxStateEntries = 32
	maxStateName    = 32
	maxStateValue   = 256
)

// HandoffKind says where a hand-off goes.
type HandoffKind string

// Hand-off targets.
const (
	HandoffFallback  HandoffKind = "fallback"
	HandoffIVR       HandoffKind = "ivr"
	HandoffExtension HandoffKind = "extension"
)

// Handoff asks ailb to move the caller on, keeping what was collected.
type Handoff struct {
	Kind      HandoffKind
	Menu      string            // HandoffIVR: the menu's name
	Extension string            // HandoffExtension
	Context   string            // HandoffExtension; "" means the call's own
	State     map[string]string // channel variables ailb_state_*, may be empty
}

// HandoffMessage is the wire shape of a hand-off in both protocols.
type HandoffMessage struct {
	To    string            `json:"to"`
	State map[string]string `json:"state,omitempty"`
}

// ParseHandoffTarget reads "fallback", "ivr:<menu>" or
// "extension:<ext>[@<context>]". Menus and contexts are names
// ([A-Za-z0-9_-]{1,64}); extensions are dialable ([A-Za-z0-9*#+._-]{1,64}).
func ParseHandoffTarget(to string) (Handoff, error) {
	kind, arg, _ := strings.Cut(to, ":")
	switch HandoffKind(kind) {
	case HandoffFallback:
		if arg != "" || strings.Contains(to, ":") {
			return Handoff{}, errors.New(`handoff "fallback" takes no argument`)
		}
		return Handoff{Kind: HandoffFallback}, nil
	case HandoffIVR:
		if !validToken(arg, isNameByte) {
			return Handoff{}, fmt.Errorf("handoff ivr menu %q: want [A-Za-z0-9_-]{1,64}", truncate(arg, 32))
		}
		return Handoff{Kind: HandoffIVR, Menu: arg}, nil
	case HandoffExtension:
		ext, ctx, hasCtx := strings.Cut(arg, "@")
		if !validToken(ext, isExtByte) {
			return Handoff{}, fmt.Errorf("handoff extension %q: want [A-Za-z0-9*#+._-]{1,64}", truncate(ext, 32))
		}
		if hasCtx && !validToken(ctx, isNameByte) {
			return Handoff{}, fmt.Errorf("handoff context %q: want [A-Za-z0-9_-]{1,64}", truncate(ctx, 32))
		}
		return Handoff{Kind: HandoffExtension, Extension: ext, Context: ctx}, nil
	}
	return Handoff{}, fmt.Errorf("handoff to %q: want fallback, ivr:<menu> or extension:<ext>[@<context>]", truncate(to, 32))
}

func validToken(s string, ok func(byte) bool) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

func isExtByte(c byte) bool {
	return isNameByte(c) || c == '*' || c == '#' || c == '+' || c == '.'
}

// parseState checks a state object and returns it as channel variables.
// Values are never quoted in errors: they may be personal data.
func parseState(raw map[string]json.RawMessage) (map[string]string, error) {
	if len(raw) > maxStateEntries {
		return nil, fmt.Errorf("state has %d entries, at most %d", len(raw), maxStateEntries)
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names) // report the same error for the same message
	vars := make(map[string]string, len(raw))
	for _, name := range names {
		if !validStateName(name) {
			return nil, fmt.Errorf("state name %q: want [a-z0-9_]{1,32}", truncate(name, 40))
		}
		var v string
		if r := bytes.TrimSpace(raw[name]); len(r) == 0 || r[0] != '"' || json.Unmarshal(r, &v) != nil {
			return nil, fmt.Errorf("state %q: value must be a string", name)
		}
		if len(v) > maxStateValue {
			return nil, fmt.Errorf("state %q: value is %d bytes, at most %d", name, len(v), maxStateValue)
		}
		if !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) {
			return nil, fmt.Errorf("state %q: value holds control characters or invalid UTF-8", name)
		}
		vars[StateVarPrefix+name] = v
	}
	return vars, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0) }

func validStateName(s string) bool {
	if len(s) == 0 || len(s) > maxStateName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// handoffWire is HandoffMessage with the state still unchecked.
type handoffWire struct {
	To    string                     `json:"to"`
	State map[string]json.RawMessage `json:"state"`
}

func parseHandoff(w *handoffWire) (*Handoff, error) {
	if w == nil {
		return nil, errors.New("handoff without a target")
	}
	h, err := ParseHandoffTarget(w.To)
	if err != nil {
		return nil, err
	}
	if h.State, err = parseState(w.State); err != nil {
		return nil, err
	}
	return &h, nil
}
