package fssim

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A stream is two goroutines owned by the listener: the writer runs the
// module's side (connect, the 20 ms media clock, commands, closing) and is
// the only one writing to the socket; the reader takes the server's frames
// and acts on them as the module's message handler does.

type ctlKind uint8

const (
	ctlText      ctlKind = iota // send_text
	ctlStop                     // stop [text]
	ctlPause                    // pause
	ctlResume                   // resume
	ctlGraceful                 // graceful-shutdown
	ctlHangup                   // the channel went down
	ctlPong                     // the server pinged
	ctlPeerClose                // the server's Close arrived (data: its body)
	ctlPeerGone                 // the connection ended without a Close
)

type ctlMsg struct {
	kind    ctlKind
	text    string
	hasText bool
	data    []byte
}

// playCount numbers the temp files of playAudio/streamAudio, module-wide
// like the module's static counter.
var playCount atomic.Uint64

// Timing of the module side; real time, not scaled.
const (
	defaultWSConnectTimeout = 10 * time.Second
	closeWait               = time.Second            // for the server's answer to our Close
	runEndWait              = 200 * time.Millisecond // same when Run ends
	writeTimeout            = 5 * time.Second
	maxCatchUp              = 50 // frames sent at once when the clock fell behind
	maxMarks                = 30 // MAX_MARKS
)

type wsStream struct {
	sw       *Switch
	c        *channel
	cfg      streamCfg
	key      string // in c.streams
	audio    AudioSource
	period   time.Duration
	maxHeard int
	tlsCfg   *tls.Config

	notify   chan struct{} // wakes the writer
	gate     chan struct{} // closed once the connect event fired: the reader may act
	readDone chan struct{}

	mu         sync.Mutex
	ctl        []ctlMsg
	rec        Stream
	play       playout
	dialCancel context.CancelFunc // while connecting

	// Writer goroutine only.
	conn        net.Conn
	wbuf        []byte
	pcm         []int16
	pay         []byte
	paused      bool
	graceful    bool
	closeSent   bool
	detached    bool // stopped after graceful-shutdown: the socket stays open
	connectSent bool // the connect event fired
	peerDone    bool // the socket ended (server close or drop); buffered audio still plays
	gateClosed  bool
	deadlineSet time.Time
}

func newWSStream(sw *Switch, c *channel, cfg streamCfg, call *Call) *wsStream {
	st := &wsStream{sw: sw, c: c, cfg: cfg, audio: call.Audio, tlsCfg: sw.WSTLS,
		notify: make(chan struct{}, 1), gate: make(chan struct{}), readDone: make(chan struct{})}
	if st.audio == nil {
		st.audio = RecordedTone
	}
	st.period = max(sw.scaled(20*time.Millisecond), time.Microsecond)
	heard := sw.MaxHeard
	if heard == 0 {
		heard = 10 * time.Second
	}
	st.maxHeard = max(int(heard.Seconds()*float64(cfg.bidiRate)), 0)
	st.play.odd = -1
	st.rec = Stream{Module: cfg.mod.name, Bug: cfg.bug, URL: cfg.url, Mix: cfg.mix, Rate: cfg.rate,
		Metadata: cfg.meta, Bidirectional: cfg.bidi, BidiStream: cfg.bidiStream, Started: time.Now()}
	if cfg.bidi {
		st.rec.BidiRate = cfg.bidiRate
	}
	if cfg.mod == forkMod {
		st.rec.Subprotocol = forkSubprotocol
	}
	return st
}

// push hands a command to the writer; it never blocks. While the stream
// is still connecting, stop and hang-up abandon the attempt.
func (st *wsStream) push(m ctlMsg) {
	st.mu.Lock()
	st.ctl = append(st.ctl, m)
	if st.dialCancel != nil && st.abandonedLocked() {
		st.dialCancel()
	}
	st.mu.Unlock()
	select {
	case st.notify <- struct{}{}:
	default:
	}
}

