package media

import (
	"fmt"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

// The supervisor: one goroutine per stream from Register to the end. It
// waits for FreeSWITCH, dials the assistant, runs the audio timers and
// closes both sockets, then waits for their readers and writers.

// closeGrace bounds a clean close: the peer has this long to take the
// last frames and answer our Close before the TCP connection is cut.
const closeGrace = time.Second

// run is the supervisor.
func (s *Stream) run() {
	defer s.r.wg.Done()
	defer close(s.done)
	defer s.r.remove(s)
	defer s.cancel()

	fs := s.awaitFreeSWITCH()
	if fs == nil {
		return
	}
	fsSide := s.startFreeSWITCH(fs)
	var asstSide *side
	if asst := s.dialAssistant(); asst != nil {
		asstSide = s.startAssistant(asst)
		s.watch()
	}
	<-s.stopCh
	s.teardown(fsSide, asstSide)
}

func (s *Stream) awaitFreeSWITCH() *websocket.Conn {
	t := time.NewTimer(s.cfg.ConnectTimeout)
	defer t.Stop()
	select {
	case c := <-s.fsConn:
		return c
	case <-t.C:
		s.log.Warn("freeswitch never connected", zap.Duration("timeout", s.cfg.ConnectTimeout))
		s.fail(ReasonFreeSWITCHTimeout, fmt.Errorf("FreeSWITCH did not connect within %v", s.cfg.ConnectTimeout), closeCut, 0)
	case <-s.stopCh:
	}
	return nil
}

// watch runs the audio timers until the stream stops.
func (s *Stream) watch() {
	var noAudio, silence <-chan time.Time
	if d := s.cfg.FirstAudioTimeout; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		noAudio = t.C
	}
	first := s.firstAudio
	silenceTimer := time.NewTimer(time.Hour)
	silenceTimer.Stop()
	defer silenceTimer.Stop()
	for {
		select {
		case <-s.stopCh:
			return
		case <-noAudio:
			if !s.spoke.Load() {
				s.log.Warn("assistant sent no audio", zap.Duration("timeout", s.cfg.FirstAudioTimeout))
				s.fail(ReasonNoAudio, fmt.Errorf("no audio within %v of connecting", s.cfg.FirstAudioTimeout), closeClean, websocket.CloseNormalClosure)
				return
			}
			noAudio = nil
		case <-first:
			first, noAudio = nil, nil
			if d := s.cfg.SilenceTimeout; d > 0 {
				silenceTimer.Reset(d)
				silence = silenceTimer.C
			}
		case <-silence:
			d := s.cfg.SilenceTimeout
			idle := s.r.opts.Now().Sub(time.Unix(0, s.playoutEnd.Load()))
			if idle >= d {
				s.log.Warn("assistant went silent", zap.Duration("timeout", d))
				s.fail(ReasonSilence, fmt.Errorf("no audio for %v after the assistant spoke", d), closeClean, websocket.CloseNormalClosure)
				return
			}
			silenceTimer.Reset(d - idle)
		}
	}
}

// side is one socket with its queue and pumps.
type side struct {
	conn     *websocket.Conn
	q        *queue
	readDone chan struct{} // the reader ended: the peer answered our Close, or is gone
}

func newSide(c *websocket.Conn, q *queue) *side {
	return &side{conn: c, q: q, readDone: make(chan struct{})}
}

// teardown closes both sockets as the ending says and waits for the pumps.
func (s *Stream) teardown(fs, asst *side) {
	e := s.ending()
	if asst != nil && e.asst == closeClean && s.cfg.Protocol == ProtocolTwilio {
		s.toAssistant.push(frame{kind: fTwilio, msg: s.ids.stop()})
	}
	startClosing(fs, e.fs, websocket.CloseNormalClosure, e.fsReason)
	startClosing(asst, e.asst, e.asstCode, e.asstReason)
	grace := time.NewTimer(closeGrace)
	defer grace.Stop()
	for _, sd := range []*side{fs, asst} {
		if sd == nil {
			continue
		}
		select {
		case <-sd.readDone:
		case <-grace.C:
			grace.Reset(0) // expired: do not wait for the other side either
		}
		_ = sd.conn.Close()
	}
	s.pumps.Wait()
	s.log.Debug("stream ended")
}

// startClosing cuts a side at once, or lets its writer finish with a
// Close frame.
func startClosing(sd *side, m closeMode, code int, reason string) {
	if sd == nil {
		return
	}
	if m == closeCut {
		sd.q.abort()
		_ = sd.conn.Close()
		return
	}
	sd.q.close(code, reason)
}

// closeMessage builds a Close payload; reasons are cut to the 123 bytes
// a control frame allows.
func closeMessage(code int, reason string) []byte {
	if len(reason) > 123 {
		reason = strings.ToValidUTF8(reason[:123], "")
	}
	return websocket.FormatCloseMessage(code, reason)
}
