package esl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/percipia/eslgo/command"
	"go.uber.org/zap"
)

// Errors a Session returns.
var (
	// ErrClosed means the connection to FreeSWITCH is gone.
	ErrClosed = errors.New("esl: connection closed")
	// ErrTimeout means FreeSWITCH did not answer in time. A reply that
	// comes late would be taken for the next command's, so the connection
	// is closed when this is returned for a command.
	ErrTimeout = errors.New("esl: timed out")
	// ErrHangup is matched by a *HangupError.
	ErrHangup = errors.New("esl: channel hung up")
)

// HangupError says the controlled channel hung up while something was
// waited for. Event is the CHANNEL_HANGUP.
type HangupError struct {
	Cause string
	Event *Event
}

func (e *HangupError) Error() string        { return "esl: channel hung up: " + e.Cause }
func (e *HangupError) Is(target error) bool { return target == ErrHangup }

// ReplyError is a command FreeSWITCH refused ("-ERR ...", "-USAGE ...").
type ReplyError struct {
	Command string
	Text    string
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("esl: %s: %s", e.Command, e.Text)
}

// Reply is FreeSWITCH's answer to one command.
type Reply struct {
	Text string // Reply-Text of a command/reply
	Body string // body of an api/response
	API  bool
}

// OK reports a "+OK" answer.
func (r Reply) OK() bool {
	if r.API {
		return strings.HasPrefix(r.Body, "+OK")
	}
	return strings.HasPrefix(r.Text, "+OK")
}

// Result is the reply text, or the api body without its trailing newline.
func (r Reply) Result() string {
	if r.API {
		return strings.TrimRight(r.Body, "\n")
	}
	return r.Text
}

// Notice dispositions (text/disconnect-notice).
const (
	NoticeLinger     = "linger"
	NoticeDisconnect = "disconnect"
)

// maxQueued bounds the events a call may have waiting. A single channel
// produces tens of events; far more means the flow is stuck or the peer
// floods, and either way the connection is dropped.
const maxQueued = 4096

type item struct {
	ev     *Event
	notice string
}

// Session is one call's outbound connection. Commands may be sent from
// any goroutine; events are consumed by one goroutine (the call flow)
// through Wait, in the order FreeSWITCH sent them.
type Session struct {
	conn         net.Conn
	rd           *Reader
	log          *zap.Logger
	replyTimeout time.Duration

	data Headers // the connect reply (CHANNEL_DATA)
	uuid string

	wmu      sync.Mutex // serialises writes with the order of reply waiters
	wbuf     []byte
	deferred []*Pending // to go out in front of the next write
	waiters  waiters

	qmu    sync.Mutex
	queue  []item
	qhead  int
	qready chan struct{}

	closed    chan struct{} // closed when the reader stops
	closeOnce sync.Once
	readErr   error // set before closed is closed
	readDone  chan struct{}
	lingering atomic.Bool

	// Owned by the flow goroutine.
	hangup         *Event
	hangupComplete bool
	exited         bool
	appSeq         int
	appPrefix      string
	dtmf           []byte
}

type waiters struct {
	mu sync.Mutex
	q  []chan Reply
}

func (w *waiters) push(c chan Reply) {
	w.mu.Lock()
	w.q = append(w.q, c)
	w.mu.Unlock()
}

func (w *waiters) pop() (chan Reply, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.q) == 0 {
		return nil, false
	}
	c := w.q[0]
	w.q[0] = nil
	w.q = w.q[1:]
	return c, true
}

func newSession(conn net.Conn, log *zap.Logger, replyTimeout time.Duration) *Session {
	return &Session{
		conn:         conn,
		rd:           NewReader(conn),
		log:          log,
		replyTimeout: replyTimeout,
		qready:       make(chan struct{}, 1),
		closed:       make(chan struct{}),
		readDone:     make(chan struct{}),
	}
}

