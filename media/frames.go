package media

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gorilla/websocket"
)

// Protocols an assistant can speak.
const (
	ProtocolRaw    = "raw"    // FreeSWITCH's own: binary L16 both ways, JSON text
	ProtocolTwilio = "twilio" // Twilio Media Streams: JSON, base64 μ-law 8 kHz
)

// inKind is what a frame from the assistant asks for.
type inKind uint8

const (
	inIgnore  inKind = iota // nothing to do (unknown message type)
	inAudio                 // audio: L16 LE at the stream rate, for the caller
	inMark                  // name: tell me when the caller has heard up to here
	inClear                 // drop the audio not yet played
	inState                 // state: collected values
	inHandoff               // handoff: move the caller on
	inToFS                  // text: a FreeSWITCH control message to pass on
	inInvalid               // a control message broke a rule: err says which
)

// inbound is one decoded frame from the assistant.
type inbound struct {
	kind    inKind
	audio   []byte
	name    string
	state   map[string]string
	handoff *Handoff
	text    []byte
	err     error
	what    string // the message type, for logs
}

// errGarbage marks a frame that is not the protocol at all.
var errGarbage = errors.New("garbage frame")

func garbage(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errGarbage}, a...)...)
}

// assistantDecoder decodes one assistant's frames; it keeps a scratch
// buffer, so it belongs to that socket's reader.
type assistantDecoder struct {
	protocol string
	scratch  []byte
}

// decode reads one frame. An error means garbage; a control message that
// breaks a rule is inInvalid instead, and the call goes on.
func (d *assistantDecoder) decode(msgType int, data []byte) (inbound, error) {
	if d.protocol == ProtocolTwilio {
		return d.decodeTwilio(msgType, data)
	}
	return d.decodeRaw(msgType, data)
}

type rawIn struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

func (d *assistantDecoder) decodeRaw(msgType int, data []byte) (inbound, error) {
	switch msgType {
	case websocket.BinaryMessage:
		if len(data) == 0 {
			return inbound{kind: inIgnore, what: "empty binary"}, nil
		}
		return inbound{kind: inAudio, audio: data}, nil
	case websocket.TextMessage:
	default:
		return inbound{}, garbage("frame type %d", msgType)
	}
	var m rawIn
	if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
		return inbound{}, garbage("text frame is not a JSON object with a \"type\"")
	}
	in := inbound{what: m.Type}
	switch m.Type {
	case "ailb.state":
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(m.Data, &raw); err != nil || raw == nil {
			return invalid(in, errors.New("ailb.state: data must be an object of strings")), nil
		}
		return stateIn(in, raw), nil
	case "ailb.handoff":
		var w handoffWire
		if err := json.Unmarshal(m.Data, &w); err != nil {
			return invalid(in, errors.New(`ailb.handoff: data must be {"to":...,"state":{...}}`)), nil
		}
		return handoffIn(in, &w), nil
	case "ailb.clear", "killAudio":
		in.kind = inClear
		return in, nil
	case "mark":
		var mk TwilioMark
		if err := json.Unmarshal(m.Data, &mk); err != nil || mk.Name == "" {
			return invalid(in, errors.New(`mark: data must be {"name":...}`)), nil
		}
		in.kind, in.name = inMark, mk.Name
		return in, nil
	case "clearMarks":
		in.kind, in.text = inToFS, []byte(`{"type":"clearMarks"}`)
		return in, nil
	}
	return in, nil // inIgnore: other types would only fire CUSTOM events
}

// twilioIn types media and mark (a malformed one is garbage) and keeps
// the control parts raw, so a broken one is reported, not fatal.
type twilioIn struct {
	Event string `json:"event"`
	Media *struct {
		Payload *string `json:"payload"`
	} `json:"media"`
	Mark    *TwilioMark     `json:"mark"`
	State   json.RawMessage `json:"state"`
	Handoff json.RawMessage `json:"handoff"`
}

