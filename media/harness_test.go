package media_test

import (
	"encoding/binary"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ailb/media"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// secret is the per-call token in every test; assistantSecret sits in the
// assistant's URL. Neither may reach a log line, an error or String().
const (
	secret          = "s3cr3t-token-0123456789"
	assistantSecret = "ak-9f8e7d6c5b4a"
)

// harness is a relay on a real listener, with its logs observed.
type harness struct {
	tb    testing.TB
	relay *media.Relay
	srv   *httptest.Server
	addr  string
	drops atomic.Int64
	logs  *observer.ObservedLogs
	n     int
}

func newHarness(tb testing.TB, o media.RelayOptions) *harness {
	core, logs := observer.New(zapcore.DebugLevel)
	h := &harness{tb: tb, logs: logs}
	o.Log = zap.New(core)
	o.OnDrop = func(n int) { h.drops.Add(int64(n)) }
	h.relay = media.NewRelay(o)
	h.srv = httptest.NewServer(h.relay.Handler())
	h.addr = h.srv.Listener.Addr().String()
	tb.Cleanup(func() {
		h.relay.Close()
		h.srv.Close()
		h.checkLogs()
	})
	return h
}

// register adds a stream with test defaults and records its events.
func (h *harness) register(c media.StreamConfig) (*media.Stream, *eventLog) {
	h.tb.Helper()
	h.n++
	if c.CallID == "" {
		c.CallID = fmt.Sprintf("8399095e-1e1d-4305-a9d2-%012d", h.n)
	}
	if c.Token == "" {
		c.Token = secret
	}
	if c.Protocol == "" {
		c.Protocol = media.ProtocolRaw
	}
	if c.SampleRate == 0 {
		c.SampleRate = 8000
	}
	log := &eventLog{ch: make(chan media.StreamEvent, 1024)}
	c.OnEvent = log.on
	s, err := h.relay.Register(c)
	if err != nil {
		h.tb.Fatal(err)
	}
	return s, log
}

// checkLogs fails when a secret reached a log line.
func (h *harness) checkLogs() {
	for _, e := range h.logs.All() {
		line := e.Message + " " + fmt.Sprint(e.ContextMap())
		if strings.Contains(line, secret) || strings.Contains(line, assistantSecret) {
			h.tb.Errorf("a secret reached the log: %s", line)
		}
	}
}

// eventLog records a stream's events and checks OnEvent is never called
// concurrently.
type eventLog struct {
	ch     chan media.StreamEvent
	mu     sync.Mutex
	all    []media.StreamEvent
	inside atomic.Int32
}

func (l *eventLog) on(ev media.StreamEvent) {
	if l.inside.Add(1) != 1 {
		panic("OnEvent called concurrently")
	}
	defer l.inside.Add(-1)
	l.mu.Lock()
	l.all = append(l.all, ev)
	l.mu.Unlock()
	select {
	case l.ch <- ev:
	default:
		panic("event log full")
	}
}

// wait consumes events until one of kind arrives.
func (l *eventLog) wait(tb testing.TB, kind media.EventKind, timeout time.Duration) media.StreamEvent {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case ev := <-l.ch:
			if ev.Kind == kind {
				return ev
			}
		case <-deadline.C:
			tb.Fatalf("no %v event within %v; events so far: %v", kind, timeout, l.kinds())
		}
	}
}

func (l *eventLog) kinds() []media.EventKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]media.EventKind, len(l.all))
	for i, ev := range l.all {
		out[i] = ev.Kind
	}
	return out
}

func (l *eventLog) events() []media.StreamEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]media.StreamEvent(nil), l.all...)
}

// samples reads little-endian L16.
func samples(b []byte) []int16 {
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out
}

// checkG711 asserts got is want through μ-law: bit-exact to the codec and
// within G.711's quantization error.
func checkG711(tb testing.TB, got, want []int16) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("%d samples, want %d", len(got), len(want))
	}
	for i, x := range want {
		if exact := media.MulawDecode(media.MulawEncode(x)); got[i] != exact {
			tb.Fatalf("sample %d: %d, want %d (%d through G.711)", i, got[i], exact, x)
		}
		d := int(got[i]) - int(x)
		if d < 0 {
			d = -d
		}
		mag := int(x)
		if mag < 0 {
			mag = -mag
		}
		if d > 8+mag/16 {
			tb.Fatalf("sample %d: %d is %d away from %d", i, got[i], d, x)
		}
	}
}

func sequence(kinds ...media.EventKind) string { return fmt.Sprint(kinds) }