func (st *wsStream) takeCtl() []ctlMsg {
	st.mu.Lock()
	defer st.mu.Unlock()
	m := st.ctl
	st.ctl = nil
	return m
}

// record returns the stream's record for the Result (after the goroutines ended).
func (st *wsStream) record() Stream {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.rec
}

// subclass names one of the module's events.
func (st *wsStream) subclass(what string) string { return st.cfg.mod.name + "::" + what }

// event fires a CUSTOM event and records it.
func (st *wsStream) event(what, body string) { st.fireEvent(what, body, false) }

// fireEvent is event, optionally detaching the bug with it.
func (st *wsStream) fireEvent(what, body string, detach bool) {
	sub := st.subclass(what)
	fired, delivered := st.c.fireCustom(st, sub, body, detach)
	if !fired {
		return
	}
	st.mu.Lock()
	st.rec.Events = append(st.rec.Events, CustomEvent{At: time.Now(), Subclass: sub, Body: body, Delivered: delivered})
	st.mu.Unlock()
}

func (st *wsStream) setEnd(end string) {
	st.mu.Lock()
	if st.rec.End == "" {
		st.rec.End = end
	}
	st.mu.Unlock()
}

// run is the writer goroutine: from start to the end of the socket.
func (st *wsStream) run(ctx context.Context) {
	br, err := st.connect(ctx)
	if err != nil {
		st.connectFailed(ctx, err)
		return
	}
	defer func() {
		st.openGate()
		_ = st.conn.Close()
		<-st.readDone
	}()
	// A write stuck on a server that stopped reading must not hold Run.
	stopAfter := context.AfterFunc(ctx, func() { _ = st.conn.SetWriteDeadline(time.Now().Add(runEndWait)) })
	defer stopAfter()
	go st.read(br)
	st.loop(ctx)
}

// connect dials and upgrades, within the connect timeout; stop, hang-up
// and the end of Run abandon it.
func (st *wsStream) connect(ctx context.Context) (*bufio.Reader, error) {
	timeout := st.sw.WSConnectTimeout
	if timeout <= 0 {
		timeout = defaultWSConnectTimeout
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st.mu.Lock()
	abandoned := st.abandonedLocked()
	st.dialCancel = cancel
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		st.dialCancel = nil
		st.mu.Unlock()
	}()
	if abandoned {
		return nil, context.Canceled
	}
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", st.cfg.addr)
	if err != nil {
		return nil, err
	}
	aborted := make(chan struct{})
	stopAbort := context.AfterFunc(dctx, func() {
		_ = conn.SetDeadline(time.Unix(1, 0))
		close(aborted)
	})
	defer stopAbort()
	if st.cfg.tls {
		cfg := st.tlsCfg.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = st.cfg.host
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = conn.Close()
			return nil, err
		}
		conn = tc
	}
	key := wsKey()
	var req []byte
	if st.cfg.mod == forkMod {
		req = forkRequest(st.cfg.host, st.cfg.path, key, st.cfg.tls)
	} else {
		req = streamRequest(st.cfg.hostport, st.cfg.path, key, st.cfg.tls)
	}
	st.mu.Lock()
	st.rec.Request = req
	st.mu.Unlock()
	br := bufio.NewReaderSize(conn, 4096)
	if _, err = conn.Write(req); err == nil {
		var resp wsResponse
		resp, err = readUpgrade(br, key, st.rec.Subprotocol)
		st.mu.Lock()
		st.rec.Status, st.rec.Accepted = resp.status, resp.protocol
		st.mu.Unlock()
	}
	if err == nil && !stopAbort() {
		// The upgrade completed as a stop, a hang-up or the timeout came:
		// the socket is up, and a queued stop or hang-up closes it in
		// loop. Only the end of Run abandons it now.
		<-aborted
		err = ctx.Err()
	}
	if err != nil {
		_ = conn.Close()
		if dctx.Err() != nil && ctx.Err() == nil && !st.abandoned() {
			err = &errHandshake{"timed out waiting for the server"}
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	st.conn = conn
	st.mu.Lock()
	st.rec.ConnectedAt = time.Now()
	st.mu.Unlock()
	return br, nil
}

// abandoned reports a stop or hang-up while connecting.
func (st *wsStream) abandoned() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.abandonedLocked()
}

