package media

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

// dialAssistant connects to the assistant, or fails the stream and
// returns nil.
func (s *Stream) dialAssistant() *websocket.Conn {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.ConnectTimeout)
	defer cancel()
	start := time.Now()
	c, resp, err := s.r.dial(ctx, &s.cfg)
	if err != nil {
		if s.ctx.Err() != nil {
			return nil // stopped meanwhile: not the assistant's failure
		}
		reason, detail := classifyDial(ctx, err, resp, s.cfg.ConnectTimeout)
		s.log.Warn("assistant connect failed", zap.String("reason", reason), zap.Error(detail))
		s.fail(reason, detail, closeCut, 0)
		return nil
	}
	s.log.Info("assistant connected", zap.Duration("took", time.Since(start)))
	s.emit(StreamEvent{Kind: EventAssistantConnected})
	return c
}

// classifyDial names a dial failure. Details never hold the URL: only
// host:port, the HTTP status or the TLS complaint.
func classifyDial(ctx context.Context, err error, resp *http.Response, timeout time.Duration) (string, error) {
	var ne net.Error
	var op *net.OpError
	switch {
	case errors.Is(err, websocket.ErrBadHandshake):
		if resp != nil {
			return ReasonHandshake, fmt.Errorf("assistant answered the upgrade with HTTP %d", resp.StatusCode)
		}
		return ReasonHandshake, errors.New("assistant answered the upgrade without switching protocols")
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ReasonConnectTimeout, fmt.Errorf("no handshake within %v", timeout)
	case errors.As(err, &op) && op.Op == "dial":
		return ReasonConnectRefused, err
	}
	return ReasonHandshake, err
}

func (s *Stream) startAssistant(c *websocket.Conn) *side {
	c.SetReadLimit(maxFrame)
	sd := newSide(c, s.toAssistant)
	s.pumps.Add(2)
	go s.readAssistant(sd)
	go s.writeAssistant(sd)
	return sd
}

func (s *Stream) readAssistant(sd *side) {
	defer s.pumps.Done()
	defer close(sd.readDone)
	timeout := s.r.opts.ReadTimeout
	sd.conn.SetPongHandler(func(string) error {
		return sd.conn.SetReadDeadline(time.Now().Add(timeout))
	})
	dec := assistantDecoder{protocol: s.cfg.Protocol}
	for {
		_ = sd.conn.SetReadDeadline(time.Now().Add(timeout))
		typ, data, err := sd.conn.ReadMessage()
		if err != nil {
			s.assistantEnded(err)
			return
		}
		in, err := dec.decode(typ, data)
		if err != nil {
			// Keep reading: the Close handshake that follows needs it.
			s.log.Warn("assistant sent garbage", zap.Error(err))
			s.fail(ReasonGarbage, err, closeClean, websocket.CloseProtocolError)
			continue
		}
		s.handle(in)
	}
}

// handle acts on one frame from the assistant.
func (s *Stream) handle(in inbound) {
	switch in.kind {
	case inAudio:
		s.played(len(in.audio))
		if !s.spoke.Swap(true) {
			s.emit(StreamEvent{Kind: EventFirstAudio, Spoke: true})
			close(s.firstAudio)
		}
		// Waiting here slows only this assistant's socket, and keeps a
		// burst of speech whole while FreeSWITCH buffers it.
		s.toFS.pushWait(frame{kind: fBinary, data: in.audio}, s.stopCh)
	case inMark:
		s.toFS.push(frame{kind: fText, data: fsMark(in.name)})
	case inClear:
		s.playoutEnd.Store(s.r.opts.Now().UnixNano()) // the rest is cut
		n := s.toFS.flushAudio()
		s.toFS.push(frame{kind: fText, data: []byte(fsKillAudio)})
		s.log.Debug("assistant cleared audio", zap.Int("unsent_frames", n))
	case inToFS:
		s.toFS.push(frame{kind: fText, data: in.text})
	case inState:
		s.log.Info("assistant set state", zap.Strings("vars", keys(in.state)))
		s.emit(StreamEvent{Kind: EventState, State: in.state, Spoke: s.spoke.Load()})
	case inHandoff:
		s.log.Info("assistant asked for a hand-off", zap.String("kind", string(in.handoff.Kind)))
		s.emit(StreamEvent{Kind: EventHandoff, Handoff: in.handoff, Spoke: s.spoke.Load()})
	case inInvalid:
		s.log.Warn("assistant control message ignored", zap.String("type", truncate(in.what, 32)), zap.Error(in.err))
		s.emit(StreamEvent{Kind: EventControlError, Err: in.err, Spoke: s.spoke.Load()})
	default:
		s.log.Debug("assistant message ignored", zap.String("type", truncate(in.what, 32)))
	}
}

