package esl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/percipia/eslgo/command"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recordedConnectReply is the first frame FreeSWITCH sent in recording a.
func recordedConnectReply(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(recordings, "raw", "a-bridge-ok.fs2app.raw"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	return s[:strings.Index(s, "\n\n")+2]
}

const recordedUUID = "b26cadc3-28b3-479f-b5da-294540e0e9da"

// peer plays FreeSWITCH's side of one connection, scripted by the test.
type peer struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func dialPeer(t *testing.T, addr string) *peer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &peer{t: t, conn: c, br: bufio.NewReader(c)}
}

// readCommand returns the next command (up to its blank line).
func (p *peer) readCommand() string {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	for {
		line, err := p.br.ReadString('\n')
		if err != nil {
			p.t.Fatalf("peer read: %v (got %q)", err, b.String())
		}
		if line == "\n" {
			return strings.TrimSuffix(b.String(), "\n")
		}
		b.WriteString(line)
	}
}

func (p *peer) write(s string) {
	p.t.Helper()
	if _, err := io.WriteString(p.conn, s); err != nil {
		p.t.Fatalf("peer write: %v", err)
	}
}

func (p *peer) reply(text string) {
	p.write("Content-Type: command/reply\nReply-Text: " + text + "\n\n")
}

func (p *peer) event(name string, headers ...string) {
	body := "Event-Name: " + name + "\nUnique-ID: " + recordedUUID + "\n"
	for i := 0; i+1 < len(headers); i += 2 {
		body += headers[i] + ": " + headers[i+1] + "\n"
	}
	body += "\n"
	p.write(fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(body), body))
}

func (p *peer) connect() {
	p.t.Helper()
	if got := p.readCommand(); got != "connect" {
		p.t.Fatalf("first command %q, want connect", got)
	}
	p.write(recordedConnectReply(p.t))
}

// answerExit replies to exit like FreeSWITCH and closes.
func (p *peer) answerExit() {
	p.t.Helper()
	if got := p.readCommand(); got != "exit" {
		p.t.Fatalf("got %q, want exit", got)
	}
	p.reply("+OK bye")
	p.write("Content-Type: text/disconnect-notice\nControlled-Session-UUID: " + recordedUUID + "\nContent-Disposition: disconnect\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n")
	p.conn.Close()
}