// connect sends "connect" and reads the channel data before the reader
// goroutine starts: FreeSWITCH sends nothing until it gets this command.
// scratch is lent for the connect reply and handed back.
func (s *Session) connect(timeout time.Duration, scratch *sync.Pool) error {
	_ = s.conn.SetDeadline(time.Now().Add(timeout))
	defer s.conn.SetDeadline(time.Time{})
	if _, err := s.conn.Write([]byte("connect\n\n")); err != nil {
		return fmt.Errorf("esl: connect: %w", err)
	}
	f, err := s.readConnectReply(scratch)
	if err != nil {
		return fmt.Errorf("esl: connect reply: %w", err)
	}
	if t := f.Type(); t != TypeReply {
		return &ProtocolError{Reason: fmt.Sprintf("connect answered with %q, want %s", t, TypeReply)}
	}
	if rt := f.Header.Get("Reply-Text"); !strings.HasPrefix(rt, "+OK") {
		return &ReplyError{Command: "connect", Text: strings.TrimSpace(rt)}
	}
	s.data = f.Header
	s.uuid = s.data.Get("Unique-ID")
	if s.uuid == "" {
		return &ProtocolError{Reason: "connect reply without Unique-ID"}
	}
	if err := CheckValue(s.uuid); err != nil || strings.ContainsAny(s.uuid, " ") {
		return &ProtocolError{Reason: "connect reply with a malformed Unique-ID"}
	}
	s.appPrefix = s.uuid[:min(8, len(s.uuid))]
	go s.readLoop()
	return nil
}

// readConnectReply reads the connect reply into a scratch buffer lent by
// the server (the reply is copied out), then leaves the reader with none:
// events' header blocks are a few dozen bytes.
func (s *Session) readConnectReply(scratch *sync.Pool) (Frame, error) {
	if scratch == nil {
		return s.rd.Next()
	}
	b := scratch.Get().(*[]byte)
	s.rd.SwapScratch(*b)
	f, err := s.rd.Next()
	*b = s.rd.SwapScratch(nil)[:0]
	scratch.Put(b)
	return f, err
}

// UUID is the controlled channel.
func (s *Session) UUID() string { return s.uuid }

// Data is the connect reply: the channel's headers and variables.
func (s *Session) Data() Headers { return s.data }

// Log is the call's logger (carries call_uuid).
func (s *Session) Log() *zap.Logger { return s.log }

// Closed is closed when the connection to FreeSWITCH is gone.
func (s *Session) Closed() <-chan struct{} { return s.closed }

// HangupEvent is the CHANNEL_HANGUP seen so far, or nil.
func (s *Session) HangupEvent() *Event { return s.hangup }

func (s *Session) readLoop() {
	defer close(s.readDone)
	for {
		f, err := s.rd.Next()
		if err != nil {
			s.stop(err)
			return
		}
		switch t := f.Type(); t {
		case TypeReply, TypeAPI:
			c, ok := s.waiters.pop()
			if !ok {
				s.stop(&ProtocolError{Reason: "reply without a command: " + truncate(f.Header.Get("Reply-Text"), 40)})
				return
			}
			c <- Reply{Text: f.Header.Get("Reply-Text"), Body: f.Body, API: t == TypeAPI}
		case TypeEventPlain:
			ev, err := ParseEvent(f.Body)
			if err != nil {
				s.stop(err)
				return
			}
			if !s.enqueue(item{ev: ev}) {
				s.stop(&ProtocolError{Reason: "event queue overflow"})
				return
			}
		case TypeDisconnect:
			d := f.Header.Get("Content-Disposition")
			if d == NoticeLinger {
				s.lingering.Store(true)
			}
			if !s.enqueue(item{notice: d}) {
				s.stop(&ProtocolError{Reason: "event queue overflow"})
				return
			}
		case TypeRude:
			s.stop(&ProtocolError{Reason: "rude rejection: " + truncate(f.Body, 80)})
			return
		case TypeAuth, TypeLog:
			// Not ours to act on in outbound mode.
		case "":
			s.stop(&ProtocolError{Reason: "frame without Content-Type: " + truncate(f.Header.String(), 40)})
			return
		default:
			s.log.Debug("ignoring frame", zap.String("content_type", t))
		}
	}
}

// stop records why the reader ended and releases everyone waiting.
func (s *Session) stop(err error) {
	s.closeOnce.Do(func() {
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			err = ErrClosed
		}
		s.readErr = err
		_ = s.conn.Close()
		close(s.closed)
	})
}

// Err is why the connection ended, or nil while it is up.
func (s *Session) Err() error {
	select {
	case <-s.closed:
		return s.readErr
	default:
		return nil
	}
}

func (s *Session) enqueue(it item) bool {
	s.qmu.Lock()
	if len(s.queue)-s.qhead >= maxQueued {
		s.qmu.Unlock()
		return false
	}
	s.queue = append(s.queue, it)
	s.qmu.Unlock()
	select {
	case s.qready <- struct{}{}:
	default:
	}
	return true
}

