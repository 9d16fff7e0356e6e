package fssim

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// message is one sendmsg waiting on the channel's private queue.
type message struct {
	cmd         string // call-command
	app, arg    string
	appUUID     string
	appUUIDName string
	loops       int
	eventLock   bool
	cause       string // hangup-cause
	enqueued    time.Time
}

func newMessage(p *packet) *message {
	m := &message{enqueued: time.Now(), loops: 1}
	m.cmd, _ = p.header("call-command")
	m.cmd = strings.ToLower(m.cmd)
	m.app, _ = p.header("execute-app-name")
	m.arg, _ = p.header("execute-app-arg")
	if ct, _ := p.header("content-type"); m.arg == "" && strings.EqualFold(ct, "text/plain") {
		m.arg = p.body
	}
	m.appUUID, _ = p.header("event-uuid")
	m.appUUIDName, _ = p.header("event-uuid-name")
	if v, ok := p.header("loops"); ok {
		m.loops = atoi(v)
	}
	if v, _ := p.header("event-lock"); switchTrue(v) {
		m.eventLock = true
	}
	m.cause, _ = p.header("hangup-cause")
	return m
}

// wake says why session.wait returned.
type wake uint8

const (
	wDeadline wake = iota
	wHangup        // the channel is down
	wClosed        // the socket is gone
	wBreak         // uuid_break
	wDigit         // a DTMF digit is queued
	wTransfer      // the channel was transferred
	wLeg           // a B-leg was killed
	wStop          // Run is over
)

type waitOpts struct {
	nest       bool // the app polls the private queue (playback, digits, bridge, park)
	digits     bool // return when a digit is queued
	keepDigits bool // queue digits without returning
	legs       bool // return when a B-leg was killed
}

// session is the channel's own thread: the socket application's park loop,
// the queued messages and the applications they run. Apps block in wait,
// which also plays the caller's side (hangup, DTMF) on time.
type session struct {
	sw   *Switch
	c    *channel
	call *Call
	ctx  context.Context
	done chan struct{}

	tick        time.Duration
	timer       *time.Timer
	connectedAt time.Time
	lastEnd     time.Time

	hangupAt      time.Time
	ringHangupAt  time.Time
	schedHangupAt time.Time
	schedCause    string
	dtmf          dtmfPlan
	xferSeen      bool

	bridges []Bridge
	apps    []AppRun
	legs    map[string]*leg // live B-legs by uuid, guarded by c.mu
	killed  bool            // a leg was killed since the last look, guarded by c.mu
}

func newSession(sw *Switch, c *channel, call *Call) *session {
	return &session{sw: sw, c: c, call: call, done: make(chan struct{}), tick: sw.tick(),
		dtmf: dtmfPlan{bursts: call.DTMF}, legs: map[string]*leg{}}
}

func (s *session) run(ctx context.Context) {
	defer close(s.done)
	s.ctx = ctx
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	defer s.timer.Stop()
	if s.call.HangupAfter > 0 {
		s.hangupAt = s.connectedAt.Add(s.sw.scaled(s.call.HangupAfter))
	}
	// switch_ivr_park runs once the connect reply is out (~1 ms in the
	// recordings); CHANNEL_PARK reaches the socket only if subscribed by then.
	if w := s.wait(time.Now().Add(s.sw.scaled(time.Millisecond)), waitOpts{}); w == wStop {
		return
	}
	c := s.c
	c.mu.Lock()
	if c.up && !c.closed && c.transferred == "" {
		c.fire(evPark, &evArgs{})
	}
	c.mu.Unlock()
	for {
		switch s.wait(time.Time{}, waitOpts{nest: true}) {
		case wHangup:
			s.endHangup()
			return
		case wClosed:
			s.endClosed()
			return
		case wTransfer:
			s.endTransfer()
			s.afterSocket()
			return
		case wStop:
			return
		}
	}
}