func startServer(t *testing.T, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestAllowListClosesBeforeAnyByte(t *testing.T) {
	rejected := make(chan netip.Addr, 1)
	srv := &Server{
		Allow:    []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Handler:  HandlerFunc(func(context.Context, *Session) { t.Error("handler ran for a refused peer") }),
		OnReject: func(a netip.Addr) { rejected <- a },
	}
	p := dialPeer(t, startServer(t, srv))
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := p.br.Read(make([]byte, 64))
	if n != 0 || err != io.EOF {
		t.Fatalf("refused peer read %d bytes, err %v; want nothing and EOF", n, err)
	}
	if a := <-rejected; a.String() != "127.0.0.1" {
		t.Fatalf("rejected %v", a)
	}
}

func TestDefaultAllowIsLoopbackOnly(t *testing.T) {
	s := &Server{}
	for _, tt := range []struct {
		give string
		want bool
	}{{"127.0.0.1", true}, {"::1", true}, {"::ffff:127.0.0.1", true}, {"192.0.2.1", false}} {
		if got := s.allowed(netip.MustParseAddr(tt.give)); got != tt.want {
			t.Errorf("allowed(%s) = %v", tt.give, got)
		}
	}
}

// Events reach the flow in FreeSWITCH's order, however they are chunked.
func TestEventsInOrderAndPipelinedReplies(t *testing.T) {
	const n = 300
	got := make(chan []string, 1)
	srv := &Server{Handler: HandlerFunc(func(ctx context.Context, s *Session) {
		if s.UUID() != recordedUUID || s.Data().Get("Caller-Caller-ID-Name") != "sipp caller" {
			t.Errorf("channel data: %q %q", s.UUID(), s.Data().Get("Caller-Caller-ID-Name"))
		}
		rs, err := s.Send(ctx, command.Linger{Enabled: true, Seconds: 5}, command.MyEvents{Format: "plain"}, Getvar{Name: "x"})
		if err != nil || len(rs) != 3 || rs[0].Text != "+OK will linger 5 seconds" || rs[1].Text != "+OK Events Enabled" || rs[2].OK() {
			t.Errorf("replies %+v %v", rs, err)
		}
		var seq []string
		for len(seq) < n {
			ev, err := s.Wait(ctx, 5*time.Second, func(*Event) bool { return true })
			if err != nil {
				t.Errorf("wait: %v", err)
				break
			}
			seq = append(seq, ev.Get("Event-Sequence"))
		}
		got <- seq
	})}
	p := dialPeer(t, startServer(t, srv))
	p.connect()
	// All three commands arrive before any reply is sent: one write.
	cmds := []string{p.readCommand(), p.readCommand(), p.readCommand()}
	if strings.Join(cmds, "|") != "linger 5|myevents plain|getvar x" {
		t.Fatalf("commands %q", cmds)
	}
	p.reply("+OK will linger 5 seconds")
	p.reply("+OK Events Enabled")
	p.reply("-ERR command not found")
	for i := range n {
		p.event("CHANNEL_STATE", "Event-Sequence", fmt.Sprint(1000+i))
	}
	seq := <-got
	for i, s := range seq {
		if s != fmt.Sprint(1000+i) {
			t.Fatalf("event %d has sequence %s", i, s)
		}
	}
	p.answerExit()
}

func TestExecuteMatchesItsCompletionAndStopsOnHangup(t *testing.T) {
	type result struct {
		ev  *Event
		err error
	}
	results := make(chan result, 2)
	srv := &Server{HangupWait: time.Second, Handler: HandlerFunc(func(ctx context.Context, s *Session) {
		ev, err := s.Execute(ctx, "playback", "tone_stream://%(1000,0,440)", 5*time.Second)
		results <- result{ev, err}
		ev, err = s.Execute(ctx, "playback", "x", 5*time.Second)
		results <- result{ev, err}
	})}
	p := dialPeer(t, startServer(t, srv))
	p.connect()
	cmd := p.readCommand()
	for _, want := range []string{"call-command: execute", "execute-app-name: playback", "execute-app-arg: tone_stream://%(1000,0,440)", "event-lock: true", "Event-UUID: "} {
		if !strings.Contains(cmd, want) {
			t.Fatalf("execute %q lacks %q", cmd, want)
		}
	}
	id := cmd[strings.Index(cmd, "Event-UUID: ")+len("Event-UUID: "):]
	p.reply("+OK")
	p.event("CHANNEL_EXECUTE_COMPLETE", "Application-UUID", "someone-else", "Application", "set")
	p.event("CHANNEL_EXECUTE_COMPLETE", "Application-UUID", id, "Application-Response", "FILE%20PLAYED")
	r := <-results
	if r.err != nil || r.ev.Get("Application-Response") != "FILE PLAYED" {
		t.Fatalf("first execute: %v %v", r.ev, r.err)
	}
	p.readCommand()
	p.reply("+OK")
	p.event("CHANNEL_HANGUP", "Hangup-Cause", "NORMAL_CLEARING")
	r = <-results
	var he *HangupError
	if !errors.As(r.err, &he) || !errors.Is(r.err, ErrHangup) || he.Cause != "NORMAL_CLEARING" {
		t.Fatalf("second execute: %v", r.err)
	}
	// finish waits for HANGUP_COMPLETE before exit.
	p.event("CHANNEL_HANGUP_COMPLETE", "Hangup-Cause", "NORMAL_CLEARING")
	p.answerExit()
}

// A peer that breaks the framing ends its own call; the server goes on.
func TestMalformedFrameEndsOnlyThatCall(t *testing.T) {
	errs := make(chan error, 2)
	srv := &Server{Handler: HandlerFunc(func(ctx context.Context, s *Session) {
		_, err := s.Wait(ctx, 5*time.Second, func(*Event) bool { return true })
		errs <- err
	})}
	addr := startServer(t, srv)
	bad := dialPeer(t, addr)
	bad.connect()
	bad.write("Content-Length: banana\nContent-Type: text/event-plain\n\n")
	err := <-errs
	var pe *ProtocolError
	if !errors.Is(err, ErrClosed) || !errors.As(err, &pe) {
		t.Fatalf("malformed frame: %v", err)
	}
	// The broken connection is closed by ailb.
	_ = bad.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(bad.br); err != nil {
		t.Fatalf("bad peer not closed cleanly: %v", err)
	}

	good := dialPeer(t, addr)
	good.connect()
	good.event("CHANNEL_STATE")
	if err := <-errs; err != nil {
		t.Fatalf("next call: %v", err)
	}
	good.answerExit()
}

func TestReplyTimeoutClosesTheConnection(t *testing.T) {
	errs := make(chan error, 1)
	srv := &Server{ReplyTimeout: 100 * time.Millisecond, Handler: HandlerFunc(func(ctx context.Context, s *Session) {
		_, err := s.Send(ctx, Getvar{Name: "slow"})
		errs <- err
	})}
	p := dialPeer(t, startServer(t, srv))
	p.connect()
	p.readCommand() // never answered
	if err := <-errs; !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), `no reply to "getvar slow"`) {
		t.Fatalf("err %v", err)
	}
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(p.br); err != nil {
		t.Fatalf("connection not closed after a reply timeout: %v", err)
	}
}

