package fssim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsServer is the AI stand-in of the WebSocket transcripts (wsprobe): a
// gorilla server on a listener that keeps every byte the client wrote, so
// the tests can check the upgrade and the frame headers on the wire with
// their own parser, apart from the simulator's.
type wsServer struct {
	t      *testing.T
	URL    string // ws://127.0.0.1:port
	ln     net.Listener
	srv    *http.Server
	script func(p *wsPeer)

	mu    sync.Mutex
	peers []*wsPeer
	next  chan *wsPeer
	wg    sync.WaitGroup
}

// wsPeer is one accepted connection.
type wsPeer struct {
	conn *websocket.Conn
	raw  *rawConn
	req  *http.Request
	wmu  sync.Mutex

	mu        sync.Mutex
	msgs      []peerMsg
	closeCode int
	closeText string
	changed   chan struct{}
	done      chan struct{}
}

type peerMsg struct {
	at   time.Time
	typ  int
	data []byte
}

// rawConn keeps what the client sent.
type rawConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *rawConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *rawConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes())
}

type rawListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[string]*rawConn
}

func (l *rawListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	rc := &rawConn{Conn: c}
	l.mu.Lock()
	l.conns[c.RemoteAddr().String()] = rc
	l.mu.Unlock()
	return rc, nil
}

// startWS runs a server that echoes the offered subprotocol (wsprobe did);
// script (in the handler goroutine) plays the server's side after the
// upgrade; nil just reads until the end.
func startWS(t *testing.T, script func(p *wsPeer)) *wsServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rl := &rawListener{Listener: ln, conns: map[string]*rawConn{}}
	s := &wsServer{t: t, URL: "ws://" + ln.Addr().String(), ln: rl, script: script, next: make(chan *wsPeer, 8)}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }, Subprotocols: []string{forkSubprotocol}}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		rl.mu.Lock()
		raw := rl.conns[r.RemoteAddr]
		rl.mu.Unlock()
		p := &wsPeer{conn: conn, raw: raw, req: r, changed: make(chan struct{}), done: make(chan struct{})}
		s.mu.Lock()
		s.peers = append(s.peers, p)
		s.wg.Add(1)
		s.mu.Unlock()
		s.next <- p
		go func() {
			defer s.wg.Done()
			p.read()
		}()
		if s.script != nil {
			s.script(p)
		}
		<-p.done
	})}
	go func() { _ = s.srv.Serve(rl) }()
	t.Cleanup(s.close)
	return s
}

func (s *wsServer) close() {
	s.mu.Lock()
	peers := s.peers
	s.mu.Unlock()
	for _, p := range peers {
		_ = p.conn.Close()
	}
	_ = s.srv.Close()
	s.wg.Wait()
}

// peer waits for the next connection.
func (s *wsServer) peer() *wsPeer {
	s.t.Helper()
	select {
	case p := <-s.next:
		return p
	case <-time.After(10 * time.Second):
		s.t.Fatal("no WebSocket connection")
	}
	return nil
}

func (p *wsPeer) read() {
	defer close(p.done)
	for {
		typ, data, err := p.conn.ReadMessage()
		p.mu.Lock()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				p.closeCode, p.closeText = ce.Code, ce.Text
			} else {
				p.closeCode = -1
			}
		} else {
			p.msgs = append(p.msgs, peerMsg{at: time.Now(), typ: typ, data: data})
		}
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// messages returns what was received so far.
func (p *wsPeer) messages() []peerMsg {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]peerMsg(nil), p.msgs...)
}

// waitFor blocks until cond holds on the messages (and whether the reader ended).
func (p *wsPeer) waitFor(t *testing.T, what string, cond func(msgs []peerMsg, ended bool) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		p.mu.Lock()
		msgs, ch := p.msgs, p.changed
		ended := p.closeCode != 0
		ok := cond(msgs, ended)
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timeout waiting for %s (%d messages, ended %v)", what, len(msgs), ended)
		}
	}
}

func (p *wsPeer) texts() []string { return textsOf(p.messages()) }

func textsOf(msgs []peerMsg) []string {
	var out []string
	for _, m := range msgs {
		if m.typ == websocket.TextMessage {
			out = append(out, string(m.data))
		}
	}
	return out
}