func (s *Session) dequeue() (item, bool) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.qhead == len(s.queue) {
		return item{}, false
	}
	it := s.queue[s.qhead]
	s.queue[s.qhead] = item{}
	s.qhead++
	if s.qhead == len(s.queue) {
		s.queue, s.qhead = s.queue[:0], 0
	}
	return it, true
}

// CompletionOf matches the CHANNEL_EXECUTE_COMPLETE of one execute.
func CompletionOf(appUUID string) func(*Event) bool {
	return func(ev *Event) bool {
		return ev.Is(ChannelExecuteComplete) && ev.AppUUID() == appUUID
	}
}

// Wait consumes events in order until match accepts one. It returns a
// *HangupError as soon as the channel hangs up (or at once if it already
// has), ErrTimeout after timeout (0: no limit), and ErrClosed when the
// connection ends.
func (s *Session) Wait(ctx context.Context, timeout time.Duration, match func(*Event) bool) (*Event, error) {
	if s.hangup != nil {
		return s.hangup, &HangupError{Cause: s.hangup.Get("Hangup-Cause"), Event: s.hangup}
	}
	var timeoutC <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timeoutC = t.C
	}
	for {
		it, ok := s.dequeue()
		if !ok {
			select {
			case <-s.qready:
				continue
			case <-s.closed:
				if it, ok = s.dequeue(); !ok {
					return nil, s.closedErr()
				}
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-timeoutC:
				return nil, ErrTimeout
			}
		}
		if it.ev == nil {
			continue // notices only matter once the channel is down
		}
		s.observe(it.ev)
		if match != nil && match(it.ev) {
			return it.ev, nil
		}
		if s.hangup == it.ev {
			return it.ev, &HangupError{Cause: it.ev.Get("Hangup-Cause"), Event: it.ev}
		}
	}
}

func (s *Session) observe(ev *Event) {
	switch {
	case ev.Is(ChannelHangup):
		if s.hangup == nil {
			s.hangup = ev
		}
	case ev.Is(ChannelHangupComplete):
		s.hangupComplete = true
		if s.hangup == nil {
			s.hangup = ev
		}
	case ev.Is(DTMF):
		if d := ev.Get("DTMF-Digit"); len(d) == 1 {
			s.dtmf = append(s.dtmf, d[0])
		}
	}
}

// TakeDTMF returns the digits seen since the last call.
func (s *Session) TakeDTMF() string {
	d := string(s.dtmf)
	s.dtmf = s.dtmf[:0]
	return d
}

// Inject queues an event of ailb's own (e.g. from the media relay) behind
// the events already received, so the call flow reads everything that
// happens to the call from one ordered queue. It never blocks; it reports
// false when the queue is full or the connection is gone.
func (s *Session) Inject(payload any) bool {
	select {
	case <-s.closed:
		return false
	default:
	}
	return s.enqueue(item{ev: &Event{Headers: Headers{raw: "Event-Name: " + LocalEvent + "\n"}, Local: payload}})
}

// finish ends the session the way FreeSWITCH expects: after a hangup it
// waits (bounded) for CHANNEL_HANGUP_COMPLETE or the linger notice so the
// last events are read, then sends exit and closes. A channel that is
// still up is handed back: exit without hangup makes FreeSWITCH run the
// next dialplan action after `socket`.
func (s *Session) finish(hangupWait time.Duration) {
	defer func() {
		s.stop(ErrClosed)
		<-s.readDone
	}()
	if s.Err() != nil {
		return
	}
	if s.hangup != nil {
		// Nothing but exit goes to a channel that is gone.
		s.wmu.Lock()
		s.deferred = nil
		s.wmu.Unlock()
		if !s.hangupComplete {
			s.drainUntilDown(hangupWait)
		}
	}
	if s.Err() != nil || s.exited {
		return
	}
	s.exited = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// "+OK bye" then a disconnect notice and FreeSWITCH closes.
	if _, err := s.Send(ctx, command.Exit{}); err != nil {
		return
	}
	timer := time.NewTimer(time.Second)
	defer timer.Stop()
	select {
	case <-s.closed:
	case <-timer.C:
	}
}

func (s *Session) drainUntilDown(limit time.Duration) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		it, ok := s.dequeue()
		if ok {
			if it.notice != "" {
				return
			}
			s.observe(it.ev)
			if s.hangupComplete {
				return
			}
			continue
		}
		select {
		case <-s.qready:
		case <-s.closed:
			return
		case <-timer.C:
			return
		}
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