// abandonedLocked is abandoned with st.mu held: a stop or hang-up anywhere
// in the queue, behind a send_text or pause too.
func (st *wsStream) abandonedLocked() bool {
	for _, m := range st.ctl {
		if m.kind == ctlStop || m.kind == ctlHangup {
			return true
		}
	}
	return false
}

// connectFailed reports the failure about 20 ms after start, as recorded
// (b, as-b): mod_audio_fork's connect_failed keeps the bug attached (stop
// still answers +OK); mod_audio_stream's error removes it.
func (st *wsStream) connectFailed(ctx context.Context, err error) {
	switch {
	case st.abandoned():
		for _, m := range st.takeCtl() {
			if m.kind == ctlStop {
				st.setEnd("stop")
			}
		}
		st.setEnd("hangup")
		return
	case ctx.Err() != nil:
		st.setEnd("run-end")
		return
	}
	st.mu.Lock()
	st.rec.ConnectError = err.Error()
	st.mu.Unlock()
	st.setEnd("connect-failed")
	t := time.NewTimer(time.Until(st.rec.Started.Add(st.sw.scaled(20 * time.Millisecond))))
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return
	}
	if st.cfg.mod == forkMod {
		st.event("connect_failed", `{"reason":"Unable to connect"}`)
		return
	}
	msg := "Connection refused (system error 111)"
	var he *errHandshake
	switch {
	case errors.As(err, &he):
		msg = "Handshake failed: " + he.reason
	case !errors.Is(err, syscall.ECONNREFUSED):
		msg = err.Error()
	}
	st.fireEvent("error", `{"status":"error","message":{"code":6,"error":`+jsonString(msg)+`}}`, true)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (st *wsStream) openGate() {
	if !st.gateClosed {
		st.gateClosed = true
		close(st.gate)
	}
}

// dueAt is when audio frame k leaves: 20 ms apart from the connection;
// mod_audio_stream's first two go together (as-*: #1 and #2 at +41 ms).
func (st *wsStream) dueAt(base time.Time, k int) time.Time {
	n := k + 1
	if st.cfg.mod == streamMod && n < 2 {
		n = 2
	}
	return base.Add(time.Duration(n) * st.period)
}

// loop runs the connected stream until it ends.
func (st *wsStream) loop(ctx context.Context) {
	base := st.rec.ConnectedAt
	if st.cfg.meta != "" {
		if !st.writeText(st.cfg.meta) {
			st.gone()
			return
		}
	}
	connectDue := st.rec.Started.Add(st.sw.scaled(20 * time.Millisecond))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	k := 0
	for {
		now := time.Now()
		if !st.connectSent && !now.Before(connectDue) {
			st.fireConnect()
		}
		n := 0
		for ; n < maxCatchUp && !now.Before(st.dueAt(base, k)); n++ {
			if !st.tick(k) {
				st.gone()
				if !st.playPending() {
					return
				}
			}
			k++
		}
		if st.peerDone && !st.playPending() {
			return
		}
		if n == maxCatchUp {
			// Far behind (a stalled machine): skip to now, as a real media
			// clock would lose those frames.
			for !now.Before(st.dueAt(base, k)) {
				k++
			}
		}
		wake := st.dueAt(base, k)
		if !st.connectSent && connectDue.Before(wake) {
			wake = connectDue
		}
		timer.Reset(time.Until(wake))
		select {
		case <-ctx.Done():
			// A stop or hang-up queued before Run ended still decides the
			// end: select picks among ready cases at random.
			if !st.handle(st.takeCtl(), runEndWait) {
				st.runEnd()
			}
			return
		case <-st.notify:
			if st.handle(st.takeCtl(), closeWait) {
				return
			}
		case <-timer.C:
		}
	}
}

