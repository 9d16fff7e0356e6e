package fssim

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// times are the caller profile timestamps (microseconds since the epoch, 0 =
// not yet), as in the Caller-Channel-*-Time headers.
type times struct {
	created, answered, progress, progressMedia, hangup, transfer, bridged int64
}

// otherLeg is the B-leg of the last bridge, shown as Other-Leg-* headers.
type otherLeg struct {
	uuid, user, chanName string // URL-encoded
	created, answered    int64
	progress, hangup     int64
}

// evArgs are the per-event values that are not channel state.
type evArgs struct {
	now                                         int64 // µs, Event-Date-Timestamp
	app, appData, appResp, appUUID, appUUIDName string
	digit                                       byte
	digitDur                                    int
	jobUUID, jobCmd, jobArg                     string
	body                                        string // BACKGROUND_JOB output, CUSTOM body
	subclass, file, line                        string // CUSTOM: Event-Subclass, calling file and line
}

type outKind uint8

const (
	outEvent outKind = iota
	outDown          // the channel went down: linger notice or disconnect
)

// outItem is a message queued for the socket by the channel side.
type outItem struct {
	kind   outKind
	name   string // event name
	data   []byte // bytes to write
	full   []byte // backing buffer, reused after the write
	linger bool   // for outDown: linger was on when the channel went down
}

// channel is the controlled A-leg. Every field is guarded by mu: the listener
// (commands, api) and the session (park loop, apps) both change it, and
// events are rendered under the lock at the moment they fire, so their order
// and content match the order of the changes.
type channel struct {
	mu   sync.Mutex
	tm   *templates
	id   identity // decoded values of this call
	full bool     // socket mode full (else single-channel)

	// URL-encoded values of the slots that change per call.
	enc struct {
		uuid, chanName, cidName, cidNum, dest, context, calleeName, calleeNum string
	}
	vars      varList
	running   string // Channel-State: the running state name
	stateNum  int    // Channel-State-Number
	callState string
	answer    string // Answer-State
	cause     string // Hangup-Cause
	t         times
	other     *otherLeg
	seq       uint64 // Event-Sequence

	dateSec            int64
	dateLocal, dateGMT []byte

	// The socket side.
	sub          subscription
	out          []outItem     // queued for the listener
	outNotify    chan struct{} // wakes the listener
	free         [][]byte      // event buffers to reuse
	lingerOn     bool
	linger       int  // seconds, -1 = forever
	lingerAtDown bool // linger was on when the channel went down
	discard      bool // events after a no-linger hangup are lost
	closed       bool // the socket is gone
	connected    bool // connect was processed

	// The session side.
	wake        chan struct{} // wakes the session
	queue       []*message    // the private event queue (sendmsg)
	eventLock   int           // messages holding event-lock
	breakReq    int           // 1 = uuid_break, 2 = uuid_break all
	digits      []byte        // DTMF waiting for a reader
	up          bool          // not hung up
	hungUpBy    string
	media       bool // answered or early media
	ringReady   bool
	answered    bool
	early       bool
	ackPending  bool // the ACK's variables follow the answer's completion
	transferred string
	socketDone  bool // the socket application returned
	socketData  string
	socketUUID  string // Application-UUID of the socket application
	lastApp     string
	lastArg     string
	armPending  bool // media came up outside the session (api): arm the DTMF plan

	// Audio streams (media.go): attached bugs by module and bug name, all
	// streams started, and what the channel writes: bidirectional forks
	// play only while something writes (send_silence_when_idle, playback).
	streams        map[string]*wsStream
	allStreams     []*wsStream
	silenceChecked bool
	writers        atomic.Int32
	tempFiles      map[string]time.Duration // playAudio/streamAudio files and their length
}

const hdrRoom = 64 // room left before an event body for its framing header

func (c *channel) getBuf() []byte {
	if n := len(c.free); n > 0 {
		b := c.free[n-1]
		c.free = c.free[:n-1]
		return b[:0]
	}
	return make([]byte, 0, 12<<10)
}

func (c *channel) putBuf(b []byte) {
	if cap(b) <= 64<<10 && len(c.free) < 8 {
		c.free = append(c.free, b[:0])
	}
}

