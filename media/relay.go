package media

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

// ForkSubprotocol is what mod_audio_fork offers (and needs echoed);
// mod_audio_stream offers none.
const ForkSubprotocol = "audio.drachtio.org"

// RelayOptions configure a Relay. Zero values take the defaults noted.
type RelayOptions struct {
	Log    *zap.Logger       // default: no logging
	Dialer *websocket.Dialer // dials assistants; default: proxy from the environment
	Now    func() time.Time  // event times and silence measurement; default time.Now
	NewID  func() string     // random part of Twilio streamSids; default 16 random bytes in hex

	QueueFrames int         // audio frames waiting per direction; default 50 (1 s)
	OnDrop      func(n int) // n audio frames dropped for a slow assistant; must not block

	PingEvery   time.Duration // ping the assistant this often; default 5 s
	ReadTimeout time.Duration // no frame or pong from the assistant this long fails it; default 15 s
}

// Relay connects FreeSWITCH's audio-fork WebSockets to assistants. Each
// call's stream is registered first, then FreeSWITCH is told to connect
// to /calls/<id>?token=<secret> on the relay's own listener.
type Relay struct {
	opts     RelayOptions
	log      *zap.Logger
	upgrader websocket.Upgrader

	mu      sync.Mutex
	streams map[string]*Stream
	closed  bool

	wg sync.WaitGroup // one per stream supervisor
}

// ErrRelayClosed is returned by Register after Close.
var ErrRelayClosed = errors.New("media: relay closed")

// NewRelay returns a relay with o's defaults filled in.
func NewRelay(o RelayOptions) *Relay {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Dialer == nil {
		o.Dialer = &websocket.Dialer{Proxy: http.ProxyFromEnvironment}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = randomID
	}
	if o.QueueFrames <= 0 {
		o.QueueFrames = 50
	}
	if o.OnDrop == nil {
		o.OnDrop = func(int) {}
	}
	if o.PingEvery <= 0 {
		o.PingEvery = 5 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 15 * time.Second
	}
	return &Relay{
		opts: o,
		log:  o.Log,
		upgrader: websocket.Upgrader{
			Subprotocols: []string{ForkSubprotocol},
			// The per-call token authenticates; FreeSWITCH's Origin is
			// its own address, which says nothing.
			CheckOrigin: func(*http.Request) bool { return true },
		},
		streams: make(map[string]*Stream),
	}
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// Register adds a call's stream before FreeSWITCH is told to connect. The
// stream waits ConnectTimeout for FreeSWITCH, then dials the assistant.
// A CallID can be registered again once its stream has ended (Close
// returns, or a terminal event was followed by Done).
func (r *Relay) Register(c StreamConfig) (*Stream, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrRelayClosed
	}
	if _, ok := r.streams[c.CallID]; ok {
		return nil, errors.New("media: stream " + c.CallID + " is already registered")
	}
	s := newStream(r, c)
	r.streams[c.CallID] = s
	r.wg.Add(1)
	go s.run()
	return s, nil
}

func (r *Relay) lookup(id string) *Stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.streams[id]
}

func (r *Relay) remove(s *Stream) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.streams[s.cfg.CallID] == s {
		delete(r.streams, s.cfg.CallID)
	}
}

// Close closes every stream (Close 1000 on both sockets) and waits for
// their goroutines. Register fails afterwards.
func (r *Relay) Close() {
	r.mu.Lock()
	r.closed = true
	streams := make([]*Stream, 0, len(r.streams))
	for _, s := range r.streams {
		streams = append(streams, s)
	}
	r.mu.Unlock()
	for _, s := range streams {
		s.stop(ownerClose("relay closing"))
	}
	r.wg.Wait()
}

// Handler serves GET /calls/{id}?token=<secret>, FreeSWITCH's side of the
// relay. Mount it on its own listener. A wrong or missing token is 401,
// an unknown id 404, a second connection for the same id 409, all before
// any upgrade.
func (r *Relay) Handler() http.Handler { return http.HandlerFunc(r.serveHTTP) }

func (r *Relay) serveHTTP(w http.ResponseWriter, req *http.Request) {
	id, ok := strings.CutPrefix(req.URL.Path, "/calls/")
	if !ok || id == "" || strings.Contains(id, "/") {
		http.NotFound(w, req)
		return
	}
	if req.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s := r.lookup(id)
	if s == nil {
		http.NotFound(w, req)
		return
	}
	if !s.tokenOK(req.URL.Query().Get("token")) {
		s.log.Warn("freeswitch connection refused: wrong or missing token", zap.String("remote", req.RemoteAddr))
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if status := s.claim(); status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	conn, err := r.upgrader.Upgrade(w, req, nil)
	if err != nil {
		// The upgrader has answered 400; FreeSWITCH may try again.
		s.unclaim()
		s.log.Warn("freeswitch upgrade refused", zap.Error(err))
		return
	}
	s.attach(conn)
}

// dial connects to an assistant. URL user info becomes Basic auth, which
// gorilla does not take from the URL.
func (r *Relay) dial(ctx context.Context, c *StreamConfig) (*websocket.Conn, *http.Response, error) {
	u, hdr := c.dialTarget()
	return r.opts.Dialer.DialContext(ctx, u, hdr)
}