// fireConnect reports the connection (once), about 20 ms after start as
// recorded; the server's messages are acted on only from then on.
func (st *wsStream) fireConnect() {
	if st.connectSent {
		return
	}
	st.connectSent = true
	if st.cfg.mod == forkMod {
		st.event("connect", "")
	} else {
		st.event("connect", `{"status":"connected"}`)
	}
	st.openGate()
}

// tick is one 20 ms period: the caller's audio frame (unless paused or
// shut down) and, for bidirectional forks, the playout of the server's
// audio. It reports false when the socket broke.
func (st *wsStream) tick(k int) bool {
	if !st.paused && !st.graceful && !st.closeSent && !st.peerDone {
		if !st.sendAudio(k) {
			return false
		}
	}
	if st.cfg.mod == forkMod && st.cfg.bidi {
		st.mu.Lock()
		marks := st.play.tick(st, st.cfg.bidiRate/50, st.c.writers.Load() > 0)
		st.mu.Unlock()
		if st.peerDone {
			return true // no socket to report marks on
		}
		for _, m := range marks {
			if !st.writeText(m) {
				return false
			}
		}
	}
	return true
}

// sendAudio writes audio frame k: L16 little-endian, 20 ms at the stream
// rate. Only the caller is simulated: mono and mixed carry the caller;
// stereo has the caller in channel 0 and silence in channel 1.
func (st *wsStream) sendAudio(k int) bool {
	n := st.cfg.rate / 50
	chans := 1
	if st.cfg.mix == "stereo" {
		chans = 2
	}
	if cap(st.pcm) < n {
		st.pcm = make([]int16, n)
	}
	pcm := st.pcm[:n]
	st.audio(st.cfg.rate, k*n, pcm)
	st.pay = st.pay[:0]
	for _, s := range pcm {
		st.pay = binary.LittleEndian.AppendUint16(st.pay, uint16(s))
		if chans == 2 {
			st.pay = append(st.pay, 0, 0)
		}
	}
	if !st.write(opBinary, st.pay) {
		return false
	}
	now := time.Now()
	st.mu.Lock()
	st.rec.AudioFrames++
	st.rec.AudioBytes += int64(len(st.pay))
	if st.rec.FirstAudioAt.IsZero() {
		st.rec.FirstAudioAt = now
	}
	st.rec.LastAudioAt = now
	st.mu.Unlock()
	return true
}

// write sends one frame; false when the socket is broken.
func (st *wsStream) write(op byte, payload []byte) bool {
	now := time.Now()
	if now.Sub(st.deadlineSet) > time.Second {
		st.deadlineSet = now
		_ = st.conn.SetWriteDeadline(now.Add(writeTimeout))
	}
	st.wbuf = AppendClientFrame(st.wbuf[:0], op, payload)
	_, err := st.conn.Write(st.wbuf)
	return err == nil
}

// writeText sends a text frame and records it.
func (st *wsStream) writeText(s string) bool {
	st.pay = append(st.pay[:0], s...)
	if !st.write(opText, st.pay) {
		return false
	}
	st.noteSent(WSFrame{Opcode: opText, Data: s, Len: len(s)})
	return true
}

func (st *wsStream) noteSent(f WSFrame) {
	st.mu.Lock()
	f.At = time.Now()
	f.Audio = st.rec.AudioFrames
	st.rec.Sent = append(st.rec.Sent, f)
	st.mu.Unlock()
}

// writeEmpty sends graceful-shutdown's zero-length binary frame.
func (st *wsStream) writeEmpty() bool {
	if !st.write(opBinary, nil) {
		return false
	}
	st.noteSent(WSFrame{Opcode: opBinary})
	return true
}

// writeClose sends a Close frame.
func (st *wsStream) writeClose(body []byte) bool {
	st.closeSent = true
	code, reason := ParseClose(body)
	if len(body) == 0 {
		code = 0
	}
	ok := st.write(opClose, body)
	if ok {
		st.noteSent(WSFrame{Opcode: opClose, Code: code, Data: reason, Len: len(body)})
		st.mu.Lock()
		st.rec.CloseSent = code
		st.mu.Unlock()
	}
	return ok
}

