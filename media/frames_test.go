package media

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

func TestDecodeAssistant(t *testing.T) {
	ulaw := []byte{0xFF, 0x80, 0x00, 0xCE}
	l16 := AppendL16(nil, ulaw)
	b64 := base64.StdEncoding.EncodeToString(ulaw)
	const txt, bin = websocket.TextMessage, websocket.BinaryMessage
	tests := []struct {
		proto string
		typ   int
		give  string
		want  string // kind and payload, or "garbage: ..."
	}{
		{ProtocolRaw, bin, "\x01\x02\x03\x04", "audio 01020304"},
		{ProtocolRaw, bin, "", "ignore"},
		{ProtocolRaw, txt, `{"type":"ailb.state","data":{"account":"12345"}}`, "state map[ailb_state_account:12345]"},
		{ProtocolRaw, txt, `{"type":"ailb.state","data":"x"}`, "invalid ailb.state: data must be an object of strings"},
		{ProtocolRaw, txt, `{"type":"ailb.state","data":{}}`, "invalid ailb.state: no values"},
		{ProtocolRaw, txt, `{"type":"ailb.handoff","data":{"to":"fallback","state":{"a":"1"}}}`, "handoff fallback map[ailb_state_a:1]"},
		{ProtocolRaw, txt, `{"type":"ailb.handoff","data":{"to":"extension:100@ctx"}}`, "handoff extension 100 ctx map[]"},
		{ProtocolRaw, txt, `{"type":"ailb.handoff","data":{"to":"extension:1 00"}}`, `invalid ailb.handoff: handoff extension "1 00": want [A-Za-z0-9*#+._-]{1,64}`},
		{ProtocolRaw, txt, `{"type":"ailb.clear"}`, "clear"},
		{ProtocolRaw, txt, `{"type":"killAudio"}`, "clear"},
		{ProtocolRaw, txt, `{"type":"mark","data":{"name":"m1"}}`, "mark m1"},
		{ProtocolRaw, txt, `{"type":"clearMarks"}`, `tofs {"type":"clearMarks"}`},
		{ProtocolRaw, txt, `{"type":"transfer","data":{"to":"1000"}}`, "ignore"},
		{ProtocolRaw, txt, `this is not json`, "garbage"},
		{ProtocolRaw, txt, `{"event":"no type field","x":1}`, "garbage"},
		{ProtocolTwilio, txt, `{"event":"media","streamSid":"MZ1","media":{"payload":"` + b64 + `"}}`, "audio " + fmt.Sprintf("%x", l16)},
		{ProtocolTwilio, txt, `{"event":"media","media":{"payload":"` + strings.TrimRight(b64, "=") + `"}}`, "audio " + fmt.Sprintf("%x", l16)},
		{ProtocolTwilio, txt, `{"event":"media","media":{"payload":""}}`, "ignore"},
		{ProtocolTwilio, txt, `{"event":"media","media":{}}`, "garbage"},
		{ProtocolTwilio, txt, `{"event":"media","media":{"payload":"!!!!"}}`, "garbage"},
		{ProtocolTwilio, txt, `{"event":"mark","mark":{"name":"m1"}}`, "mark m1"},
		{ProtocolTwilio, txt, `{"event":"mark","mark":{}}`, `invalid mark: want "mark":{"name":...}`},
		{ProtocolTwilio, txt, `{"event":"clear","streamSid":"MZ1"}`, "clear"},
		{ProtocolTwilio, txt, `{"event":"ailb.state","state":{"lang":"de"}}`, "state map[ailb_state_lang:de]"},
		{ProtocolTwilio, txt, `{"event":"ailb.state","state":{"lang":"` + strings.Repeat("x", 257) + `"}}`, `invalid ailb.state: state "lang": value is 257 bytes, at most 256`},
		{ProtocolTwilio, txt, `{"event":"ailb.handoff","handoff":{"to":"ivr:main"}}`, "handoff ivr main map[]"},
		{ProtocolTwilio, txt, `{"event":"ailb.handoff","handoff":{"to":"ivr:"}}`, `invalid ailb.handoff: handoff ivr menu "": want [A-Za-z0-9_-]{1,64}`},
		{ProtocolTwilio, txt, `{"event":"ailb.handoff"}`, `invalid ailb.handoff: want "handoff":{"to":...,"state":{...}}`},
		{ProtocolTwilio, txt, `{"event":"ailb.handoff","handoff":{}}`, `invalid ailb.handoff: handoff to "": want fallback, ivr:<menu> or extension:<ext>[@<context>]`},
		{ProtocolTwilio, txt, `{"event":"connected"}`, "ignore"},
		{ProtocolTwilio, txt, `{"type":"killAudio"}`, "garbage"},
		{ProtocolTwilio, bin, "\x00\x01", "garbage"},
	}
	for _, tt := range tests {
		t.Run(tt.proto+" "+tt.give, func(t *testing.T) {
			d := assistantDecoder{protocol: tt.proto}
			in, err := d.decode(tt.typ, []byte(tt.give))
			if got := describe(in, err); got != tt.want && !(tt.want == "garbage" && strings.HasPrefix(got, "garbage")) {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func describe(in inbound, err error) string {
	if err != nil {
		return "garbage: " + err.Error()
	}
	switch in.kind {
	case inAudio:
		return fmt.Sprintf("audio %x", in.audio)
	case inMark:
		return "mark " + in.name
	case inClear:
		return "clear"
	case inState:
		return fmt.Sprint("state ", in.state)
	case inHandoff:
		h := in.handoff
		return strings.Join(strings.Fields(fmt.Sprint("handoff ", h.Kind, " ", h.Menu, h.Extension, " ", h.Context, " ", h.State)), " ")
	case inToFS:
		return "tofs " + string(in.text)
	case inInvalid:
		return "invalid " + in.err.Error()
	}
	return "ignore"
}

func TestStateRules(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{`{"a":"1","b_2":"x y"}`, "map[ailb_state_a:1 ailb_state_b_2:x y]"},
		{`{"` + strings.Repeat("n", 32) + `":"v"}`, "map[ailb_state_" + strings.Repeat("n", 32) + ":v]"},
		{`{"` + strings.Repeat("n", 33) + `":"v"}`, "error"},
		{`{"":"v"}`, "error"},
		{`{"a.b":"v"}`, "error"},
		{`{"a":"` + strings.Repeat("é", 128) + `"}`, "map[ailb_state_a:" + strings.Repeat("é", 128) + "]"},
		{`{"a":"` + strings.Repeat("é", 128) + `x"}`, "error"},
		{`{"a":"tab\there"}`, "error"},
		{`{"a":"\u0085"}`, "error"},
		{`{"a":"\ud800"}`, "map[ailb_state_a:\ufffd]"}, // JSON's replacement of a lone surrogate
		{`{"a":null}`, "error"},
		{`{"a":["x"]}`, "error"},
	}
	for _, tt := range tests {
		var d assistantDecoder
		d.protocol = ProtocolTwilio
		in, err := d.decode(websocket.TextMessage, []byte(`{"event":"ailb.state","state":`+tt.give+`}`))
		got := "error"
		if err == nil && in.kind == inState {
			got = fmt.Sprint(in.state)
		}
		if got != tt.want {
			t.Errorf("%s: got %s (%v), want %s", tt.give, got, in.err, tt.want)
		}
	}
	many := make([]string, 33)
	for i := range many {
		many[i] = fmt.Sprintf(`"k%d":"v"`, i)
	}
	d := assistantDecoder{protocol: ProtocolRaw}
	in, _ := d.decode(websocket.TextMessage, []byte(`{"type":"ailb.state","data":{`+strings.Join(many, ",")+`}}`))
	if in.kind != inInvalid || !strings.Contains(in.err.Error(), "33 entries, at most 32") {
		t.Fatalf("33 entries: %v", in.err)
	}
}

func TestParseHandoffTarget(t *testing.T) {
	tests := []struct {
		give string
		want Handoff
		err  bool
	}{
		{give: "fallback", want: Handoff{Kind: HandoffFallback}},
		{give: "fallback:x", err: true},
		{give: "ivr:billing-2", want: Handoff{Kind: HandoffIVR, Menu: "billing-2"}},
		{give: "ivr:bad menu", err: true},
		{give: "extension:*97", want: Handoff{Kind: HandoffExtension, Extension: "*97"}},
		{give: "extension:+15550100@public", want: Handoff{Kind: HandoffExtension, Extension: "+15550100", Context: "public"}},
		{give: "extension:100@", err: true},
		{give: "extension:100@a@b", err: true},
		{give: "extension:${x}", err: true},
		{give: "extension:", err: true},
		{give: "hangup", err: true},
		{give: "", err: true},
	}
	for _, tt := range tests {
		got, err := ParseHandoffTarget(tt.give)
		if (err != nil) != tt.err || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("ParseHandoffTarget(%q) = %+v, %v", tt.give, got, err)
		}
	}
}

func TestFSMarkReport(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{`{"type": "mark", "data": {"name":"m1", "event": "playout"}}`, "m1"},
		{`{"type":"mark","data":{"name":"m1","event":"cleared"}}`, "m1"},
		{`{"type":"mark","data":{"name":"m1"}}`, ""},
		{`{"uuid":"x","dest":"1020","rate":"8k"}`, ""},
		{`{"reason":"mark"}`, ""},
		{`not json "mark"`, ""},
	}
	for _, tt := range tests {
		name, ok := fsMarkReport([]byte(tt.give))
		if !ok {
			name = ""
		}
		if name != tt.want {
			t.Errorf("fsMarkReport(%s) = %q, want %q", tt.give, name, tt.want)
		}
	}
	if got := string(fsMark(`a"b`)); got != `{"type":"mark","data":{"name":"a\"b"}}` {
		t.Fatalf("fsMark: %s", got)
	}
}

// Any frame from an assistant decodes to garbage or to something safe to
// act on: audio of whole samples, valid state, a valid hand-off.
func FuzzDecodeAssistant(f *testing.F) {
	f.Add(true, true, []byte(`{"event":"media","media":{"payload":"/4AAzg=="}}`))
	f.Add(true, true, []byte(`{"event":"ailb.handoff","handoff":{"to":"extension:1@c","state":{"a":"b"}}}`))
	f.Add(false, true, []byte(`{"type":"ailb.state","data":{"a":"b"}}`))
	f.Add(false, true, []byte(`{"type":"mark","data":{"name":"m"}}`))
	f.Add(false, false, []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, twilio, text bool, data []byte) {
		d := assistantDecoder{protocol: ProtocolRaw}
		if twilio {
			d.protocol = ProtocolTwilio
		}
		typ := websocket.BinaryMessage
		if text {
			typ = websocket.TextMessage
		}
		in, err := d.decode(typ, data)
		if err != nil {
			if !errors.Is(err, errGarbage) || in.kind != inIgnore {
				t.Fatalf("error %v with kind %d", err, in.kind)
			}
			return
		}
		switch in.kind {
		case inAudio:
			if len(in.audio) == 0 || (twilio && len(in.audio)%2 != 0) {
				t.Fatalf("audio of %d bytes", len(in.audio))
			}
		case inState:
			checkVars(t, in.state)
		case inHandoff:
			checkVars(t, in.handoff.State)
			h := in.handoff
			for _, s := range []string{h.Menu, h.Extension, h.Context} {
				if strings.ContainsAny(s, " \t\r\n{}$@,|'\"") {
					t.Fatalf("unsafe hand-off target %+v", h)
				}
			}
		case inInvalid:
			if in.err == nil {
				t.Fatal("invalid without an error")
			}
		case inMark:
			if in.name == "" {
				t.Fatal("mark without a name")
			}
		}
	})
}

func checkVars(t *testing.T, vars map[string]string) {
	for k, v := range vars {
		if !strings.HasPrefix(k, StateVarPrefix) || !validStateName(k[len(StateVarPrefix):]) {
			t.Fatalf("variable name %q", k)
		}
		if len(v) > maxStateValue || !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) {
			t.Fatalf("variable value %q", v)
		}
	}
}
