package fssim

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// benchChannel is a channel in the state of the recorded bridge completion:
// answered, bridged, with the variables of the base recording.
func benchChannel(b *testing.B) *channel {
	b.Helper()
	sw := &Switch{Addr: "127.0.0.1:8084"}
	c := newChannel(sw, loadTemplates(), &Call{})
	s := newSession(sw, c, &Call{})
	c.sub.on = true
	c.sub.list[evExecuteComplete] = true
	c.mu.Lock()
	s.answerLocked()
	s.applyAck()
	for _, n := range []string{"switch_m_sdp", "originated_legs", "originate_causes", "signal_bond",
		"last_bridge_to", "bridge_channel", "bridge_uuid", "last_sent_callee_id_name", "last_sent_callee_id_number",
		"sip_hangup_phrase", "last_bridge_hangup_cause", "last_bridge_proto_specific_hangup_cause",
		"bridge_hangup_cause", "originate_disposition", "DIALSTATUS"} {
		c.setRecorded(n)
	}
	c.other = &otherLeg{uuid: "94274445-3107-4c07-b377-31e7ec3fa311", user: "ai", chanName: "sofia/internal/ai%40127.0.0.1%3A5090"}
	c.setCallee("Outbound Call", "ai")
	c.mu.Unlock()
	return c
}

// One CHANNEL_EXECUTE_COMPLETE of a bridge (about 8.5 KB, as recorded).
func BenchmarkRenderEvent(b *testing.B) {
	c := benchChannel(b)
	a := evArgs{app: "bridge", appData: "{leg_timeout=15}sofia/internal/sip:ai@127.0.0.1:5090", appResp: "_none_",
		appUUID: "13abb7f7-23a7-498f-87f2-43ac7dbdeb65"}
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int
	b.ReportAllocs()
	for b.Loop() {
		a.now = 1795239029861038
		c.fire(evExecuteComplete, &a)
		it := c.out[0]
		n = len(it.data)
		c.putBuf(it.full)
		c.out = c.out[:0]
	}
	b.SetBytes(int64(n))
}

// One complete answered call (connect, answer, 1 s tone, hangup, linger,
// exit) against a minimal server, at Scale 0.01.
func BenchmarkCall(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var handled, accept sync.WaitGroup
	errs := make(chan error, 1)
	accept.Go(func() { miniServer(ln, "tone_stream://%(1000,0,440)", &handled, errs) })
	sw := &Switch{Addr: ln.Addr().String(), Scale: 0.01}
	b.ReportAllocs()
	for b.Loop() {
		res, err := sw.Run(context.Background(), Call{})
		if err != nil || res.HangupCause != "NORMAL_CLEARING" {
			b.Fatalf("%v %+v", err, res)
		}
	}
	b.StopTimer()
	ln.Close()
	accept.Wait()
	handled.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// discardConn takes writes and nothing else.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)        { return len(p), nil }
func (discardConn) SetWriteDeadline(t time.Time) error { return nil }

// One 20 ms audio frame to the server (16 kHz: 640 bytes, masked), and the
// playout of a bidirectional fork: what each stream costs 50 times a
// second.
func BenchmarkAudioFrame(b *testing.B) {
	sw := &Switch{Addr: "127.0.0.1:8084"}
	c := newChannel(sw, loadTemplates(), &Call{})
	cfg := streamCfg{mod: forkMod, bug: "ailb", mix: "mono", rate: 16000, bidi: true, bidiStream: true, bidiRate: 16000}
	st := newWSStream(sw, c, cfg, &Call{})
	st.conn = discardConn{}
	c.writers.Add(1)
	frame := make([]byte, 640)
	b.ReportAllocs()
	for k := 0; b.Loop(); k++ {
		st.mu.Lock()
		st.play.add(frame, st.maxQueue())
		st.mu.Unlock()
		if !st.tick(k) {
			b.Fatal("write failed")
		}
		if len(st.rec.Heard) > 1<<16 {
			st.rec.Heard = st.rec.Heard[:0]
		}
	}
}