func TestRefusesInjectedCommand(t *testing.T) {
	errs := make(chan error, 1)
	srv := &Server{Handler: HandlerFunc(func(ctx context.Context, s *Session) {
		_, err := s.Start(ctx, "set", "x=1\ncall-command: hangup")
		errs <- err
	})}
	p := dialPeer(t, startServer(t, srv))
	p.connect()
	if err := <-errs; err == nil {
		t.Fatal("an argument with LF was sent")
	}
	// Nothing but exit reaches FreeSWITCH.
	p.answerExit()
}

func TestShutdownDrainsThenHandsBack(t *testing.T) {
	started := make(chan struct{})
	var once sync.Once
	srv := &Server{Handler: HandlerFunc(func(ctx context.Context, s *Session) {
		once.Do(func() { close(started) })
		<-ctx.Done() // a call that outlives the drain deadline
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	p := dialPeer(t, ln.Addr().String())
	p.connect()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	// The call is handed back with exit, not hung up.
	p.answerExit()
	if err := <-shut; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
}

func TestInjectedEventsKeepOrder(t *testing.T) {
	got := make(chan []string, 1)
	srv := &Server{Handler: HandlerFunc(func(ctx context.Context, s *Session) {
		time.Sleep(100 * time.Millisecond) // both events are queued by now
		var seq []string
		for len(seq) < 3 {
			ev, err := s.Wait(ctx, 5*time.Second, func(ev *Event) bool {
				if ev.Is(LocalEvent) {
					return true
				}
				if ev.Get("Event-Sequence") == "1" {
					s.Inject("local") // queued behind event 2, which is already in
				}
				return true
			})
			if err != nil {
				t.Error(err)
				break
			}
			if ev.Local != nil {
				seq = append(seq, ev.Local.(string))
			} else {
				seq = append(seq, ev.Get("Event-Sequence"))
			}
		}
		got <- seq
	})}
	p := dialPeer(t, startServer(t, srv))
	p.connect()
	p.event("CHANNEL_STATE", "Event-Sequence", "1")
	p.event("CHANNEL_STATE", "Event-Sequence", "2")
	if s := strings.Join(<-got, ","); s != "1,2,local" {
		t.Fatalf("order %s", s)
	}
	p.answerExit()
}

// Deferred commands wait for the next write and go out in front of it;
// after a hangup they are dropped: nothing but exit reaches the channel.
func TestDeferredCommands(t *testing.T) {
	posted := make(chan struct{})
	results := make(chan error, 3)
	srv := &Server{HangupWait: time.Second, Handler: HandlerFunc(func(ctx context.Context, s *Session) {
		d, err := s.Defer(Getvar{Name: "deferred"})
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := d.Wait(ctx); !errors.Is(err, ErrNotSent) {
			t.Errorf("wait on an unsent deferral: %v", err)
		}
		<-posted
		rs, err := s.Send(ctx, Getvar{Name: "posted"})
		results <- err
		if rs2, err := d.Wait(ctx); err != nil || rs2[0].Text != "a" || rs[0].Text != "b" {
			t.Errorf("replies %v %v %v", rs, rs2, err)
		}
		if _, err := s.Defer(Getvar{Name: "after-hangup"}); err != nil {
			t.Error(err)
		}
		_, err = s.Wait(ctx, 5*time.Second, nil)
		results <- err
	})}
	p := dialPeer(t, startServer(t, srv))
	p.connect()
	_ = p.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _ := p.br.Read(make([]byte, 1)); n != 0 {
		t.Fatal("a deferred command went out on its own")
	}
	close(posted)
	if a, b := p.readCommand(), p.readCommand(); a != "getvar deferred" || b != "getvar posted" {
		t.Fatalf("order %q %q", a, b)
	}
	p.reply("a")
	p.reply("b")
	if err := <-results; err != nil {
		t.Fatal(err)
	}
	p.event("CHANNEL_HANGUP", "Hangup-Cause", "NORMAL_CLEARING")
	if err := <-results; !errors.Is(err, ErrHangup) {
		t.Fatalf("wait: %v", err)
	}
	p.event("CHANNEL_HANGUP_COMPLETE", "Hangup-Cause", "NORMAL_CLEARING")
	p.answerExit() // fails unless exit is the next command
}
