package esl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Handler runs one call. ServeCall blocks for the life of the call: when
// it returns, the session ends (exit; FreeSWITCH continues its dialplan if
// the channel is still up). ctx is cancelled when the server stops.
type Handler interface {
	ServeCall(ctx context.Context, s *Session)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, s *Session)

// ServeCall implements Handler.
func (f HandlerFunc) ServeCall(ctx context.Context, s *Session) { f(ctx, s) }

// Server accepts FreeSWITCH's outbound connections (`socket ... async full`).
// It is built on our own reader rather than eslgo's Conn: eslgo's server
// sends `connect` before any hook can refuse a peer, cannot be shut down
// gracefully, and delivers events from a goroutine each (out of order).
type Server struct {
	Handler Handler
	// Allow lists the networks FreeSWITCH may connect from. Others are
	// closed before any byte is written. Empty allows loopback only.
	Allow []netip.Prefix
	Log   *zap.Logger
	// ConnectTimeout bounds the connect exchange (default 5s).
	ConnectTimeout time.Duration
	// ReplyTimeout bounds every command's reply (default 10s).
	ReplyTimeout time.Duration
	// HangupWait bounds the wait for CHANNEL_HANGUP_COMPLETE after a
	// hangup before exit is sent (default 5s; FreeSWITCH lingers meanwhile).
	HangupWait time.Duration
	// OnReject is called for every refused peer (metrics).
	OnReject func(remote netip.Addr)

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	ctx       context.Context
	cancel    context.CancelFunc
	active    sync.WaitGroup
	calls     atomic.Int64
	stopping  atomic.Bool
	scratch   sync.Pool // *[]byte for connect replies
}

func (s *Server) init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.listeners = make(map[net.Listener]struct{})
		s.scratch.New = func() any { b := make([]byte, 0, 16<<10); return &b }
	}
	if s.Log == nil {
		s.Log = zap.NewNop()
	}
}

// Stopping reports that Shutdown or Close began: no new calls are taken.
func (s *Server) Stopping() bool { return s.stopping.Load() }

// Active is the number of calls being served.
func (s *Server) Active() int64 { return s.calls.Load() }

// ListenAndServe listens on addr and serves until Shutdown or Close.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Shutdown or Close, then returns nil.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	s.mu.Lock()
	if s.stopping.Load() {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	// Counting the accept loop keeps the WaitGroup above zero while it can
	// still add connections, so Shutdown's Wait never races an Add.
	s.active.Add(1)
	s.mu.Unlock()
	defer s.active.Done()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.stopping.Load() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: wait and retry.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.Log.Error("esl accept", zap.Error(err), zap.Duration("retry_in", backoff))
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		s.active.Add(1)
		go s.handle(conn)
	}
}

func (s *Server) allowed(remote netip.Addr) bool {
	remote = remote.Unmap()
	if len(s.Allow) == 0 {
		return remote.IsLoopback()
	}
	for _, p := range s.Allow {
		if p.Contains(remote) {
			return true
		}
	}
	return false
}

func (s *Server) handle(conn net.Conn) {
	defer s.active.Done()
	remote := remoteAddr(conn)
	if !s.allowed(remote) {
		conn.Close()
		s.Log.Warn("esl peer refused: not in the allow list", zap.Stringer("peer", remote))
		if s.OnReject != nil {
			s.OnReject(remote)
		}
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	sess := newSession(conn, s.Log, orDefault(s.ReplyTimeout, 10*time.Second))
	if err := sess.connect(orDefault(s.ConnectTimeout, 5*time.Second), &s.scratch); err != nil {
		conn.Close()
		s.Log.Warn("esl connect failed", zap.Stringer("peer", remote), zap.Error(err))
		return
	}
	sess.log = s.Log.With(zap.String("call_uuid", sess.uuid))
	s.calls.Add(1)
	defer s.calls.Add(-1)
	defer sess.finish(orDefault(s.HangupWait, 5*time.Second))
	defer func() {
		if p := recover(); p != nil {
			sess.log.Error("call handler panic; handing the call back to the dialplan", zap.Any("panic", p), zap.StackSkip("stack", 2))
		}
	}()
	s.Handler.ServeCall(s.ctx, sess)
}

// Shutdown stops accepting calls and waits for those in progress to end.
// When ctx expires first, the remaining calls are handed back to
// FreeSWITCH's dialplan (their ctx is cancelled) and ctx's error returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.closeListeners()
	done := make(chan struct{})
	go func() {
		s.active.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		<-done
		return fmt.Errorf("esl: %d calls handed back at shutdown: %w", s.calls.Load(), ctx.Err())
	}
}

// Close stops accepting and hands every call in progress back to
// FreeSWITCH's dialplan at once, then waits for the handlers to return.
func (s *Server) Close() {
	s.init()
	s.closeListeners()
	s.cancel()
	s.active.Wait()
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
}

func remoteAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
