package fssim

import (
	"strconv"
	"strings"
	"time"
)

// leg is one B-leg being originated or bridged.
type leg struct {
	uuid, target, user, chanName string
	out                          Outcome
	start                        time.Time
	ringing                      bool
	answerAt, failAt, timeoutAt  time.Time
	done                         bool
	cause                        string
	sipCode                      int
	killed                       string // cause of a uuid_kill, guarded by c.mu
}

type sipFailure struct {
	code          int
	phrase, cause string
}

// sipFailureOf is how sofia reports a failed INVITE for each outcome.
func sipFailureOf(k Kind) (sipFailure, bool) {
	switch k {
	case Busy:
		return sipFailure{486, "Busy Here", "USER_BUSY"}, true
	case Unreachable:
		return sipFailure{503, "Service Unavailable", "NORMAL_TEMPORARY_FAILURE"}, true
	case Reject:
		return sipFailure{403, "Forbidden", "CALL_REJECTED"}, true
	case NotFound:
		return sipFailure{404, "Not Found", "UNALLOCATED_NUMBER"}, true
	}
	return sipFailure{}, false
}

// dialStatus is the DIALSTATUS switch_ivr_originate sets for a cause.
func dialStatus(cause string) string {
	switch cause {
	case "ORIGINATOR_CANCEL":
		return "CANCEL"
	case "USER_BUSY":
		return "BUSY"
	case "NO_ANSWER":
		return "NOANSWER"
	case "DESTINATION_OUT_OF_ORDER", "INVALID_PROFILE":
		return "INVALIDARGS"
	case "CALL_REJECTED":
		return "DONTCALL"
	}
	return cause
}

// outcomeFor is the first Target matching the endpoint; Answer if none does.
func (s *session) outcomeFor(target string) Outcome {
	for _, t := range s.sw.Targets {
		if strings.Contains(target, t.Match) {
			return t.Outcome
		}
	}
	return Outcome{Kind: Answer}
}

// legAlive reports a live B-leg (c.mu held).
func (s *session) legAlive(uuid string) bool {
	return uuid != "" && s.legs[uuid] != nil
}

// legAliveLocking is legAlive taking c.mu.
func (s *session) legAliveLocking(uuid string) bool {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.legAlive(uuid)
}

// killLegLocked hangs a B-leg up (uuid_kill); c.mu held.
func (s *session) killLegLocked(uuid, cause string) {
	if l := s.legs[uuid]; l != nil && l.killed == "" {
		l.killed = causeName(cause)
		s.killed = true
		s.c.poke()
	}
}

type groupResult int

const (
	groupFailed groupResult = iota
	groupAnswered
	groupCanceled // the caller hung up (or was transferred) while ringing
	groupAborted  // the socket closed: nobody is listening any more
)

// bridge is the bridge application: originate the dial string, then bridge
// the caller to the leg that answered until one side hangs up.
func (s *session) bridge(arg string) {
	c := s.c
	ds := parseDialString(arg)
	rec := Bridge{DialString: arg, Endpoints: ds.targets(), Vars: ds.global, Start: time.Now()}
	defer func() {
		rec.End = time.Now()
		s.bridges = append(s.bridges, rec)
	}()
	if len(ds.groups) == 0 {
		return
	}
	c.mu.Lock()
	c.vars.del("sip_invite_failure_status")
	c.vars.del("sip_invite_failure_phrase")
	// Placeholders until the originate ends (seen mid-bridge in d2).
	c.vars.set("originate_disposition", "failure")
	c.vars.set("DIALSTATUS", "INVALIDARGS")
	c.mu.Unlock()

	var (
		res    groupResult
		legs   []*leg
		winner *leg
		cause  string
	)
	for gi, group := range ds.groups {
		res, legs, winner, cause = s.originate(group, ds.global, gi == 0)
		if res != groupFailed {
			break
		}
	}
	if res == groupAborted {
		return
	}
	if winner != nil {
		rec.BLeg = winner.uuid
	} else if len(legs) > 0 {
		rec.BLeg = legs[len(legs)-1].uuid
	}
	c.mu.Lock()
	if c.up {
		switch {
		case c.answered:
			c.callState = "ACTIVE"
		case c.early:
			c.callState = "EARLY"
		default:
			c.callState = "RINGING"
		}
	}
	if res != groupAnswered {
		if res == groupCanceled {
			cause = "ORIGINATOR_CANCEL"
		}
		c.vars.set("originate_disposition", cause)
		c.vars.set("DIALSTATUS", dialStatus(cause))
		for _, l := range legs {
			c.vars.push("originate_causes", l.uuid+";"+l.cause)
		}
		c.vars.set("originate_failed_cause", cause)
		rec.Outcome = cause
		s.handleCause(cause)
		c.mu.Unlock()
		return
	}
	rec.Outcome, rec.Answered, rec.AnsweredAt = "SUCCESS", true, time.Now()
	s.bridged(winner, legs)
	c.mu.Unlock()
	s.talk(winner)
}