func (p *wsPeer) binaries() [][]byte {
	var out [][]byte
	for _, m := range p.messages() {
		if m.typ == websocket.BinaryMessage {
			out = append(out, m.data)
		}
	}
	return out
}

func (p *wsPeer) send(typ int, data []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.conn.WriteMessage(typ, data)
}

func (p *wsPeer) sendText(s string) error { return p.send(websocket.TextMessage, []byte(s)) }

// closeWith sends a Close frame (the reader gets the echo).
func (p *wsPeer) closeWith(code int, reason string) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}

// drop cuts TCP without a Close frame.
func (p *wsPeer) drop() { _ = p.conn.NetConn().Close() }

// ended waits for the connection's reader to end.
func (p *wsPeer) ended(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the WebSocket did not end")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closeCode, p.closeText
}

// clientFrame is one frame from the client, parsed from the raw bytes.
type clientFrame struct {
	fin, rsv, masked bool
	op               byte
	payload          []byte
}

// clientWire splits what the client wrote into the upgrade request and frames.
func clientWire(t *testing.T, raw []byte) (string, []clientFrame) {
	t.Helper()
	i := bytes.Index(raw, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("no upgrade request in %q", raw)
	}
	req, rest := string(raw[:i+4]), raw[i+4:]
	var out []clientFrame
	for len(rest) > 0 {
		if len(rest) < 2 {
			t.Fatalf("truncated frame header")
		}
		f := clientFrame{fin: rest[0]&0x80 != 0, rsv: rest[0]&0x70 != 0, op: rest[0] & 0x0F, masked: rest[1]&0x80 != 0}
		n, h := int(rest[1]&0x7F), 2
		switch n {
		case 126:
			n, h = int(binary.BigEndian.Uint16(rest[2:4])), 4
		case 127:
			n, h = int(binary.BigEndian.Uint64(rest[2:10])), 10
		}
		var key []byte
		if f.masked {
			key, h = rest[h:h+4], h+4
		}
		if len(rest) < h+n {
			break // the last frame may still be in flight
		}
		f.payload = bytes.Clone(rest[h : h+n])
		for j := range f.payload {
			f.payload[j] ^= key[j%4]
		}
		out = append(out, f)
		rest = rest[h+n:]
	}
	return req, out
}

// checkFrames: every client frame masked, FIN set, RSV clear.
func checkFrames(t *testing.T, frames []clientFrame) {
	t.Helper()
	for i, f := range frames {
		if !f.fin || f.rsv || !f.masked {
			t.Fatalf("frame %d: FIN=%v RSV=%v MASK=%v, want FIN=1 RSV=0 MASK=1", i, f.fin, f.rsv, f.masked)
		}
	}
}

func describeFrames(frames []clientFrame) string {
	var b strings.Builder
	audio := 0
	flush := func() {
		if audio > 0 {
			fmt.Fprintf(&b, "%dxaudio ", audio)
			audio = 0
		}
	}
	for _, f := range frames {
		switch {
		case f.op == opBinary && len(f.payload) > 0:
			audio++
		case f.op == opBinary:
			flush()
			b.WriteString("empty ")
		case f.op == opText:
			flush()
			fmt.Fprintf(&b, "text(%s) ", f.payload)
		case f.op == opClose:
			flush()
			code, reason := ParseClose(f.payload)
			fmt.Fprintf(&b, "close(%d,%q) ", code, reason)
		default:
			flush()
			fmt.Fprintf(&b, "op%d ", f.op)
		}
	}
	flush()
	return strings.TrimSpace(b.String())
}

// sleep waits d unless the connection ends first (false then).
func (p *wsPeer) sleep(d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-p.done:
		return false
	}
}

// tone440 is wsprobe's reply audio: n samples of 440 Hz at rate from offset.
func tone440(rate, offset, n int) []byte {
	b := make([]byte, 0, 2*n)
	for i := offset; i < offset+n; i++ {
		v := int16(math.Round(8000 * math.Sin(2*math.Pi*440*float64(i)/float64(rate))))
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	return b
}

func listenLocal(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