// wait blocks until deadline (zero: none) or something the caller must react
// to. Meanwhile it runs queued messages one per tick when o.nest allows
// (nested execution without event-lock), and plays the caller's side.
func (s *session) wait(deadline time.Time, o waitOpts) wake {
	c := s.c
	for {
		now := time.Now()
		c.mu.Lock()
		if c.armPending {
			c.armPending = false
			s.armDTMF(now, false)
		}
		var w wake
		pending := true
		switch {
		case !c.up:
			w = wHangup
		case c.closed:
			w = wClosed
		case c.transferred != "" && !s.xferSeen:
			s.xferSeen = true
			w = wTransfer
		case c.transferred != "" && o.nest:
			// Apps run after a transfer find the channel not ready.
			w = wTransfer
		case c.breakReq > 0:
			c.breakReq = 0
			w = wBreak
		case o.digits && len(c.digits) > 0:
			w = wDigit
		case o.legs && s.killed:
			s.killed = false
			w = wLeg
		default:
			pending = false
		}
		if pending {
			c.mu.Unlock()
			return w
		}
		if !deadline.IsZero() && !now.Before(deadline) {
			c.mu.Unlock()
			return wDeadline
		}
		var ready time.Time
		canRun := o.nest && c.eventLock == 0 && len(c.queue) > 0 && s.xferSeen == (c.transferred != "")
		if canRun {
			ready = c.queue[0].enqueued
			if s.lastEnd.After(ready) {
				ready = s.lastEnd
			}
			ready = ready.Add(s.tick)
		}
		c.mu.Unlock()
		if canRun && !now.Before(ready) {
			s.runNext()
			continue
		}
		next := deadline
		if canRun && (next.IsZero() || ready.Before(next)) {
			next = ready
		}
		for _, t := range [...]time.Time{s.hangupAt, s.ringHangupAt, s.schedHangupAt, s.nextDigit()} {
			if !t.IsZero() && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
		var timerC <-chan time.Time
		if !next.IsZero() {
			s.timer.Reset(max(next.Sub(now), 0))
			timerC = s.timer.C
		}
		select {
		case <-s.ctx.Done():
			s.timer.Stop()
			return wStop
		case <-c.wake:
		case <-timerC:
		}
		s.timer.Stop()
		s.callerEvents(time.Now(), o)
	}
}

// callerEvents performs what the caller does when its time has come.
func (s *session) callerEvents(now time.Time, o waitOpts) {
	c := s.c
	if !s.hangupAt.IsZero() && !now.Before(s.hangupAt) {
		s.hangupAt = time.Time{}
		s.callerHangup()
	}
	if !s.ringHangupAt.IsZero() && !now.Before(s.ringHangupAt) {
		s.ringHangupAt = time.Time{}
		s.callerHangup()
	}
	if !s.schedHangupAt.IsZero() && !now.Before(s.schedHangupAt) {
		s.schedHangupAt = time.Time{}
		c.mu.Lock()
		c.hangup(s.schedCause, "switch", false)
		c.mu.Unlock()
	}
	for t := s.nextDigit(); !t.IsZero() && !now.Before(t); t = s.nextDigit() {
		s.sendDigit(now, o)
	}
}

func (s *session) callerHangup() {
	c := s.c
	c.mu.Lock()
	cause := "NORMAL_CLEARING"
	if !c.answered {
		cause = "ORIGINATOR_CANCEL"
	}
	c.hangup(cause, "caller", true)
	c.mu.Unlock()
}

// runNext pops one queued message and parses it (switch_ivr_parse_event).
func (s *session) runNext() {
	c := s.c
	c.mu.Lock()
	if len(c.queue) == 0 {
		c.mu.Unlock()
		return
	}
	m := c.queue[0]
	c.queue[0] = nil
	c.queue = c.queue[1:]
	c.mu.Unlock()
	s.parse(m)
	s.lastEnd = time.Now()
}

func (s *session) parse(m *message) {
	c := s.c
	c.mu.Lock()
	if m.eventLock {
		c.eventLock++
	}
	c.mu.Unlock()
	defer func() {
		if m.eventLock {
			c.mu.Lock()
			c.eventLock--
			c.mu.Unlock()
		}
	}()
	switch m.cmd {
	case "execute":
		if m.app == "" {
			return
		}
		for x := 0; x < m.loops || m.loops < 0; x++ {
			c.mu.Lock()
			c.vars.set("current_loop", strconv.Itoa(x+1))
			c.vars.set("total_loops", strconv.Itoa(m.loops))
			c.mu.Unlock()
			b4 := time.Now()
			if !s.exec(m.app, m.arg, m.appUUID, m.appUUIDName) {
				break
			}
			c.mu.Lock()
			ready := c.up && c.transferred == ""
			c.mu.Unlock()
			if !ready || time.Since(b4) < s.sw.scaled(500*time.Millisecond) {
				break
			}
		}
		c.mu.Lock()
		c.vars.del("current_loop")
		c.vars.del("total_loops")
		c.mu.Unlock()
	case "hangup":
		c.mu.Lock()
		c.hangup(causeName(m.cause), "app", false)
		c.mu.Unlock()
	}
}

// exec is switch_core_session_execute_application + switch_core_session_exec:
// CHANNEL_EXECUTE, the app, CHANNEL_EXECUTE_COMPLETE. It returns false when
// the app did not run.
func (s *session) exec(app, arg, appUUID, appUUIDName string) bool {
	c := s.c
	c.mu.Lock()
	if !c.up {
		// Apps without the zombie-exec flag are skipped on a hung-up channel.
		c.mu.Unlock()
		return false
	}
	info, ok := lookupApp(app)
	if !ok {
		c.hangup("DESTINATION_OUT_OF_ORDER", "switch", false)
		c.mu.Unlock()
		return false
	}
	expanded := arg
	if v, _ := c.vars.get("app_disable_expand_variables"); !switchTrue(v) {
		expanded = expandVars(arg, c.getVar)
	}
	if info.media && !c.media {
		// "Application %s Requires media! pre_answering channel"
		s.preAnswer()
	}
	if appUUID == "" {
		appUUID = NewUUID()
	}
	c.vars.set("current_application", app)
	c.vars.set("current_application_data", expanded)
	c.vars.del("current_application_response")
	c.lastApp, c.lastArg = app, expanded
	c.fire(evExecute, &evArgs{app: app, appData: expanded, appUUID: appUUID, appUUIDName: appUUIDName})
	c.vars.set("current_application", app)
	c.mu.Unlock()

	run := AppRun{App: app, Arg: expanded, UUID: appUUID, Start: time.Now()}
	info.fn(s, expanded)

	c.mu.Lock()
	resp, ok := c.vars.get("current_application_response")
	if !ok {
		resp = "_none_"
	}
	run.End, run.Response = time.Now(), resp
	s.apps = append(s.apps, run)
	c.fire(evExecuteComplete, &evArgs{app: app, appData: expanded, appResp: resp, appUUID: appUUID, appUUIDName: appUUIDName})
	if c.ackPending {
		c.ackPending = false
		s.applyAck()
	}
	c.mu.Unlock()
	return true
}

// socketComplete ends the socket application: CHANNEL_UNPARK when the park
// loop ends, queued messages, then its CHANNEL_EXECUTE_COMPLETE. c.mu held.
func (s *session) socketCompleteLocked() {
	c := s.c
	resp, ok := c.vars.get("current_application_response")
	if !ok {
		resp = "_none_"
	}
	c.fire(evExecuteComplete, &evArgs{app: "socket", appData: c.socketData, appResp: resp, appUUID: c.socketUUID})
	c.socketDone = true
}

// endHangup is the rest of the hangup as recorded: CHANNEL_UNPARK, the
// socket app's completion, CHANNEL_STATE CS_HANGUP and CS_REPORTING,
// CHANNEL_HANGUP_COMPLETE, then the linger notice.
func (s *session) endHangup() {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.digits = nil
	if !c.socketDone {
		c.fire(evUnpark, &evArgs{})
		c.queue = nil
		s.socketCompleteLocked()
	}
	c.running = "CS_HANGUP"
	c.fire(evChannelState, &evArgs{})
	now := time.Now().UnixMicro()
	c.t.hangup = now
	if c.other != nil && c.other.hangup == 0 {
		c.other.hangup = now
	}
	c.running, c.stateNum, c.callState = "CS_REPORTING", 11, "HANGUP"
	c.setCDR(now)
	c.fire(evChannelState, &evArgs{now: now})
	c.fire(evHangupComplete, &evArgs{now: now})
	if c.lingerAtDown {
		c.push(outItem{kind: outDown, linger: true})
	}
}

// endClosed: the controller went away with the channel up. The park loop
// ends (CF_CONTROLLED cleared), the queued messages are parsed one last time
// (MES:544) and the socket app returns, so the dialplan continues. Only the
// messages that decide the call's fate are run; the first one that would
// take time stops it.
func (s *session) endClosed() {
	c := s.c
	c.mu.Lock()
	q := c.queue
	c.queue = nil
	c.mu.Unlock()
	for _, m := range q {
		if m.cmd == "execute" && !instantApp(m.app) {
			break
		}
		s.parse(m)
	}
	c.mu.Lock()
	if !c.socketDone {
		s.socketCompleteLocked()
	}
	c.mu.Unlock()
}

// endTransfer: the transfer made the channel not ready, the park loop ends,
// the queued messages run once (apps return at once), the socket app
// returns and the channel routes to the new extension.
func (s *session) endTransfer() {
	c := s.c
	c.mu.Lock()
	c.fire(evUnpark, &evArgs{})
	c.mu.Unlock()
	for {
		c.mu.Lock()
		more := len(c.queue) > 0 && c.up && !c.closed
		c.mu.Unlock()
		if !more {
			break
		}
		s.runNext()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.up {
		return
	}
	s.socketCompleteLocked()
	c.running, c.stateNum, c.callState = "CS_ROUTING", 2, "RINGING"
	c.fire(evChannelState, &evArgs{})
	c.running, c.stateNum = "CS_EXECUTE", 4
	switch {
	case c.answered:
		c.callState = "ACTIVE"
	case c.early:
		c.callState = "EARLY"
	}
	c.fire(evChannelState, &evArgs{})
}

// afterSocket keeps the channel in its new extension until it ends or the
// socket closes; the socket stays open until the outbound server leaves.
func (s *session) afterSocket() {
	for {
		switch s.wait(time.Time{}, waitOpts{}) {
		case wHangup:
			s.endHangup()
			return
		case wClosed, wStop:
			return
		}
	}
}