// originate rings one group of legs at once until one answers, all fail,
// the originate times out or the caller goes away.
func (s *session) originate(group []dialEndpoint, global map[string]string, first bool) (groupResult, []*leg, *leg, string) {
	c := s.c
	start := time.Now()
	timeout := 60
	if v, ok := global["originate_timeout"]; ok && atoi(v) > 0 {
		timeout = atoi(v)
	}
	groupDeadline := start.Add(s.sw.scaled(time.Duration(timeout) * time.Second))
	legs := make([]*leg, 0, len(group))
	ringing := false
	c.mu.Lock()
	for i, ep := range group {
		l := &leg{target: ep.target, start: start, out: s.outcomeFor(ep.target)}
		l.user, l.chanName = legNames(ep.target)
		l.uuid = ep.vars["origination_uuid"]
		if v, ok := global["origination_uuid"]; l.uuid == "" && ok && first && i == 0 {
			l.uuid = v
		}
		if l.uuid == "" || s.legs[l.uuid] != nil {
			l.uuid = NewUUID()
		}
		lt := atoi(ep.vars["leg_timeout"])
		if lt <= 0 {
			lt = atoi(global["leg_timeout"])
		}
		if lt > 0 {
			l.timeoutAt = start.Add(s.sw.scaled(time.Duration(lt) * time.Second))
		}
		switch l.out.Kind {
		case NoAnswer:
			l.ringing = true
		case Busy, Unreachable, Reject, NotFound:
			after := l.out.After
			if after <= 0 {
				after = 20 * time.Millisecond
			}
			l.failAt = start.Add(s.sw.scaled(after))
		default:
			after := l.out.After
			if after <= 0 {
				after = 520 * time.Millisecond
			}
			l.ringing, l.answerAt = true, start.Add(s.sw.scaled(after))
		}
		ringing = ringing || l.ringing
		s.legs[l.uuid] = l
		legs = append(legs, l)
		c.vars.set("originate_signal_bond", l.uuid)
		c.vars.push("originated_legs", l.uuid+";Outbound Call;"+l.user)
	}
	if ringing {
		// The first ringing leg: 180 from the B-leg.
		for _, l := range legs {
			if l.ringing {
				c.setCallee("Outbound Call", l.user)
				break
			}
		}
		if c.t.progress == 0 {
			c.t.progress = start.UnixMicro()
		}
		if !c.answered && !c.early {
			s.ringReadyLocked()
		}
		c.callState = "RING_WAIT"
		if s.call.HangupWhileRinging > 0 {
			s.ringHangupAt = start.Add(s.sw.scaled(s.call.HangupWhileRinging))
		}
	}
	c.mu.Unlock()
	defer func() { s.ringHangupAt = time.Time{} }()

	for {
		next := groupDeadline
		for _, l := range legs {
			if l.done {
				continue
			}
			for _, t := range [...]time.Time{l.answerAt, l.failAt, l.timeoutAt} {
				if !t.IsZero() && t.Before(next) {
					next = t
				}
			}
		}
		w := s.wait(next, waitOpts{nest: true, legs: true})
		now := time.Now()
		c.mu.Lock()
		switch w {
		case wHangup, wTransfer:
			for _, l := range legs {
				s.endLeg(l, "ORIGINATOR_CANCEL", false)
			}
			c.mu.Unlock()
			return groupCanceled, legs, nil, "ORIGINATOR_CANCEL"
		case wClosed, wStop:
			for _, l := range legs {
				s.endLeg(l, "ORIGINATOR_CANCEL", false)
			}
			c.mu.Unlock()
			return groupAborted, legs, nil, ""
		}
		var winner *leg
		for _, l := range legs {
			switch {
			case l.done:
			case l.killed != "":
				s.endLeg(l, l.killed, true)
			case !l.answerAt.IsZero() && !now.Before(l.answerAt) && (l.timeoutAt.IsZero() || l.answerAt.Before(l.timeoutAt)):
				if winner == nil {
					winner = l
				}
			case !l.failAt.IsZero() && !now.Before(l.failAt):
				f, _ := sipFailureOf(l.out.Kind)
				l.sipCode = f.code
				s.endLeg(l, f.cause, true)
			case !l.timeoutAt.IsZero() && !now.Before(l.timeoutAt):
				s.endLeg(l, "ALLOTTED_TIMEOUT", true)
			}
		}
		if winner != nil {
			for _, l := range legs {
				if l != winner && !l.done {
					s.endLeg(l, "LOSE_RACE", false)
				}
			}
			c.mu.Unlock()
			return groupAnswered, legs, winner, "SUCCESS"
		}
		if !now.Before(groupDeadline) {
			for _, l := range legs {
				if !l.done {
					s.endLeg(l, "NO_ANSWER", true)
				}
			}
			c.mu.Unlock()
			return groupFailed, legs, nil, "NO_ANSWER"
		}
		all := true
		for _, l := range legs {
			all = all && l.done
		}
		c.mu.Unlock()
		if all {
			return groupFailed, legs, nil, legs[0].cause
		}
	}
}