// playPending reports audio still buffered for the caller: after the
// socket ended the bug stays attached and keeps playing it (until stop or
// the hang-up).
func (st *wsStream) playPending() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.play.buf) > st.play.head
}

// handle runs the queued commands; true when the stream is over. wait
// bounds the wait for the server's answer to a Close (shorter as Run ends).
func (st *wsStream) handle(msgs []ctlMsg, wait time.Duration) bool {
	for _, m := range msgs {
		if st.peerDone {
			if m.kind == ctlStop || m.kind == ctlHangup {
				return true
			}
			continue
		}
		switch m.kind {
		case ctlText:
			if !st.closeSent && !st.writeText(m.text) {
				st.gone()
				return true
			}
		case ctlPause:
			st.paused = true
		case ctlResume:
			st.paused = false
		case ctlGraceful:
			if !st.graceful && !st.closeSent {
				// audio_pipe.cpp: "graceful shutdown - sending zero length
				// binary frame"; no more audio (d6, d7).
				st.graceful = true
				if !st.writeEmpty() {
					st.gone()
					return true
				}
			}
		case ctlPong:
			if !st.closeSent && !st.write(opPong, m.data) {
				st.gone()
				return true
			}
		case ctlStop, ctlHangup:
			end := "stop"
			if m.kind == ctlHangup {
				end = "hangup"
			}
			if st.detached || st.closeSent {
				continue
			}
			if m.hasText && !st.writeText(m.text) {
				st.gone()
				return true
			}
			if st.graceful {
				// d7: after graceful-shutdown the module sends another empty
				// frame and never closes, not even when the call ends.
				st.detached = true
				st.setEnd("left-open")
				if !st.writeEmpty() {
					st.gone()
					return true
				}
				continue
			}
			st.setEnd(end)
			st.closeAndWait(wait)
			return true
		case ctlPeerClose:
			st.peerClosed(m.data)
			return !st.playPending()
		case ctlPeerGone:
			st.gone()
			return !st.playPending()
		}
	}
	return false
}

// closeAndWait sends Close 1000 (mod_audio_stream: "Normal closure") and
// waits for the server's answer before the socket is closed.
func (st *wsStream) closeAndWait(wait time.Duration) {
	st.openGate()
	if !st.writeClose(ClosePayload(1000, st.cfg.mod.closeReason)) {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-st.readDone:
		// The reader queued the server's Close (or saw the end) before leaving.
		for _, m := range st.takeCtl() {
			if m.kind == ctlPeerClose {
				st.notePeerClose(m.data)
			}
		}
	case <-t.C:
	}
}

func (st *wsStream) notePeerClose(body []byte) {
	code, _ := ParseClose(body)
	st.mu.Lock()
	st.rec.CloseRecv = code
	st.mu.Unlock()
}

// peerClosed: the server sent Close. The module answers with the same
// body (c, as-c), and reports the disconnect if its bug is still there.
func (st *wsStream) peerClosed(body []byte) {
	st.fireConnect()
	st.peerDone = true
	st.notePeerClose(body)
	if !st.closeSent && !st.detached {
		st.writeClose(body)
	}
	st.setEnd("server-close")
	_ = st.conn.Close()
	if st.detached {
		return
	}
	if st.cfg.mod == forkMod {
		st.event("disconnect", "")
		return
	}
	code, reason := ParseClose(body)
	st.event("disconnect", `{"status":"disconnected","message":{"code":`+strconv.Itoa(code)+`,"reason":`+jsonString(reason)+`}}`)
}