// played moves the end of playout by n bytes of L16 at the stream rate.
// Assistants send speech faster than real time, so silence is measured
// from when the caller stops hearing it, not from the last frame.
func (s *Stream) played(n int) {
	now := s.r.opts.Now().UnixNano()
	d := int64(n) * int64(time.Second) / int64(2*s.cfg.SampleRate)
	s.playoutEnd.Store(max(s.playoutEnd.Load(), now) + d)
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// assistantEnded: Close 1000 (or a Close frame without a code) ends
// normally; anything else is a failure.
func (s *Stream) assistantEnded(err error) {
	var ce *websocket.CloseError
	if errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseNoStatusReceived) {
		s.log.Info("assistant ended the stream")
		s.stop(ending{
			ev: &StreamEvent{Kind: EventAssistantEnded, CloseCode: ce.Code, Spoke: s.spoke.Load()},
			fs: closeClean, asst: closeCut, fsReason: "assistant ended",
		})
		return
	}
	s.assistantBroke(err)
}

func (s *Stream) assistantBroke(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		err = fmt.Errorf("assistant silent on the socket (no frame or pong) for %v: %w", s.r.opts.ReadTimeout, err)
		s.fail(ReasonUnresponsive, err, closeCut, 0)
		return
	}
	s.fail(ReasonAbnormalClose, err, closeCut, 0)
}

func (s *Stream) writeAssistant(sd *side) {
	defer s.pumps.Done()
	ping := time.NewTicker(s.r.opts.PingEvery)
	defer ping.Stop()
	timeout := s.r.opts.ReadTimeout
	buf := make([]byte, 0, 512)
	var seq int64
	for {
		select {
		case <-ping.C:
			if !s.ping(sd) {
				return
			}
		default:
		}
		f, ok, st := sd.q.take()
		if ok {
			typ, data := websocket.TextMessage, f.data
			switch f.kind {
			case fBinary:
				typ = websocket.BinaryMessage
			case fMedia:
				seq++
				buf = appendTwilioMedia(buf[:0], seq, f.chunk, s.ids.streamSid, f.data)
				data = buf
			case fTwilio:
				if f.msg.Event != "connected" {
					seq++
					buf = appendTwilio(buf[:0], f.msg, seq)
				} else {
					buf = appendTwilio(buf[:0], f.msg, 0)
				}
				data = buf
			}
			_ = sd.conn.SetWriteDeadline(time.Now().Add(timeout))
			if err := sd.conn.WriteMessage(typ, data); err != nil {
				s.writeFailed(sd, err)
				return
			}
			continue
		}
		switch st {
		case qClosing:
			code, reason := sd.q.closeFrame()
			_ = sd.conn.WriteControl(websocket.CloseMessage, closeMessage(code, reason), time.Now().Add(closeGrace))
			return
		case qAborted:
			return
		}
		select {
		case <-sd.q.ready:
		case <-ping.C:
			if !s.ping(sd) {
				return
			}
		}
	}
}

// ping checks the assistant is alive even while nothing else is sent;
// the reader's deadline moves with every pong.
func (s *Stream) ping(sd *side) bool {
	err := sd.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.r.opts.ReadTimeout))
	if err != nil {
		s.writeFailed(sd, err)
		return false
	}
	return true
}

// writeFailed: an assistant that ends with Close 1000 and shuts its side at
// once makes the next write fail before the reader has taken the Close
// frame. The reader's verdict (ended normally, or how it broke) wins when
// it comes within the close grace; only a write failing on its own is a
// broken assistant.
func (s *Stream) writeFailed(sd *side, err error) {
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-sd.readDone:
	case <-s.stopCh:
	case <-t.C:
	}
	s.assistantBroke(err)
}