// endLeg records a leg's end; report sets the variables sofia leaves on the
// A-leg when the B-leg hangs up (not for a cancel or a lost race). c.mu held.
func (s *session) endLeg(l *leg, cause string, report bool) {
	if l.done {
		return
	}
	l.done, l.cause = true, cause
	delete(s.legs, l.uuid)
	if !report || !s.c.up {
		return
	}
	v := &s.c.vars
	if f, ok := sipFailureOf(l.out.Kind); ok && l.sipCode != 0 {
		v.set("sip_invite_failure_status", strconv.Itoa(f.code))
		v.set("sip_invite_failure_phrase", f.phrase)
		v.set("sip_hangup_phrase", f.phrase)
		v.set("last_bridge_hangup_cause", cause)
		v.set("last_bridge_proto_specific_hangup_cause", "sip:"+strconv.Itoa(f.code))
		return
	}
	v.set("last_bridge_hangup_cause", cause)
}

// bridged connects the caller to the leg that answered: the A-leg is
// answered if it was not, the originate variables settle, CHANNEL_BRIDGE
// fires with the Other-Leg headers. c.mu held.
func (s *session) bridged(w *leg, legs []*leg) {
	c := s.c
	now := time.Now()
	if !c.answered {
		s.answerLocked()
	}
	for _, n := range [...]string{"switch_m_sdp", "video_media_flow", "text_media_flow", "audio_media_flow"} {
		c.setRecorded(n)
	}
	c.vars.set("originate_disposition", "SUCCESS")
	c.vars.set("DIALSTATUS", "SUCCESS")
	for _, l := range legs {
		cause := "NONE"
		if l != w {
			cause = l.cause
		}
		c.vars.push("originate_causes", l.uuid+";"+cause)
	}
	c.vars.del("originate_signal_bond")
	c.vars.set("signal_bond", w.uuid)
	c.setCallee("Outbound Call", w.user)
	o := &otherLeg{uuid: urlEncode(w.uuid), user: urlEncode(w.user), chanName: urlEncode(w.chanName),
		created: w.start.UnixMicro(), answered: now.UnixMicro()}
	if w.ringing {
		o.progress = o.created
	}
	c.other = o
	c.t.bridged = now.UnixMicro()
	c.callState = "ACTIVE"
	c.fire(evBridge, &evArgs{now: c.t.bridged})
}

// talk waits for the end of the bridged call: the AI leg hanging up after
// TalkFor, a uuid_kill of it, the caller hanging up or a transfer.
func (s *session) talk(w *leg) {
	c := s.c
	var end time.Time
	if w.out.TalkFor > 0 {
		end = w.answerAt.Add(s.sw.scaled(w.out.TalkFor))
	}
	cause := "NORMAL_CLEARING"
loop:
	for {
		switch s.wait(end, waitOpts{nest: true, legs: true}) {
		case wDeadline, wHangup:
			break loop
		case wTransfer:
			cause = "BLIND_TRANSFER"
			break loop
		case wLeg:
			c.mu.Lock()
			k := w.killed
			c.mu.Unlock()
			if k != "" {
				cause = k
				break loop
			}
		case wClosed, wStop:
			c.mu.Lock()
			delete(s.legs, w.uuid)
			c.mu.Unlock()
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(s.legs, w.uuid)
	v := &c.vars
	v.set("last_bridge_to", w.uuid)
	v.set("bridge_channel", w.chanName)
	v.set("bridge_uuid", w.uuid)
	v.set("signal_bond", w.uuid)
	v.set("last_sent_callee_id_name", "Outbound Call")
	v.set("last_sent_callee_id_number", w.user)
	v.set("sip_hangup_phrase", "OK")
	v.set("last_bridge_hangup_cause", cause)
	v.set("last_bridge_proto_specific_hangup_cause", "sip:200")
	v.set("bridge_hangup_cause", cause)
	now := time.Now().UnixMicro()
	if c.other != nil {
		c.other.hangup = now
	}
	c.fire(evUnbridge, &evArgs{now: now})
	if hup, _ := v.get("hangup_after_bridge"); switchTrue(hup) && c.up {
		c.hangup(cause, "switch", false)
	}
}

// handleCause is switch_channel_handle_cause after a failed bridge: unless
// continue_on_fail (true or a list of causes) or failure_causes says to go
// on, the caller is hung up with the cause; NO_ANSWER, NO_USER_RESPONSE and
// ORIGINATOR_CANCEL never hang up by default. c.mu held.
func (s *session) handleCause(cause string) {
	c := s.c
	if !c.up || c.transferred != "" {
		return
	}
	num := strconv.Itoa(causeCode(cause))
	listed := func(list string) bool {
		for _, x := range separateString(list, ',', 256) {
			if strings.EqualFold(x, cause) || x == num {
				return true
			}
		}
		return false
	}
	cof, hasCof := c.vars.get("continue_on_fail")
	fc, hasFc := c.vars.get("failure_causes")
	switch {
	case hasCof || hasFc:
		if hasFc && !listed(fc) {
			return
		}
		if hasCof && (switchTrue(cof) || listed(cof)) {
			return
		}
	case cause == "NO_ANSWER" || cause == "NO_USER_RESPONSE" || cause == "ORIGINATOR_CANCEL":
		return
	}
	c.hangup(cause, "switch", false)
}