// gone: the connection broke without a Close (c2).
func (st *wsStream) gone() {
	if st.peerDone {
		return
	}
	st.peerDone = true
	st.fireConnect()
	st.setEnd("dropped")
	_ = st.conn.Close()
	if st.detached || st.closeSent {
		return
	}
	if st.cfg.mod == forkMod {
		st.event("disconnect", "")
		return
	}
	// Not recorded for mod_audio_stream: the code of an abnormal closure.
	st.event("disconnect", `{"status":"disconnected","message":{"code":1006,"reason":""}}`)
}

// runEnd: Run is returning with the stream still up. The simulated call
// is over: Close 1000 as at a hang-up, unless graceful-shutdown left the
// socket to the server, which is then cut.
func (st *wsStream) runEnd() {
	if st.peerDone {
		return
	}
	if st.detached || st.graceful || st.closeSent {
		st.setEnd("left-open")
		return
	}
	st.setEnd("run-end")
	st.closeAndWait(runEndWait)
}

// read is the reader goroutine: it ends with the connection.
func (st *wsStream) read(br *bufio.Reader) {
	defer close(st.readDone)
	var buf, msg []byte
	var msgOp byte
	gated := false
	for {
		fin, op, p, err := readFrame(br, buf)
		if err != nil {
			st.push(ctlMsg{kind: ctlPeerGone})
			return
		}
		if cap(p) <= 64<<10 {
			buf = p[:0]
		}
		if !gated {
			<-st.gate
			gated = true
		}
		switch op {
		case opPing:
			st.push(ctlMsg{kind: ctlPong, data: bytes.Clone(p)})
		case opPong:
		case opClose:
			st.mu.Lock()
			code, reason := ParseClose(p)
			st.rec.Received = append(st.rec.Received, WSFrame{At: time.Now(), Opcode: opClose, Code: code, Data: reason,
				Len: len(p), Audio: st.rec.BinaryFrames})
			st.mu.Unlock()
			st.push(ctlMsg{kind: ctlPeerClose, data: bytes.Clone(p)})
			return
		case opText, opBinary:
			if !fin {
				msgOp, msg = op, append(msg[:0], p...)
				continue
			}
			st.onMessage(op, p)
		case opContinuation:
			msg = append(msg, p...)
			if len(msg) > maxServerFrame {
				st.push(ctlMsg{kind: ctlPeerGone})
				return
			}
			if fin {
				st.onMessage(msgOp, msg)
				msg = msg[:0]
			}
		default:
			st.push(ctlMsg{kind: ctlPeerGone})
			return
		}
	}
}

// onMessage handles one whole message from the server.
func (st *wsStream) onMessage(op byte, p []byte) {
	if op == opBinary {
		st.mu.Lock()
		st.rec.BinaryFrames++
		st.rec.BinaryBytes += int64(len(p))
		if st.cfg.mod == forkMod && st.cfg.bidi && st.cfg.bidiStream {
			// Played to the caller (d, d2); otherwise ignored (d3, as-d2).
			st.play.add(p, st.maxQueue())
		}
		st.mu.Unlock()
		return
	}
	text := string(p)
	st.mu.Lock()
	st.rec.Received = append(st.rec.Received, WSFrame{At: time.Now(), Opcode: opText, Data: text, Len: len(p), Audio: st.rec.BinaryFrames})
	st.mu.Unlock()
	if st.cfg.mod == forkMod {
		st.forkMessage(p)
		return
	}
	st.streamMessage(p)
}

func (st *wsStream) maxQueue() int { return 60 * st.cfg.bidiRate }

