package fssim

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"time"
)

// listener is the socket side of a call (listener_run in
// mod_event_socket.c). It owns the connection: it reads commands, answers
// them, and writes the events the channel queues, so replies and events go
// out in one order.
type listener struct {
	sw   *Switch
	tm   *templates
	conn net.Conn
	call Call
	c    *channel
	s    *session
	res  *Result
	ctx  context.Context // ends when Run returns: audio streams close

	wg        sync.WaitGroup
	gotFirst  bool
	done      bool
	lingerC   <-chan time.Time
	lingerT   *time.Timer
	writeBuf  []byte
	batch     net.Buffers
	items     []outItem
	writeErr  bool
	sessionOn bool
	exit      bool // exit received: "+OK bye", then the disconnect notice
	logging   bool
}

type readResult struct {
	p   *packet
	at  time.Time
	err error
}

func newListener(sw *Switch, tm *templates, conn net.Conn, call Call) *listener {
	l := &listener{sw: sw, tm: tm, conn: conn, call: call}
	l.c = newChannel(sw, tm, &l.call)
	l.s = newSession(sw, l.c, &l.call)
	l.res = &Result{UUID: l.c.id.uuid}
	return l
}

func (l *listener) run(parent context.Context) (*Result, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	l.ctx = ctx
	// A write blocked on a peer that stopped reading ends with ctx or, at
	// the latest, shortly after the call's maximum duration.
	stopClose := context.AfterFunc(ctx, func() { l.conn.Close() })
	defer stopClose()
	in := make(chan readResult, 8)
	stopRead := make(chan struct{})
	l.wg.Go(func() { readLoop(l.conn, in, stopRead) })

	connectT := time.NewTimer(l.sw.scaled(25 * time.Second))
	defer connectT.Stop()
	maxDur := l.call.MaxDuration
	if maxDur <= 0 {
		maxDur = 5 * time.Minute
	}
	maxT := time.NewTimer(maxDur)
	defer maxT.Stop()
	l.conn.SetWriteDeadline(time.Now().Add(maxDur + 5*time.Second))

	var err error
	for !l.done {
		select {
		case <-ctx.Done():
			err = ctx.Err()
			l.end("canceled", false)
		case r := <-in:
			if r.err != nil {
				l.flush(true)
				l.end("peer-closed", true)
				break
			}
			connectT.Stop()
			l.flush(false)
			if !l.done {
				l.handle(ctx, r)
			}
		case <-l.c.outNotify:
			l.flush(false)
		case <-connectT.C:
			if !l.gotFirst {
				l.end("connect-timeout", true)
			}
		case <-l.lingerC:
			l.end("linger-timeout", true)
		case <-maxT.C:
			l.c.mu.Lock()
			l.c.hangup("ALLOTTED_TIMEOUT", "switch", false)
			l.c.mu.Unlock()
			l.flush(false)
			l.end("max-duration", true)
		}
		if l.writeErr && !l.done {
			l.end("peer-closed", true)
		}
	}
	if l.lingerT != nil {
		l.lingerT.Stop()
	}
	l.conn.Close()
	close(stopRead)

	// The socket is gone: the park loop ends and the socket application
	// returns (or the running app finishes) without anyone listening.
	l.c.mu.Lock()
	l.c.closed = true
	l.c.mu.Unlock()
	l.c.poke()
	if l.sessionOn {
		select {
		case <-l.s.done:
		case <-parent.Done():
		}
	}
	cancel()
	l.wg.Wait()
	l.finishResult()
	return l.res, err
}

func readLoop(conn net.Conn, in chan<- readResult, stop <-chan struct{}) {
	br := bufio.NewReaderSize(conn, 4096)
	for {
		p, err := readPacket(br)
		select {
		case in <- readResult{p: p, at: time.Now(), err: err}:
		case <-stop:
			return
		}
		if err != nil {
			return
		}
	}
}

func (l *listener) handle(ctx context.Context, r readResult) {
	p := r.p
	l.res.Commands = append(l.res.Commands, Command{At: r.at, Line: p.line, Headers: p.headers, Body: p.body})
	first := !l.gotFirst
	l.gotFirst = true
	reply, send := l.command(ctx, p)
	// The first packet's reply is computed and dropped (listener_run);
	// connect writes its own reply.
	if send && reply != "" && !first && !l.done {
		l.writeReply(reply)
	}
	if l.exit {
		l.end("exit", true)
	}
}

// startSession parks the channel once connect has been processed.
func (l *listener) startSession(ctx context.Context) {
	if l.sessionOn {
		return
	}
	l.sessionOn = true
	l.wg.Go(func() { l.s.run(ctx) })
}

