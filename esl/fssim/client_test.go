package fssim

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testScale makes the behaviour tests fast: 1 simulated second is 20 ms.
const testScale = 0.02

// eslConn is a minimal outbound ESL server side for one simulated call,
// reading with the test parser.
type eslConn struct {
	t        *testing.T
	conn     net.Conn
	log      *wireLog
	replyAt  int // index after the last reply/api taken
	eventAt  int // index after the last event taken
	uuid     string
	done     chan runResult
	readDone chan struct{}
}

type runResult struct {
	res *Result
	err error
}

var euuidSeq atomic.Uint64

// dialCall runs sw.Run for call against a fresh listener and accepts it;
// a background reader parses what the simulator writes.
func dialCall(t *testing.T, sw *Switch, call Call) *eslConn {
	t.Helper()
	return dial(t, sw, call, true)
}

// dialRaw is dialCall without the background reader.
func dialRaw(t *testing.T, sw *Switch, call Call) *eslConn {
	t.Helper()
	return dial(t, sw, call, false)
}

func dial(t *testing.T, sw *Switch, call Call, parse bool) *eslConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sw.Addr = ln.Addr().String()
	if sw.Scale == 0 {
		sw.Scale = testScale
	}
	c := &eslConn{t: t, done: make(chan runResult, 1), readDone: make(chan struct{})}
	go func() {
		res, err := sw.Run(context.Background(), call)
		c.done <- runResult{res, err}
	}()
	c.conn, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.log = &wireLog{notify: make(chan struct{}, 1)}
	if parse {
		go func() {
			defer close(c.readDone)
			c.log.read(c.conn)
		}()
	} else {
		close(c.readDone)
	}
	t.Cleanup(func() {
		c.conn.Close()
		<-c.readDone
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	return c
}

// connect sends connect and returns the CHANNEL_DATA reply.
func (c *eslConn) connect() wireMsg {
	c.t.Helper()
	m := c.cmd("connect")
	c.uuid = m.headRaw["Unique-ID"]
	return m
}

func (c *eslConn) send(raw string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(raw)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// cmd sends one command line (plus header lines) and returns its reply.
func (c *eslConn) cmd(line string, headers ...string) wireMsg {
	c.t.Helper()
	var b strings.Builder
	b.WriteString(line + "\n")
	for _, h := range headers {
		b.WriteString(h + "\n")
	}
	b.WriteString("\n")
	c.send(b.String())
	return c.nextReply()
}

// nextReply waits for the next command/reply or api/response.
func (c *eslConn) nextReply() wireMsg {
	c.t.Helper()
	var got wireMsg
	c.log.waitFor(c.t, "a reply", func(msgs []wireMsg, _ bool) bool {
		for i := c.replyAt; i < len(msgs); i++ {
			if msgs[i].kind == "reply" || msgs[i].kind == "api" {
				got, c.replyAt = msgs[i], i+1
				return true
			}
		}
		return false
	})
	return got
}

func (c *eslConn) replyText(line string, headers ...string) string {
	c.t.Helper()
	m := c.cmd(line, headers...)
	if m.kind == "api" {
		return string(m.body)
	}
	return m.headRaw["Reply-Text"]
}

// execute queues an app with an Event-UUID and returns that uuid.
func (c *eslConn) execute(app, arg string, extra ...string) string {
	c.t.Helper()
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", euuidSeq.Add(1))
	h := append([]string{"call-command: execute", "execute-app-name: " + app, "execute-app-arg: " + arg,
		"event-lock: true", "Event-UUID: " + id}, extra...)
	if r := c.replyText("sendmsg "+c.uuid, h...); r != "+OK" {
		c.t.Fatalf("sendmsg %s: %q", app, r)
	}
	return id
}

// event waits for the next event matching pred (after the last one taken).
func (c *eslConn) event(what string, pred func(wireMsg) bool) wireMsg {
	c.t.Helper()
	var got wireMsg
	c.log.waitFor(c.t, what, func(msgs []wireMsg, _ bool) bool {
		for i := c.eventAt; i < len(msgs); i++ {
			if msgs[i].kind == "event" && pred(msgs[i]) {
				got, c.eventAt = msgs[i], i+1
				return true
			}
		}
		return false
	})
	return got
}

// find waits for an event matching pred anywhere in what was read.
func (c *eslConn) find(what string, pred func(wireMsg) bool) wireMsg {
	c.t.Helper()
	var got wireMsg
	c.log.waitFor(c.t, what, func(msgs []wireMsg, _ bool) bool {
		for _, m := range msgs {
			if m.kind == "event" && pred(m) {
				got = m
				return true
			}
		}
		return false
	})
	return got
}

func (c *eslConn) named(name string) wireMsg {
	c.t.Helper()
	return c.event(name, func(m wireMsg) bool { return m.ev["Event-Name"] == name })
}

// complete waits for the CHANNEL_EXECUTE_COMPLETE of an Event-UUID.
func (c *eslConn) complete(id string) wireMsg {
	c.t.Helper()
	return c.event("completion of "+id, func(m wireMsg) bool {
		return m.ev["Event-Name"] == "CHANNEL_EXECUTE_COMPLETE" && m.ev["Application-UUID"] == id
	})
}

// run executes an app and waits for its completion.
func (c *eslConn) run(app, arg string) wireMsg {
	c.t.Helper()
	return c.complete(c.execute(app, arg))
}

// setup is the usual start: connect, linger, myevents.
func (c *eslConn) setup(linger string) {
	c.t.Helper()
	c.connect()
	if linger != "" {
		c.cmd(linger)
	}
	if r := c.replyText("myevents plain"); r != "+OK Events Enabled" {
		c.t.Fatalf("myevents: %q", r)
	}
}

// messages returns a snapshot of everything read so far.
func (c *eslConn) messages() []wireMsg {
	c.log.mu.Lock()
	defer c.log.mu.Unlock()
	return append([]wireMsg(nil), c.log.msgs...)
}

// closed waits for the simulator to close and returns the Result.
func (c *eslConn) closed() *Result {
	c.t.Helper()
	c.log.waitFor(c.t, "the socket to close", func(_ []wireMsg, eof bool) bool { return eof })
	select {
	case r := <-c.done:
		c.done <- r
		if r.err != nil {
			c.t.Fatalf("Run: %v", r.err)
		}
		return r.res
	case <-time.After(10 * time.Second):
		c.t.Fatal("Run did not return")
	}
	return nil
}

// hangupAndExit ends a call cleanly: exit, then the Result.
func (c *eslConn) exit() *Result {
	c.t.Helper()
	if r := c.replyText("exit"); r != "+OK bye" {
		c.t.Fatalf("exit: %q", r)
	}
	return c.closed()
}

// eventsFor lists the event names carrying an Application-UUID.
func eventsFor(msgs []wireMsg, id string) []string {
	var out []string
	for _, m := range msgs {
		if m.kind == "event" && m.ev["Application-UUID"] == id {
			out = append(out, m.ev["Event-Name"])
		}
	}
	return out
}

func sequence(msgs []wireMsg) []string {
	var out []string
	for _, m := range msgs {
		switch m.kind {
		case "event":
			out = append(out, m.ev["Event-Name"])
		case "notice":
			out = append(out, "notice:"+m.headRaw["Content-Disposition"])
		}
	}
	return out
}

// eventually polls cond until it holds (5 s at most).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timeout waiting for %s", what)
		}
	}
}
