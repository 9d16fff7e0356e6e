package wstest

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"sync"
	"time"

	"ailb/media"

	"github.com/gorilla/websocket"
)

// Peer is one connection to the assistant.
type Peer struct {
	s      *Server
	conn   *websocket.Conn
	Header http.Header // the upgrade request's headers
	Path   string      // the upgrade request's path
	Query  string      // and raw query

	wmu sync.Mutex // gorilla allows one writer

	mu        sync.Mutex
	msgs      []Msg
	changed   chan struct{} // closed and replaced on every message
	closeCode int           // the Close code received, or 1006 when dropped
	closed    chan struct{} // the reader ended
	stop      chan struct{} // stops the speaker
	stopOnce  sync.Once
}

func (p *Peer) read() {
	defer p.s.wg.Done()
	defer close(p.closed)
	for {
		typ, data, err := p.conn.ReadMessage()
		if err != nil {
			code := websocket.CloseAbnormalClosure
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				code = ce.Code
			}
			p.mu.Lock()
			p.closeCode = code
			p.mu.Unlock()
			p.stopSpeaking()
			return
		}
		m := Msg{Type: typ, Data: data}
		if typ == websocket.TextMessage {
			if p.s.opts.Protocol == media.ProtocolTwilio {
				var tm media.TwilioMessage
				if json.Unmarshal(data, &tm) == nil {
					m.Twilio = &tm
				}
			} else {
				_ = json.Unmarshal(data, &m.Raw)
			}
		}
		if p.s.opts.OnMessage != nil {
			p.s.opts.OnMessage(m)
		}
		p.mu.Lock()
		p.msgs = append(p.msgs, m)
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
}

func (p *Peer) stopSpeaking() { p.stopOnce.Do(func() { close(p.stop) }) }

// speak sends the greeting tone, paced in real time.
func (p *Peer) speak(d time.Duration) {
	defer p.s.wg.Done()
	if d <= 0 {
		return
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	n := p.s.opts.SampleRate / 50
	for i := 0; time.Duration(i)*20*time.Millisecond < d; i++ {
		if err := p.SendAudio(Tone(440, p.s.opts.SampleRate, i*n, n)); err != nil {
			return
		}
		select {
		case <-t.C:
		case <-p.stop:
			return
		}
	}
}

// Received returns a copy of every message so far.
func (p *Peer) Received() []Msg {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Msg(nil), p.msgs...)
}

// Wait returns the first received message that matches, waiting for it.
func (p *Peer) Wait(timeout time.Duration, match func(Msg) bool) (Msg, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		p.mu.Lock()
		msgs, changed := p.msgs[seen:], p.changed
		p.mu.Unlock()
		for _, m := range msgs {
			if match(m) {
				return m, nil
			}
		}
		seen += len(msgs)
		select {
		case <-changed:
		case <-p.closed:
			p.mu.Lock()
			n := len(p.msgs)
			p.mu.Unlock()
			if n == seen {
				return Msg{}, errors.New("wstest: connection closed before a match")
			}
		case <-deadline.C:
			return Msg{}, errors.New("wstest: no matching message within " + timeout.String())
		}
	}
}

// Closed is closed when the connection has ended.
func (p *Peer) Closed() <-chan struct{} { return p.closed }

// CloseCode is the Close code the relay sent (1006: none, TCP ended).
func (p *Peer) CloseCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closeCode
}

// Audio returns every sample received: binary L16 on raw, decoded μ-law
// media on Twilio.
func (p *Peer) Audio() []int16 {
	var out []int16
	for _, m := range p.Received() {
		switch {
		case m.Type == websocket.BinaryMessage:
			for i := 0; i+1 < len(m.Data); i += 2 {
				out = append(out, int16(binary.LittleEndian.Uint16(m.Data[i:])))
			}
		case m.Twilio != nil && m.Twilio.Event == "media" && m.Twilio.Media != nil:
			ulaw, _ := base64.StdEncoding.DecodeString(m.Twilio.Media.Payload)
			for _, u := range ulaw {
				out = append(out, media.MulawDecode(u))
			}
		}
	}
	return out
}

func (p *Peer) write(typ int, data []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_ = p.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return p.conn.WriteMessage(typ, data)
}

// SendAudio sends L16 little-endian samples: a binary frame on raw, a
// media message (μ-law, base64) on Twilio.
func (p *Peer) SendAudio(pcm []byte) error {
	if p.s.opts.Protocol != media.ProtocolTwilio {
		return p.write(websocket.BinaryMessage, pcm)
	}
	ulaw := media.AppendMulaw(nil, pcm)
	return p.SendJSON(media.TwilioMessage{Event: "media", Media: &media.TwilioMedia{Payload: base64.StdEncoding.EncodeToString(ulaw)}})
}

// SendText sends one text frame verbatim.
func (p *Peer) SendText(s string) error { return p.write(websocket.TextMessage, []byte(s)) }

// SendBinary sends one binary frame verbatim.
func (p *Peer) SendBinary(b []byte) error { return p.write(websocket.BinaryMessage, b) }

// SendJSON sends v as a text frame.
func (p *Peer) SendJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return p.write(websocket.TextMessage, b)
}

// SendState sends collected values in the assistant's protocol.
func (p *Peer) SendState(state map[string]any) error {
	if p.s.opts.Protocol == media.ProtocolTwilio {
		return p.SendJSON(map[string]any{"event": "ailb.state", "state": state})
	}
	return p.SendJSON(map[string]any{"type": "ailb.state", "data": state})
}

// SendHandoff asks for a hand-off in the assistant's protocol.
func (p *Peer) SendHandoff(to string, state map[string]any) error {
	h := map[string]any{"to": to, "state": state}
	if p.s.opts.Protocol == media.ProtocolTwilio {
		return p.SendJSON(map[string]any{"event": "ailb.handoff", "handoff": h})
	}
	return p.SendJSON(map[string]any{"type": "ailb.handoff", "data": h})
}

// SendMark asks to be told when the caller has heard up to here (Twilio).
func (p *Peer) SendMark(name string) error {
	return p.SendJSON(media.TwilioMessage{Event: "mark", Mark: &media.TwilioMark{Name: name}})
}

// SendClear drops the audio not yet played.
func (p *Peer) SendClear() error {
	if p.s.opts.Protocol == media.ProtocolTwilio {
		return p.SendText(`{"event":"clear"}`)
	}
	return p.SendText(`{"type":"ailb.clear"}`)
}

// Close sends a Close frame with code and waits up to a second for the
// relay's answer before cutting the connection.
func (p *Peer) Close(code int, reason string) error {
	p.stopSpeaking()
	p.wmu.Lock()
	err := p.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	p.wmu.Unlock()
	if p.s.opts.Stall {
		return errors.Join(err, p.conn.Close())
	}
	select {
	case <-p.closed:
	case <-time.After(time.Second):
	}
	return errors.Join(err, p.conn.Close())
}

// Drop cuts the TCP connection without a Close frame.
func (p *Peer) Drop() {
	p.stopSpeaking()
	_ = p.conn.Close()
}

// Tone returns n samples of a sine at hz starting at sample offset, as
// little-endian L16 at rate, amplitude 8000.
func Tone(hz float64, rate, offset, n int) []byte {
	b := make([]byte, 0, 2*n)
	for i := offset; i < offset+n; i++ {
		s := int16(math.Round(8000 * math.Sin(2*math.Pi*hz*float64(i)/float64(rate))))
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	return b
}