func (d *assistantDecoder) decodeTwilio(msgType int, data []byte) (inbound, error) {
	if msgType != websocket.TextMessage {
		return inbound{}, garbage("a Twilio stream carries only text frames, got type %d", msgType)
	}
	var m twilioIn
	if err := json.Unmarshal(data, &m); err != nil || m.Event == "" {
		return inbound{}, garbage("text frame is not a Twilio message (JSON with an \"event\")")
	}
	in := inbound{what: m.Event}
	switch m.Event {
	case "media":
		if m.Media == nil || m.Media.Payload == nil {
			return inbound{}, garbage("media without a payload")
		}
		ulaw, err := d.base64(*m.Media.Payload)
		if err != nil {
			return inbound{}, garbage("media payload is not base64")
		}
		if len(ulaw) == 0 {
			in.what = "empty media"
			return in, nil
		}
		in.kind, in.audio = inAudio, AppendL16(make([]byte, 0, 2*len(ulaw)), ulaw)
		return in, nil
	case "mark":
		if m.Mark == nil || m.Mark.Name == "" {
			return invalid(in, errors.New(`mark: want "mark":{"name":...}`)), nil
		}
		in.kind, in.name = inMark, m.Mark.Name
		return in, nil
	case "clear":
		in.kind = inClear
		return in, nil
	case "ailb.state":
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(m.State, &raw); err != nil || raw == nil {
			return invalid(in, errors.New(`ailb.state: want "state":{"name":"value",...}`)), nil
		}
		return stateIn(in, raw), nil
	case "ailb.handoff":
		var w handoffWire
		if err := json.Unmarshal(m.Handoff, &w); err != nil {
			return invalid(in, errors.New(`ailb.handoff: want "handoff":{"to":...,"state":{...}}`)), nil
		}
		return handoffIn(in, &w), nil
	}
	return in, nil
}

// base64 decodes into the scratch buffer, with or without padding.
func (d *assistantDecoder) base64(s string) ([]byte, error) {
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	var err error
	d.scratch, err = enc.AppendDecode(d.scratch[:0], []byte(s))
	return d.scratch, err
}

func invalid(in inbound, err error) inbound {
	in.kind, in.err = inInvalid, err
	return in
}

func stateIn(in inbound, raw map[string]json.RawMessage) inbound {
	vars, err := parseState(raw)
	if err != nil {
		return invalid(in, fmt.Errorf("ailb.state: %w", err))
	}
	if len(vars) == 0 {
		return invalid(in, errors.New("ailb.state: no values"))
	}
	in.kind, in.state = inState, vars
	return in
}

func handoffIn(in inbound, w *handoffWire) inbound {
	h, err := parseHandoff(w)
	if err != nil {
		return invalid(in, fmt.Errorf("ailb.handoff: %w", err))
	}
	in.kind, in.handoff = inHandoff, h
	return in
}

// fsMark is the mod_audio_fork message that asks for a playout report.
func fsMark(name string) []byte {
	b, _ := json.Marshal(struct {
		Type string     `json:"type"`
		Data TwilioMark `json:"data"`
	}{"mark", TwilioMark{name}})
	return b
}

// fsKillAudio cuts FreeSWITCH's playback at once (transcript d5).
const fsKillAudio = `{"type":"killAudio"}`

// fsTextIn is a text frame from FreeSWITCH: the metadata, a mark report
// ({"type": "mark", "data": {"name":"m1", "event": "playout"}}, transcript
// d) or the text of stop/send_text.
type fsTextIn struct {
	Type string `json:"type"`
	Data struct {
		Name  string `json:"name"`
		Event string `json:"event"`
	} `json:"data"`
}

// fsMarkReport returns the name of a played or cleared mark.
func fsMarkReport(text []byte) (string, bool) {
	if !bytes.Contains(text, []byte(`"mark"`)) {
		return "", false
	}
	var m fsTextIn
	if json.Unmarshal(text, &m) != nil || m.Type != "mark" || m.Data.Name == "" {
		return "", false
	}
	return m.Data.Name, m.Data.Event == "playout" || m.Data.Event == "cleared"
}
