// Package wstest is a fake AI assistant for tests: a WebSocket server that
// speaks ailb's raw protocol or Twilio Media Streams, misbehaves on
// request, and records everything it receives.
package wstest

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"ailb/media"

	"github.com/gorilla/websocket"
)

// Options choose how the assistant behaves.
type Options struct {
	Protocol   string // media.ProtocolRaw (default) or media.ProtocolTwilio
	SampleRate int    // raw audio rate; default 8000 (Twilio is always 8000)

	// HandshakeStatus answers the upgrade with this HTTP status instead
	// of switching protocols (a failed handshake).
	HandshakeStatus int
	// HangHandshake accepts TCP connections but never answers them.
	HangHandshake bool
	// Stall never reads after the upgrade, with a small receive buffer:
	// the TCP connection backs up and writes to it block.
	Stall bool
	// SpeakFor sends a 440 Hz tone in paced 20 ms frames for this long
	// after the upgrade, then nothing (0: never speaks on its own).
	SpeakFor time.Duration
	// OnMessage, if set, sees every received message, from the reader.
	OnMessage func(Msg)
}

// Msg is one received data frame.
type Msg struct {
	Type   int    // websocket.TextMessage or websocket.BinaryMessage
	Data   []byte // as received
	Twilio *media.TwilioMessage
	Raw    map[string]any // a raw-protocol JSON text frame, decoded
}

// Server is a running fake assistant.
type Server struct {
	URL  string // ws://127.0.0.1:port/assistant
	opts Options

	srv   *httptest.Server // nil in HangHandshake mode
	hang  net.Listener     // HangHandshake mode
	peers chan *Peer

	mu     sync.Mutex
	all    []*Peer
	held   []net.Conn
	closed bool
	wg     sync.WaitGroup
}

// Start runs an assistant on 127.0.0.1.
func Start(o Options) *Server {
	if o.Protocol == "" {
		o.Protocol = media.ProtocolRaw
	}
	if o.SampleRate == 0 || o.Protocol == media.ProtocolTwilio {
		o.SampleRate = 8000
	}
	s := &Server{opts: o, peers: make(chan *Peer, 16)}
	if o.HangHandshake {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic("wstest: " + err.Error())
		}
		s.hang, s.URL = ln, "ws://"+ln.Addr().String()+"/assistant"
		s.wg.Add(1)
		go s.holdConnections()
		return s
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if o.Stall {
		s.srv.Listener = smallBufferListener{s.srv.Listener}
	}
	s.srv.Start()
	s.URL = "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/assistant"
	return s
}

// RefusingURL returns a URL where nothing listens: dialling it is refused.
func RefusingURL() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("wstest: " + err.Error())
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "ws://" + addr + "/assistant"
}

func (s *Server) holdConnections() {
	defer s.wg.Done()
	for {
		c, err := s.hang.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			_ = c.Close()
		} else {
			s.held = append(s.held, c)
		}
		s.mu.Unlock()
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.opts.HandshakeStatus != 0 {
		http.Error(w, http.StatusText(s.opts.HandshakeStatus), s.opts.HandshakeStatus)
		return
	}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	p := &Peer{
		s: s, conn: c, Header: r.Header.Clone(), Path: r.URL.Path, Query: r.URL.RawQuery,
		changed: make(chan struct{}), closed: make(chan struct{}), stop: make(chan struct{}),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = c.Close()
		return
	}
	s.all = append(s.all, p)
	s.wg.Add(1)
	if !s.opts.Stall {
		s.wg.Add(1)
		go p.read()
	}
	go p.speak(s.opts.SpeakFor)
	s.mu.Unlock()
	select {
	case s.peers <- p:
	default:
	}
}

// Next waits for the next connection.
func (s *Server) Next(timeout time.Duration) (*Peer, error) {
	select {
	case p := <-s.peers:
		return p, nil
	case <-time.After(timeout):
		return nil, errors.New("wstest: no connection within " + timeout.String())
	}
}

// Close drops every connection and waits for the assistant's goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	peers, held := s.all, s.held
	s.mu.Unlock()
	for _, p := range peers {
		p.Drop()
	}
	for _, c := range held {
		_ = c.Close()
	}
	if s.hang != nil {
		_ = s.hang.Close()
	}
	if s.srv != nil {
		s.srv.Close()
	}
	s.wg.Wait()
}

// smallBufferListener shrinks each connection's receive buffer so a
// stalled reader backs the sender up quickly.
type smallBufferListener struct{ net.Listener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	return c, err
}