// fire renders and queues an event if the socket subscribed to it; callers
// hold c.mu. Like FreeSWITCH, the event carries the channel state of this
// moment, and Event-Sequence advances whether or not anyone listens. It
// reports whether the event was queued for the socket.
func (c *channel) fire(t evType, a *evArgs) bool {
	c.seq++
	if c.closed || c.discard || !c.sub.wants(t, a.subclass) {
		return false
	}
	tp := c.tm.byType[t]
	if tp == nil {
		return false
	}
	if a.now == 0 {
		a.now = time.Now().UnixMicro()
	}
	full := c.getBuf()
	data := c.renderEvent(full, tp, a)
	if len(c.sub.filters) > 0 {
		body := data[headerLen(data):]
		if !c.sub.passFilters(func(name string) (string, bool) { return headerOf(body, name) }) {
			c.putBuf(full)
			return false
		}
	}
	c.push(outItem{kind: outEvent, name: tp.name, data: data, full: full})
	return true
}

func (c *channel) push(it outItem) {
	c.out = append(c.out, it)
	select {
	case c.outNotify <- struct{}{}:
	default:
	}
}

func (c *channel) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// headerLen is the length of "Content-Length: N\nContent-Type: ...\n\n".
func headerLen(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '\n' && b[i+1] == '\n' {
			return i + 2
		}
	}
	return len(b)
}

// renderEvent writes the framed event into buf in one pass: the body is
// rendered after hdrRoom bytes, then the framing header is copied in front.
func (c *channel) renderEvent(buf []byte, tp *evTmpl, a *evArgs) []byte {
	buf = buf[:hdrRoom]
	buf = c.renderBody(buf, tp, a)
	if a.body != "" {
		buf = append(buf, "Content-Length: "...)
		buf = strconv.AppendInt(buf, int64(len(a.body)), 10)
		buf = append(buf, "\n\n"...)
		buf = append(buf, a.body...)
	} else {
		buf = append(buf, '\n')
	}
	var h [hdrRoom]byte
	hb := append(h[:0], "Content-Length: "...)
	hb = strconv.AppendInt(hb, int64(len(buf)-hdrRoom), 10)
	hb = append(hb, "\nContent-Type: text/event-plain\n\n"...)
	start := hdrRoom - len(hb)
	copy(buf[start:], hb)
	return buf[start:]
}

func (c *channel) renderBody(dst []byte, tp *evTmpl, a *evArgs) []byte {
	dst = c.renderLines(dst, tp.lines, a)
	if tp.vars {
		dst = c.vars.appendLines(dst)
	}
	return c.renderLines(dst, tp.tail, a)
}

func (c *channel) renderLines(dst []byte, lines []tline, a *evArgs) []byte {
	for i := range lines {
		ln := &lines[i]
		if ln.other && c.other == nil {
			continue
		}
		if ln.slot == sLit {
			dst = append(dst, ln.text...)
			continue
		}
		start := len(dst)
		dst = append(dst, ln.text...)
		n := len(dst)
		dst = c.appendSlot(dst, ln.slot, a)
		if len(dst) == n && omitEmpty(ln.slot) {
			dst = dst[:start]
			continue
		}
		dst = append(dst, '\n')
	}
	return dst
}