// forkMessage is mod_audio_fork's processIncomingMessage (transcript e):
// json -> ::json with the whole message; transcription, transfer, error,
// disconnect -> their event with the message's data; playAudio ->
// ::play_audio with the temp file; killAudio -> ::kill_audio, playback
// broken and the buffer cleared; mark and clearMarks feed the playout; no
// event for unknown types or text that is not a JSON object.
func (st *wsStream) forkMessage(p []byte) {
	var m struct {
		Type json.RawMessage `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if !isJSONObject(p) || json.Unmarshal(p, &m) != nil {
		return
	}
	typ := "json"
	var s string
	if json.Unmarshal(m.Type, &s) == nil {
		typ = s
	}
	switch typ {
	case "json":
		st.event("json", compactJSON(p))
	case "transcription", "transfer", "error", "disconnect":
		st.event(typ, compactJSON(m.Data))
	case "playAudio":
		if !isJSONObject(m.Data) {
			return
		}
		st.event("play_audio", st.tempFile(m.Data, "audioContentType", "audioContent"))
	case "killAudio":
		st.event("kill_audio", "")
		c := st.c
		c.mu.Lock()
		c.breakReq = 2 // CF_BREAK: the running playback stops
		c.mu.Unlock()
		c.poke()
		st.mu.Lock()
		st.play.kill = true
		st.mu.Unlock()
	case "mark":
		var d struct {
			Name *string `json:"name"`
		}
		if !st.cfg.bidi || json.Unmarshal(m.Data, &d) != nil || d.Name == nil {
			return
		}
		st.mu.Lock()
		st.play.mark(*d.Name)
		st.mu.Unlock()
	case "clearMarks":
		st.mu.Lock()
		st.play.marks = nil
		st.mu.Unlock()
	}
}

// streamMessage is mod_audio_stream's: streamAudio writes a file and
// fires ::play; every other text is ::json verbatim (as-e), binary
// frames are ignored (as-d2).
func (st *wsStream) streamMessage(p []byte) {
	var m struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if isJSONObject(p) && json.Unmarshal(p, &m) == nil && m.Type == "streamAudio" && isJSONObject(m.Data) {
		st.event("play", st.tempFile(m.Data, "audioDataType", "audioData"))
		return
	}
	st.event("json", string(p))
}

// tempFile writes (in the simulation: names and measures) the audio of a
// playAudio / streamAudio message and returns the event body: the data
// without the audio, plus "file" (d4, as-d).
func (st *wsStream) tempFile(data []byte, typeKey, audioKey string) string {
	pairs, ok := objectPairs(data)
	if !ok {
		return ""
	}
	var typ string
	var rate int
	var audio []byte
	hasAudio := false
	var b strings.Builder
	b.WriteByte('{')
	first := true
	for _, kv := range pairs {
		switch kv.key {
		case audioKey:
			var s string
			if json.Unmarshal(kv.val, &s) == nil {
				if dec, err := base64.StdEncoding.DecodeString(s); err == nil {
					audio, hasAudio = dec, true
				}
			}
			continue
		case typeKey:
			_ = json.Unmarshal(kv.val, &typ)
		case "sampleRate":
			_ = json.Unmarshal(kv.val, &rate)
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(jsonString(kv.key))
		b.WriteByte(':')
		b.WriteString(compactJSON(kv.val))
	}
	ext, bytesPerSec := "", 0
	switch typ {
	case "raw":
		if st.cfg.mod == forkMod {
			switch rate {
			case 8000, 16000, 24000, 32000, 48000, 64000:
			default:
				rate = 16000
			}
		}
		if rate <= 0 {
			rate = 8000
		}
		ext, bytesPerSec = ".r"+strconv.Itoa(rate/1000), 2*rate
	case "wav", "wave":
		ext = ".wav"
		if len(audio) >= 44 {
			bytesPerSec = int(binary.LittleEndian.Uint32(audio[28:32]))
			audio = audio[44:]
		}
	default:
		if st.cfg.mod == streamMod && typ != "" {
			ext = "." + typ
		}
	}
	if ext != "" && hasAudio {
		path := "/usr/local/fs/tmp/" + st.c.id.uuid + "_" + strconv.FormatUint(playCount.Add(1)-1, 10) + ".tmp" + ext
		if !first {
			b.WriteByte(',')
		}
		b.WriteString(`"file":` + jsonString(path))
		if bytesPerSec > 0 {
			st.c.mu.Lock()
			if st.c.tempFiles == nil {
				st.c.tempFiles = map[string]time.Duration{}
			}
			st.c.tempFiles[path] = time.Duration(len(audio)) * time.Second / time.Duration(bytesPerSec)
			st.c.mu.Unlock()
		}
	}
	b.WriteByte('}')
	return b.String()
}

type jsonPair struct {
	key string
	val json.RawMessage
}

// objectPairs reads a JSON object's members in order.
func objectPairs(data []byte) ([]jsonPair, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	var out []jsonPair
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, false
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		out = append(out, jsonPair{k, v})
	}
	return out, true
}

func isJSONObject(p []byte) bool {
	p = bytes.TrimSpace(p)
	return len(p) > 0 && p[0] == '{' && json.Valid(p)
}

// compactJSON is cJSON_PrintUnformatted of a parsed value ("" for none).
func compactJSON(p []byte) string {
	if len(bytes.TrimSpace(p)) == 0 {
		return ""
	}
	var b bytes.Buffer
	if json.Compact(&b, p) != nil {
		return ""
	}
	if b.String() == "null" {
		return ""
	}
	return b.String()
}

// playout is a bidirectional fork's buffer of server audio (lws_glue.cpp
// dub_speech_frame): played 20 ms per write of the channel, marks reported
// when reached, killAudio clears it at the next write.
type playout struct {
	buf          []int16
	head         int
	odd          int // a byte set aside from an odd-length frame, or -1
	recv, played int64
	marks        []pmark
	kill         bool
}

type pmark struct {
	pos  int64
	name string
}

func (p *playout) add(b []byte, maxQueue int) {
	i := 0
	if p.odd >= 0 && len(b) > 0 {
		p.push(int16(uint16(p.odd)|uint16(b[0])<<8), maxQueue)
		p.odd, i = -1, 1
	}
	for ; i+1 < len(b); i += 2 {
		p.push(int16(binary.LittleEndian.Uint16(b[i:])), maxQueue)
	}
	if i < len(b) {
		p.odd = int(b[i])
	}
}

func (p *playout) push(s int16, maxQueue int) {
	if len(p.buf)-p.head >= maxQueue {
		return
	}
	p.buf = append(p.buf, s)
	p.recv++
}

func (p *playout) mark(name string) {
	if len(p.marks) >= maxMarks {
		return // "mark count exceeded, discarding mark"
	}
	p.marks = append(p.marks, pmark{pos: p.recv, name: name})
}

func markText(name, event string) string {
	return `{"type": "mark", "data": {"name":"` + name + `", "event": "` + event + `"}}`
}

// tick plays one frame of n samples if something writes to the channel
// (d8: nothing does on a parked channel without send_silence_when_idle)
// and returns the mark reports to send. st.mu held.
func (p *playout) tick(st *wsStream, n int, writer bool) []string {
	if !writer {
		return nil
	}
	var out []string
	if p.kill {
		p.kill = false
		p.head = len(p.buf)
		p.recv = p.played
		for _, m := range p.marks {
			out = append(out, markText(m.name, "cleared"))
		}
		p.marks = nil
		p.compact()
		return out
	}
	take := min(len(p.buf)-p.head, n)
	seg := p.buf[p.head : p.head+take]
	p.head += take
	p.played += int64(take)
	rec := &st.rec
	rec.HeardSamples += int64(take)
	if room := st.maxHeard - len(rec.Heard); room > 0 {
		rec.Heard = append(rec.Heard, seg[:min(room, len(seg))]...)
	}
	for len(p.marks) > 0 && p.marks[0].pos <= p.played {
		out = append(out, markText(p.marks[0].name, "playout"))
		p.marks = p.marks[1:]
		if take == 0 {
			break // one inventory mark per frame when nothing plays
		}
	}
	p.compact()
	return out
}

func (p *playout) compact() {
	if p.head == len(p.buf) {
		p.buf, p.head = p.buf[:0], 0
		return
	}
	if p.head > 4096 && p.head*2 > len(p.buf) {
		n := copy(p.buf, p.buf[p.head:])
		p.buf, p.head = p.buf[:n], 0
	}
}