func (l *listener) write(b []byte, kind, event, text string) {
	if l.writeErr {
		return
	}
	if _, err := l.conn.Write(b); err != nil {
		l.writeErr = true
		return
	}
	l.sent(Sent{At: time.Now(), Kind: kind, Event: event, Text: text, Size: len(b)})
}

func (l *listener) sent(s Sent) {
	l.res.Sent = append(l.res.Sent, s)
	if l.call.OnSent != nil {
		l.call.OnSent(s)
	}
}

func (l *listener) writeReply(text string) {
	if full, ok := strings.CutPrefix(text, "~"); ok {
		// Replies starting with "~" carry their own headers (bgapi).
		l.writeBuf = append(append(l.writeBuf[:0], "Content-Type: command/reply\n"...), full...)
		rt, _, _ := strings.Cut(strings.TrimPrefix(full, "Reply-Text: "), "\n")
		l.write(l.writeBuf, "reply", "", rt)
		return
	}
	l.writeBuf = appendReply(l.writeBuf[:0], text)
	l.write(l.writeBuf, "reply", "", text)
}

func (l *listener) writeAPI(body string) {
	l.writeBuf = appendAPI(l.writeBuf[:0], body)
	l.write(l.writeBuf, "api", "", body)
}

// flush writes the queued events in one batch; a down marker turns into the
// linger notice or ends the socket. dropping discards what is queued (the
// listener is closing; flush_listener drops unsent events).
func (l *listener) flush(dropping bool) {
	l.c.mu.Lock()
	l.items, l.c.out = l.c.out, l.items[:0]
	l.c.mu.Unlock()
	if len(l.items) == 0 {
		return
	}
	l.batch = l.batch[:0]
	start := 0
	writeBatch := func(upto int) {
		if len(l.batch) == 0 || l.writeErr || dropping {
			l.batch = l.batch[:0]
			return
		}
		now := time.Now()
		bufs := l.batch
		if _, err := bufs.WriteTo(l.conn); err != nil {
			l.writeErr = true
		} else {
			for _, it := range l.items[start:upto] {
				if it.kind == outEvent {
					l.sent(Sent{At: now, Kind: "event", Event: it.name, Size: len(it.data)})
				}
			}
		}
		l.batch = l.batch[:0]
	}
	for i, it := range l.items {
		if it.kind == outEvent {
			if !l.done {
				l.batch = append(l.batch, it.data)
			}
			continue
		}
		writeBatch(i)
		start = i + 1
		if it.kind == outDown && !l.done && !dropping {
			l.down(it.linger)
		}
	}
	writeBatch(len(l.items))
	l.c.mu.Lock()
	for _, it := range l.items {
		if it.full != nil {
			l.c.putBuf(it.full)
		}
	}
	l.c.mu.Unlock()
	clear(l.items)
	l.items = l.items[:0]
}

// down reacts to the channel going down (read_packet): with linger, the
// linger notice and the linger timer; without, the socket ends.
func (l *listener) down(linger bool) {
	if !linger {
		l.end("no-linger", true)
		return
	}
	l.c.mu.Lock()
	secs := l.c.linger
	chanName := urlDecode(l.c.enc.chanName)
	l.c.mu.Unlock()
	l.writeBuf = appendLinger(l.writeBuf[:0], l.c.id.uuid, chanName, secs)
	l.write(l.writeBuf, "notice", "", "linger")
	if secs >= 0 {
		l.lingerT = time.NewTimer(l.sw.scaled(time.Duration(secs) * time.Second))
		l.lingerC = l.lingerT.C
	}
}

// end closes the socket side: the disconnect notice (send_disconnect) and,
// by the caller, the close.
func (l *listener) end(reason string, notice bool) {
	if l.done {
		return
	}
	l.done = true
	l.res.End = reason
	if notice {
		l.writeBuf = appendDisconnect(l.writeBuf[:0], l.c.id.uuid)
		l.write(l.writeBuf, "notice", "", "disconnect")
	}
}

func (l *listener) finishResult() {
	c := l.c
	c.mu.Lock()
	defer c.mu.Unlock()
	l.res.Vars = c.vars.toMap()
	if !c.up {
		l.res.HangupCause = c.cause
		l.res.HungUpBy = c.hungUpBy
	}
	l.res.Transferred = c.transferred
	l.res.ContinuedDialplan = c.connected && c.up && c.transferred == ""
	l.res.Bridges = l.s.bridges
	l.res.Apps = l.s.apps
	for _, st := range c.allStreams {
		l.res.Streams = append(l.res.Streams, st.record())
	}
}
