package media

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

// Stream is one call's relay between FreeSWITCH and an assistant.
//
// Goroutines: a supervisor from Register to the end (waits for
// FreeSWITCH, dials, runs the timers, closes), and one reader and one
// writer per socket. The supervisor owns the others and waits for them.
type Stream struct {
	r   *Relay
	cfg StreamConfig
	log *zap.Logger
	ids twilioIDs

	toAssistant *queue // drops the oldest audio when the assistant is slow
	toFS        *queue // the assistant waits when FreeSWITCH is slow

	fsConn chan *websocket.Conn // handler to supervisor
	stopCh chan struct{}        // closed by the first stop
	done   chan struct{}        // closed when every goroutine has ended
	ctx    context.Context      // cancelled at stop: aborts the dial
	cancel context.CancelFunc

	mu      sync.Mutex
	claimed bool // FreeSWITCH's socket was accepted
	stopped bool
	end     ending

	evMu   sync.Mutex
	silent bool // no more events: the stream ended

	spoke      atomic.Bool
	playoutEnd atomic.Int64 // when the caller will have heard all audio sent, ns on Now's clock
	firstAudio chan struct{}
	dropLogged atomic.Bool

	pumps sync.WaitGroup
}

// closeMode is how one socket ends.
type closeMode uint8

const (
	closeClean closeMode = iota // send what is queued, Close frame, wait for the echo
	closeCut                    // the peer is gone or misbehaves: cut TCP
)

// ending is decided by the first stop.
type ending struct {
	ev         *StreamEvent // the terminal event; nil when the owner closed
	fs, asst   closeMode
	fsReason   string
	asstCode   int
	asstReason string
}

func ownerClose(reason string) ending {
	return ending{fsReason: reason, asstCode: websocket.CloseNormalClosure, asstReason: reason}
}

func newStream(r *Relay, c StreamConfig) *Stream {
	ctx, cancel := context.WithCancel(context.Background())
	id := r.opts.NewID()
	if !validToken(id, isAlnum) {
		id = fmt.Sprintf("%x", id)
	}
	s := &Stream{
		r:   r,
		cfg: c,
		log: r.log.With(zap.String("call_id", c.CallID), zap.String("assistant", c.RedactedURL), zap.String("protocol", c.Protocol)),
		ids: twilioIDs{accountSid: c.AccountSID, callSid: c.CallID, streamSid: "MZ" + id, params: c.Params},

		toAssistant: newQueue(r.opts.QueueFrames),
		toFS:        newQueue(r.opts.QueueFrames),
		fsConn:      make(chan *websocket.Conn),
		stopCh:      make(chan struct{}),
		done:        make(chan struct{}),
		ctx:         ctx,
		cancel:      cancel,
		firstAudio:  make(chan struct{}),
	}
	return s
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// ID is the stream's CallID.
func (s *Stream) ID() string { return s.cfg.CallID }

// Path is what FreeSWITCH must request: /calls/<id>?token=<token>. It
// holds the secret: give it to FreeSWITCH, never to a log.
func (s *Stream) Path() string { return s.cfg.Path() }

// StreamSid is the Twilio streamSid announced to the assistant.
func (s *Stream) StreamSid() string { return s.ids.streamSid }

// Done is closed when the stream has ended and its goroutines are gone.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Close ends both sockets cleanly (Close 1000 with reason) and waits for
// the stream's goroutines. No event follows. Safe to call more than once.
func (s *Stream) Close(reason string) {
	s.stop(ownerClose(reason))
	<-s.done
}

// SendDTMF tells the assistant the caller pressed digit (0-9, *, #, A-D):
// a Twilio dtmf message, or {"type":"ailb.dtmf","digit":"5"} on raw.
func (s *Stream) SendDTMF(digit string) {
	if len(digit) != 1 || !isDTMF(digit[0]) {
		s.log.Warn("dtmf digit ignored", zap.String("digit", truncate(digit, 8)))
		return
	}
	if s.cfg.Protocol == ProtocolTwilio {
		s.sendAssistant(frame{kind: fTwilio, msg: s.ids.dtmf(digit)})
		return
	}
	s.sendAssistant(frame{kind: fText, data: []byte(`{"type":"ailb.dtmf","digit":"` + digit + `"}`)})
}

func isDTMF(c byte) bool { return '0' <= c && c <= '9' || c == '*' || c == '#' || 'A' <= c && c <= 'D' }

func (s *Stream) tokenOK(got string) bool {
	// Hashes have equal length, so the comparison leaks nothing.
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(s.cfg.Token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// claim reserves the FreeSWITCH side: 0, or the HTTP status refusing it.
func (s *Stream) claim() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopped:
		return http.StatusNotFound
	case s.claimed:
		return http.StatusConflict
	}
	s.claimed = true
	return 0
}

func (s *Stream) unclaim() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claimed = false
}

// attach hands FreeSWITCH's socket to the supervisor, or closes it when
// the stream ended meanwhile.
func (s *Stream) attach(c *websocket.Conn) {
	select {
	case s.fsConn <- c:
	case <-s.done:
		_ = c.Close()
	}
}

// emit delivers a non-terminal event, unless the stream has ended.
func (s *Stream) emit(ev StreamEvent) {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	if s.silent {
		return
	}
	ev.At = s.r.opts.Now()
	s.cfg.OnEvent(ev)
}

// stop ends the stream once: the first caller decides how, and delivers
// the terminal event (if any) as the last one.
func (s *Stream) stop(e ending) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped, s.end = true, e
	s.mu.Unlock()

	s.evMu.Lock()
	if e.ev != nil && !s.silent {
		e.ev.At = s.r.opts.Now()
		s.cfg.OnEvent(*e.ev)
	}
	s.silent = true
	s.evMu.Unlock()

	close(s.stopCh)
	s.cancel()
}

func (s *Stream) ending() ending {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.end
}

// fail ends the stream with the assistant's failure. FreeSWITCH's socket
// is closed cleanly; the call itself stays up (the controller decides).
func (s *Stream) fail(reason string, err error, asst closeMode, code int) {
	ev := &StreamEvent{
		Kind:    EventFailed,
		Failure: &Failure{Kind: StreamError, Cause: reason},
		Err:     err,
		Spoke:   s.spoke.Load(),
	}
	s.stop(ending{ev: ev, fs: closeClean, asst: asst, fsReason: "assistant " + reason, asstCode: code, asstReason: reason})
}

// sendAssistant queues a frame for the assistant, counting drops.
func (s *Stream) sendAssistant(f frame) {
	if n := s.toAssistant.push(f); n > 0 {
		s.r.opts.OnDrop(n)
		if !s.dropLogged.Swap(true) {
			s.log.Warn("assistant is not keeping up: dropping the oldest audio")
		}
	}
}