func (c *channel) appendSlot(dst []byte, s slot, a *evArgs) []byte {
	switch s {
	case sDateLocal:
		c.refreshDate(a.now)
		return append(dst, c.dateLocal...)
	case sDateGMT:
		c.refreshDate(a.now)
		return append(dst, c.dateGMT...)
	case sDateTS:
		return strconv.AppendInt(dst, a.now, 10)
	case sSeq:
		return strconv.AppendUint(dst, c.seq, 10)
	case sState:
		return append(dst, c.running...)
	case sCallState:
		return append(dst, c.callState...)
	case sStateNum:
		return strconv.AppendInt(dst, int64(c.stateNum), 10)
	case sAnswerState:
		return append(dst, c.answer...)
	case sHangupCause:
		return append(dst, c.cause...)
	case sUUID:
		return append(dst, c.enc.uuid...)
	case sChanName:
		return append(dst, c.enc.chanName...)
	case sCIDName:
		return append(dst, c.enc.cidName...)
	case sCIDNum:
		return append(dst, c.enc.cidNum...)
	case sDest:
		return append(dst, c.enc.dest...)
	case sContext:
		return append(dst, c.enc.context...)
	case sCalleeName:
		return append(dst, c.enc.calleeName...)
	case sCalleeNum:
		return append(dst, c.enc.calleeNum...)
	case sCreated:
		return strconv.AppendInt(dst, c.t.created, 10)
	case sAnswered:
		return strconv.AppendInt(dst, c.t.answered, 10)
	case sProgress:
		return strconv.AppendInt(dst, c.t.progress, 10)
	case sProgressMedia:
		return strconv.AppendInt(dst, c.t.progressMedia, 10)
	case sHangupTime:
		return strconv.AppendInt(dst, c.t.hangup, 10)
	case sTransferTime:
		return strconv.AppendInt(dst, c.t.transfer, 10)
	case sBridged:
		return strconv.AppendInt(dst, c.t.bridged, 10)
	case sControl:
		if c.full {
			return append(dst, "full"...)
		}
		return append(dst, "single-channel"...)
	case sSocketMode:
		return append(dst, "async"...)
	case sApp:
		return appendURLEncode(dst, a.app)
	case sAppData:
		return appendURLEncode(dst, a.appData)
	case sAppResp:
		return appendURLEncode(dst, a.appResp)
	case sAppUUID:
		return appendURLEncode(dst, a.appUUID)
	case sAppUUIDName:
		return appendURLEncode(dst, a.appUUIDName)
	case sDigit:
		return appendURLEncode(dst, string(a.digit))
	case sDigitDur:
		return strconv.AppendInt(dst, int64(a.digitDur), 10)
	case sJobUUID:
		return appendURLEncode(dst, a.jobUUID)
	case sJobOwner:
		return append(dst, c.enc.uuid...)
	case sJobCmd:
		return appendURLEncode(dst, a.jobCmd)
	case sJobArg:
		return appendURLEncode(dst, a.jobArg)
	case sSubclass:
		return appendURLEncode(dst, a.subclass)
	case sCallFile:
		return append(dst, a.file...)
	case sCallLine:
		return append(dst, a.line...)
	}
	if o := c.other; o != nil {
		switch s {
		case sOtherUUID:
			return append(dst, o.uuid...)
		case sOtherUser:
			return append(dst, o.user...)
		case sOtherChan:
			return append(dst, o.chanName...)
		case sOtherCreated:
			return strconv.AppendInt(dst, o.created, 10)
		case sOtherAnswered:
			return strconv.AppendInt(dst, o.answered, 10)
		case sOtherProgress:
			return strconv.AppendInt(dst, o.progress, 10)
		case sOtherHangup:
			return strconv.AppendInt(dst, o.hangup, 10)
		}
	}
	return dst
}

// refreshDate caches the encoded Event-Date-Local/GMT strings per second.
func (c *channel) refreshDate(us int64) {
	sec := us / 1e6
	if sec == c.dateSec && c.dateLocal != nil {
		return
	}
	c.dateSec = sec
	t := time.Unix(sec, 0)
	var tmp [40]byte
	c.dateLocal = appendURLEncode(c.dateLocal[:0], string(t.AppendFormat(tmp[:0], "2006-01-02 15:04:05")))
	c.dateGMT = appendURLEncode(c.dateGMT[:0], string(t.UTC().AppendFormat(tmp[:0], "Mon, 02 Jan 2006 15:04:05 GMT")))
}

// getVar is switch_channel_get_variable: a channel variable, else a caller
// profile field.
func (c *channel) getVar(name string) (string, bool) {
	if v, ok := c.vars.get(name); ok {
		return v, true
	}
	switch name {
	case "caller_id_name", "orig_caller_id_name":
		return c.id.cidName, true
	case "caller_id_number", "orig_caller_id_number", "ani", "username":
		return c.id.cidNum, true
	case "destination_number":
		return c.id.dest, true
	case "context":
		return c.id.context, true
	case "uuid":
		return c.id.uuid, true
	case "dialplan":
		return "XML", true
	case "source":
		return "mod_sofia", true
	case "network_addr":
		return "127.0.0.1", true
	case "chan_name":
		return urlDecode(c.enc.chanName), true
	case "profile_index":
		return "1", true
	}
	return "", false
}

// setCallee sets the caller profile callee id (shown once a B-leg rang).
func (c *channel) setCallee(name, number string) {
	c.enc.calleeName = urlEncode(name)
	c.enc.calleeNum = urlEncode(number)
}
