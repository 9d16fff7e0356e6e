package media

import (
	"errors"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

// FreeSWITCH's side, as the transcripts show it: a TEXT frame with the
// metadata, then BINARY little-endian L16 mono (20 ms, size not
// guaranteed); `stop <text>` sends that TEXT then Close 1000; a hang-up
// is Close 1000; graceful-shutdown is one empty BINARY frame, after which
// we must close. Audio back is BINARY L16 at the stream rate.

const (
	maxFrame       = 1 << 20 // larger frames from either peer are garbage
	fsWriteTimeout = 5 * time.Second
)

func (s *Stream) startFreeSWITCH(c *websocket.Conn) *side {
	s.log.Info("freeswitch connected", zap.String("subprotocol", c.Subprotocol()))
	s.emit(StreamEvent{Kind: EventFreeSWITCHConnected, Subprotocol: c.Subprotocol()})
	if s.cfg.Protocol == ProtocolTwilio {
		// Ahead of any audio FreeSWITCH sends while the assistant is dialled.
		s.sendAssistant(frame{kind: fTwilio, msg: s.ids.connected()})
		s.sendAssistant(frame{kind: fTwilio, msg: s.ids.start()})
	}
	c.SetReadLimit(maxFrame)
	sd := newSide(c, s.toFS)
	s.pumps.Add(2)
	go s.readFreeSWITCH(sd)
	go s.writeFreeSWITCH(sd)
	return sd
}

func (s *Stream) readFreeSWITCH(sd *side) {
	defer s.pumps.Done()
	defer close(sd.readDone)
	twilio := s.cfg.Protocol == ProtocolTwilio
	var pcm []byte // Twilio: L16 not yet a whole 20 ms chunk
	var chunk int64
	for {
		typ, data, err := sd.conn.ReadMessage()
		if err != nil {
			s.freeSWITCHEnded(err)
			return
		}
		switch {
		case typ == websocket.TextMessage && twilio:
			// The metadata and stop texts mean nothing to a Twilio
			// assistant; a played mark is reported back to it.
			if name, ok := fsMarkReport(data); ok {
				s.sendAssistant(frame{kind: fTwilio, msg: s.ids.mark(name)})
			}
		case typ == websocket.TextMessage:
			s.sendAssistant(frame{kind: fText, data: data})
		case len(data) == 0:
			s.log.Info("freeswitch graceful-shutdown")
			s.stop(ending{
				ev: &StreamEvent{Kind: EventFreeSWITCHClosed, Spoke: s.spoke.Load()},
				fs: closeClean, fsReason: "graceful-shutdown",
				asstCode: websocket.CloseNormalClosure, asstReason: "call audio ended",
			})
		case twilio:
			pcm = append(pcm, data...)
			off := 0
			for ; len(pcm)-off >= 2*TwilioFrameBytes; off += 2 * TwilioFrameBytes {
				chunk++
				ulaw := AppendMulaw(make([]byte, 0, TwilioFrameBytes), pcm[off:off+2*TwilioFrameBytes])
				s.sendAssistant(frame{kind: fMedia, data: ulaw, chunk: chunk})
			}
			pcm = pcm[:copy(pcm, pcm[off:])]
		default:
			s.sendAssistant(frame{kind: fBinary, data: data})
		}
	}
}

// freeSWITCHEnded: a hang-up or stop (Close 1000), or a lost connection.
// Either way the assistant is told cleanly.
func (s *Stream) freeSWITCHEnded(err error) {
	ev := &StreamEvent{Kind: EventFreeSWITCHClosed, Spoke: s.spoke.Load(), CloseCode: websocket.CloseAbnormalClosure}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		ev.CloseCode = ce.Code
	}
	if ev.CloseCode != websocket.CloseNormalClosure {
		ev.Err = err
	}
	s.stop(ending{
		ev: ev, fs: closeCut,
		asstCode: websocket.CloseNormalClosure, asstReason: "caller hung up",
	})
}

func (s *Stream) writeFreeSWITCH(sd *side) {
	defer s.pumps.Done()
	for {
		f, ok, st := sd.q.take()
		if ok {
			typ := websocket.BinaryMessage
			if f.kind == fText {
				typ = websocket.TextMessage
			}
			_ = sd.conn.SetWriteDeadline(time.Now().Add(fsWriteTimeout))
			if err := sd.conn.WriteMessage(typ, f.data); err != nil {
				s.freeSWITCHEnded(err)
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
		<-sd.q.ready
	}
}
