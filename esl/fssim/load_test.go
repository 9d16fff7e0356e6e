package fssim

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// miniServer is a trivial outbound ESL server: it answers, plays a tone and
// hangs up, then exits on the linger notice, as eslgo does.
func miniServer(ln net.Listener, tone string, handled *sync.WaitGroup, errs chan<- error) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		handled.Go(func() {
			defer conn.Close()
			if err := miniCall(conn, tone); err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
}

func miniCall(conn net.Conn, tone string) error {
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReaderSize(conn, 16<<10)
	next := func() (wireMsg, error) { return readWireMsg(r) }
	write := func(s string) error { _, err := conn.Write([]byte(s)); return err }
	if err := write("connect\n\n"); err != nil {
		return err
	}
	m, err := next()
	if err != nil {
		return err
	}
	uuid := m.headRaw["Unique-ID"]
	exec := func(app, arg string) string {
		return "sendmsg " + uuid + "\ncall-command: execute\nexecute-app-name: " + app + "\nexecute-app-arg: " + arg +
			"\nevent-lock: true\n\n"
	}
	if err := write("linger\n\nmyevents plain\n\n" + exec("answer", "") +
		exec("playback", tone) + exec("hangup", "NORMAL_CLEARING")); err != nil {
		return err
	}
	sawComplete := false
	for {
		m, err := next()
		if err != nil {
			return fmt.Errorf("before the linger notice: %w", err)
		}
		if m.kind == "event" && m.ev["Event-Name"] == "CHANNEL_HANGUP_COMPLETE" {
			sawComplete = true
		}
		if m.kind == "notice" {
			break
		}
	}
	if !sawComplete {
		return fmt.Errorf("no CHANNEL_HANGUP_COMPLETE")
	}
	if err := write("exit\n\n"); err != nil {
		return err
	}
	for {
		if _, err := next(); err != nil {
			return nil
		}
	}
}

// A thousand calls at once against a trivial server; nothing is left
// running afterwards.
func TestManyCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	defer goleak.VerifyNone(t)
	const calls = 1000
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var handled sync.WaitGroup
	errs := make(chan error, 1)
	var accept sync.WaitGroup
	accept.Go(func() { miniServer(ln, "tone_stream://%(200,0,440)", &handled, errs) })
	// Unscaled, so the 25 s connect timeout stays far above the time a
	// thousand accepts take on a loaded machine.
	sw := &Switch{Addr: ln.Addr().String()}
	results := make([]*Result, calls)
	runErrs := make([]error, calls)
	var runs sync.WaitGroup
	start := time.Now()
	for i := range calls {
		runs.Go(func() {
			results[i], runErrs[i] = sw.Run(context.Background(), Call{MaxDuration: time.Minute})
		})
	}
	runs.Wait()
	elapsed := time.Since(start)
	ln.Close()
	accept.Wait()
	handled.Wait()
	select {
	case err := <-errs:
		t.Fatalf("server: %v", err)
	default:
	}
	for i, res := range results {
		if runErrs[i] != nil {
			t.Fatalf("call %d: %v", i, runErrs[i])
		}
		if res.End != "exit" || res.HangupCause != "NORMAL_CLEARING" || res.HungUpBy != "app" {
			t.Fatalf("call %d: end %q cause %q by %q", i, res.End, res.HangupCause, res.HungUpBy)
		}
	}
	t.Logf("%d calls in %v", calls, elapsed)
}
