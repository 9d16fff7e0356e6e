package esl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// Send writes the commands in one write and returns their replies in
// order. A "-ERR" reply is not an error here; see Reply.OK.
func (s *Session) Send(ctx context.Context, cmds ...Command) ([]Reply, error) {
	p, err := s.post(cmds...)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// post writes the commands in one write without waiting for their
// replies. Deferred commands go first in the same write. Collect the
// replies with Wait.
func (s *Session) post(cmds ...Command) (*Pending, error) {
	p, err := newPending(s, cmds)
	if err != nil {
		return nil, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	select {
	case <-s.closed:
		return nil, s.closedErr()
	default:
	}
	s.wbuf = s.wbuf[:0]
	for _, d := range s.deferred {
		s.wbuf = d.appendTo(s.wbuf)
		d.register()
	}
	s.deferred = s.deferred[:0]
	s.wbuf = p.appendTo(s.wbuf)
	p.register()
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.replyTimeout))
	if _, err := s.conn.Write(s.wbuf); err != nil {
		s.stop(err)
		return nil, fmt.Errorf("esl: write: %w", err)
	}
	return p, nil
}

// Defer queues commands to go out in front of the next write, without a
// write of their own: information for FreeSWITCH that nothing waits for
// (call setup, progress variables) rides with the next real command.
// Commands deferred when the session ends unsent are dropped; so are those
// pending after a hangup (see finish).
func (s *Session) Defer(cmds ...Command) (*Pending, error) {
	p, err := newPending(s, cmds)
	if err != nil {
		return nil, err
	}
	s.wmu.Lock()
	s.deferred = append(s.deferred, p)
	s.wmu.Unlock()
	return p, nil
}

func newPending(s *Session, cmds []Command) (*Pending, error) {
	p := &Pending{s: s, msgs: make([]string, len(cmds)), chans: make([]chan Reply, len(cmds))}
	for i, c := range cmds {
		p.msgs[i] = c.BuildMessage()
		if err := checkMessage(p.msgs[i]); err != nil {
			return nil, err
		}
		p.chans[i] = make(chan Reply, 1)
	}
	return p, nil
}

func (p *Pending) appendTo(b []byte) []byte {
	for _, m := range p.msgs {
		b = append(b, m...)
		b = append(b, '\n', '\n')
	}
	return b
}

// register queues the reply waiters; under the session's write lock.
func (p *Pending) register() {
	for _, c := range p.chans {
		p.s.waiters.push(c)
	}
	p.sent.Store(true)
}

// Sent reports whether the commands went out (deferred ones wait for the
// next write).
func (p *Pending) Sent() bool { return p.sent.Load() }

// Do sends one command and turns a refusal into a *ReplyError.
func (s *Session) Do(ctx context.Context, cmd Command) (Reply, error) {
	r, err := s.Send(ctx, cmd)
	if err != nil {
		return Reply{}, err
	}
	if !r[0].OK() {
		return r[0], &ReplyError{Command: firstLine(cmd.BuildMessage()), Text: r[0].Result()}
	}
	return r[0], nil
}

func (s *Session) closedErr() error {
	<-s.closed
	if s.readErr == nil || s.readErr == ErrClosed {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, s.readErr)
}

// NextAppUUID returns a fresh Event-UUID for an execute.
func (s *Session) NextAppUUID() string {
	s.appSeq++
	return "ailb-" + s.appPrefix + "-" + strconv.Itoa(s.appSeq)
}

// Start queues app on the channel with event-lock and returns the
// Application-UUID its completion will carry.
func (s *Session) Start(ctx context.Context, app, arg string) (string, error) {
	if err := CheckValue(app); err != nil {
		return "", fmt.Errorf("esl: app name: %w", err)
	}
	if err := CheckValue(arg); err != nil {
		return "", fmt.Errorf("esl: %s argument: %w", app, err)
	}
	id := s.NextAppUUID()
	_, err := s.Do(ctx, Execute{UUID: s.uuid, App: app, Arg: arg, EventUUID: id, Lock: true})
	return id, err
}

// Execute runs app and waits for its CHANNEL_EXECUTE_COMPLETE.
func (s *Session) Execute(ctx context.Context, app, arg string, timeout time.Duration) (*Event, error) {
	id, err := s.Start(ctx, app, arg)
	if err != nil {
		return nil, err
	}
	return s.Wait(ctx, timeout, CompletionOf(id))
}

// SendHangup asks FreeSWITCH to hang up the channel; it does not wait.
func (s *Session) SendHangup(ctx context.Context, cause string) error {
	_, err := s.Do(ctx, Hangup{UUID: s.uuid, Cause: cause})
	return err
}

// Pending are the replies of posted commands, still to be read.
type Pending struct {
	s     *Session
	msgs  []string // built and checked once
	chans []chan Reply
	sent  atomic.Bool
}

// ErrNotSent is Wait on deferred commands that have not gone out yet.
var ErrNotSent = errors.New("esl: deferred commands not sent yet")

// Wait returns the replies in command order.
func (p *Pending) Wait(ctx context.Context) ([]Reply, error) {
	s := p.s
	if !p.Sent() {
		return nil, ErrNotSent
	}
	replies := make([]Reply, len(p.chans))
	// Replies are often in already (setup read after a later command's
	// reply): the timer starts only when a reply must be waited for.
	var timer *time.Timer
	var timeout <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for i, c := range p.chans {
		select {
		case r := <-c:
			replies[i] = r
			continue
		default:
		}
		if timer == nil {
			timer = time.NewTimer(s.replyTimeout)
			timeout = timer.C
		}
		select {
		case r := <-c:
			replies[i] = r
		case <-s.closed:
			// A reply may have been delivered just before the close.
			select {
			case r := <-c:
				replies[i] = r
				continue
			default:
			}
			return replies[:i], s.closedErr()
		case <-ctx.Done():
			s.stop(ErrTimeout) // replies would now pair with the wrong commands
			return replies[:i], ctx.Err()
		case <-timeout:
			s.stop(ErrTimeout)
			return replies[:i], fmt.Errorf("%w: no reply to %q", ErrTimeout, firstLine(p.msgs[i]))
		}
	}
	return replies, nil
}
