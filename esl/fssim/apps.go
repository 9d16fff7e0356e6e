package fssim

import (
	"strconv"
	"strings"
	"time"
)

type appInfo struct {
	fn    func(s *session, arg string)
	media bool // needs media: an unanswered inbound channel is pre-answered first
}

// lookupApp knows the applications the simulator implements plus a few
// harmless ones it runs as no-ops. Any other name is unknown, and FreeSWITCH
// hangs the call up with DESTINATION_OUT_OF_ORDER for those.
func lookupApp(name string) (appInfo, bool) {
	switch name {
	case "set":
		return appInfo{fn: appSet}, true
	case "export":
		return appInfo{fn: appExport}, true
	case "unset":
		return appInfo{fn: appUnset}, true
	case "multiset":
		return appInfo{fn: appMultiset}, true
	case "multiunset":
		return appInfo{fn: appMultiunset}, true
	case "answer":
		return appInfo{fn: func(s *session, _ string) { s.withLock(s.answerLocked) }}, true
	case "pre_answer":
		return appInfo{fn: func(s *session, _ string) { s.withLock(s.preAnswer) }}, true
	case "ring_ready":
		return appInfo{fn: func(s *session, _ string) { s.withLock(s.ringReadyLocked) }}, true
	case "hangup":
		return appInfo{fn: appHangup}, true
	case "playback":
		return appInfo{fn: (*session).playback, media: true}, true
	case "sleep":
		return appInfo{fn: (*session).sleepApp}, true
	case "transfer":
		return appInfo{fn: appTransfer}, true
	case "bridge":
		return appInfo{fn: (*session).bridge}, true
	case "play_and_get_digits":
		return appInfo{fn: (*session).playAndGetDigits, media: true}, true
	case "sched_hangup":
		return appInfo{fn: appSchedHangup}, true
	case "log", "info", "event", "park", "start_dtmf", "stop_dtmf", "record_session", "stop_record_session",
		"set_global", "set_profile_var", "verbose_events", "session_loglevel", "send_dtmf", "break":
		return appInfo{fn: func(*session, string) {}}, true
	}
	return appInfo{}, false
}

// instantApp: apps that decide the call's fate without taking time; they
// still run when the socket closes with messages queued.
func instantApp(name string) bool {
	switch name {
	case "set", "export", "unset", "multiset", "multiunset", "hangup", "transfer", "log", "info", "sched_hangup":
		return true
	}
	return false
}

func (s *session) withLock(f func()) {
	s.c.mu.Lock()
	f()
	s.c.mu.Unlock()
}

// setVarArg is base_set: "name=value"; no value unsets.
func setVarArg(c *channel, arg string) string {
	name, val, _ := strings.Cut(arg, "=")
	c.vars.set(name, val)
	return name
}

func appSet(s *session, arg string) {
	s.withLock(func() { setVarArg(s.c, arg) })
}

// appExport sets the variable and lists it in export_vars; "nolocal:" only
// exports it.
func appExport(s *session, arg string) {
	c := s.c
	s.withLock(func() {
		name, val, _ := strings.Cut(arg, "=")
		local := true
		if n, ok := strings.CutPrefix(name, "nolocal:"); ok {
			name, local = n, false
		}
		if local {
			c.vars.set(name, val)
		}
		list, _ := c.vars.get("export_vars")
		for _, n := range strings.Split(list, ",") {
			if n == name {
				return
			}
		}
		if list != "" {
			list += ","
		}
		c.vars.set("export_vars", list+name)
	})
}

func appUnset(s *session, arg string) {
	s.withLock(func() { s.c.vars.del(arg) })
}

func appMultiset(s *session, arg string) {
	s.withLock(func() {
		for _, kv := range separateString(arg, ' ', 256) {
			setVarArg(s.c, kv)
		}
	})
}

func appMultiunset(s *session, arg string) {
	s.withLock(func() {
		for _, n := range separateString(arg, ' ', 256) {
			s.c.vars.del(n)
		}
	})
}

func appHangup(s *session, arg string) {
	s.withLock(func() { s.c.hangup(causeName(arg), "app", false) })
}

func appTransfer(s *session, arg string) {
	argv := separateString(arg, ' ', 4)
	for len(argv) < 3 {
		argv = append(argv, "")
	}
	if strings.HasPrefix(argv[0], "-") {
		argv = argv[1:]
		for len(argv) < 3 {
			argv = append(argv, "")
		}
	}
	s.withLock(func() { s.c.transfer(argv[0], argv[1], argv[2]) })
}

// appSchedHangup: "+N [cause]" hangs up N seconds from now.
func appSchedHangup(s *session, arg string) {
	when, cause, _ := strings.Cut(arg, " ")
	secs := atoi(strings.TrimPrefix(when, "+"))
	if !strings.HasPrefix(when, "+") {
		secs -= int(time.Now().Unix())
	}
	s.schedHangupAt = time.Now().Add(s.sw.scaled(time.Duration(max(secs, 0)) * time.Second))
	s.schedCause = causeName(cause)
}

// answerLocked marks the channel answered: media variables, CHANNEL_ANSWER,
// then endpoint_disposition, as recorded. The SIP dialog variables of the
// ACK follow after the app completes (applyAck). c.mu held.
func (s *session) answerLocked() {
	c := s.c
	if c.answered || !c.up {
		return
	}
	if !c.media {
		s.mediaVars()
		c.mediaReadyLocked()
	}
	now := time.Now()
	c.answered, c.media = true, true
	c.t.answered = now.UnixMicro()
	c.answer = "answered"
	c.fire(evAnswer, &evArgs{now: c.t.answered})
	c.callState = "ACTIVE"
	c.vars.set("endpoint_disposition", "ANSWER")
	c.ackPending = true
	s.armDTMF(now, false)
}

// preAnswer is early media: CHANNEL_PROGRESS_MEDIA. c.mu held.
func (s *session) preAnswer() {
	if s.preAnswerMedia() {
		s.armDTMF(time.Now(), false)
	}
}

// preAnswerMedia is preAnswer without the session's own state, for the
// api (mod_audio_fork's start pre-answers): the session arms the DTMF
// plan when it next looks. c.mu held.
func (s *session) preAnswerMedia() bool {
	c := s.c
	if c.media || c.answered || !c.up {
		return false
	}
	s.mediaVars()
	c.mediaReadyLocked()
	now := time.Now()
	c.media, c.early = true, true
	c.t.progressMedia = now.UnixMicro()
	c.answer = "early"
	c.vars.set("endpoint_disposition", "EARLY MEDIA")
	c.fire(evProgressMedia, &evArgs{now: c.t.progressMedia})
	c.callState = "EARLY"
	return true
}

// ringReadyLocked is ring_ready: CHANNEL_PROGRESS once. c.mu held.
func (s *session) ringReadyLocked() {
	c := s.c
	if c.ringReady || c.answered || !c.up {
		return
	}
	c.ringReady = true
	now := time.Now().UnixMicro()
	if c.t.progress == 0 {
		c.t.progress = now
	}
	c.fire(evProgress, &evArgs{now: now})
	c.callState = "RINGING"
}

// mediaVars are the variables set when media is negotiated (the recorded
// CHANNEL_ANSWER).
func (s *session) mediaVars() {
	for _, n := range [...]string{"rtp_local_sdp_str", "local_media_ip", "local_media_port",
		"advertised_media_ip", "rtp_use_timer_name", "rtp_use_pt", "rtp_use_ssrc", "rtp_2833_send_payload",
		"rtp_2833_recv_payload", "remote_media_ip", "remote_media_port"} {
		s.c.setRecorded(n)
	}
}

// applyAck sets what the caller's ACK to our 200 OK brings (seen on the
// event after the answer's completion in every recording). c.mu held.
func (s *session) applyAck() {
	c := s.c
	for _, n := range [...]string{"sip_to_tag", "sip_from_tag", "sip_cseq", "sip_call_id", "sip_full_via",
		"sip_from_display", "sip_full_from", "sip_full_to"} {
		switch n {
		case "sip_from_tag", "sip_call_id", "sip_from_display", "sip_full_from":
			if v, ok := c.vars.get(n); ok {
				c.vars.set(n, v)
			}
		default:
			c.setRecorded(n)
		}
	}
}

// setRecorded sets a variable to its recorded value, rewritten for this call.
func (c *channel) setRecorded(name string) {
	if v, ok := c.tm.values[name]; ok {
		c.vars.set(name, c.id.rewrite(v, c.tm.base))
	}
}

// playback plays a file for its simulated length. DTMF from
// playback_terminators (default "*") stops it, as does uuid_break; a hangup
// makes it "PLAYBACK ERROR".
func (s *session) playback(arg string) {
	c := s.c
	c.mu.Lock()
	c.vars.del("playback_terminator_used")
	c.digits = nil
	c.mu.Unlock()
	resp, _ := s.play(arg, waitOpts{nest: true, digits: true}, true)
	c.mu.Lock()
	c.vars.set("current_application_response", resp)
	c.mu.Unlock()
}

// play runs switch_ivr_play_file for one file and sets the playback_*
// variables. terminators: stop on playback_terminators digits. It returns
// the response and the digit that stopped it, if any.
func (s *session) play(file string, o waitOpts, terminators bool) (string, byte) {
	c := s.c
	start := time.Now()
	// A playback writes frames: a bidirectional fork plays meanwhile.
	c.writers.Add(1)
	defer c.writers.Add(-1)
	c.mu.Lock()
	d := playDuration(file, c.tempFiles)
	c.mu.Unlock()
	deadline := start.Add(s.sw.scaled(d))
	resp, stopDigit := "FILE PLAYED", byte(0)
loop:
	for {
		switch s.wait(deadline, o) {
		case wDeadline, wBreak:
			break loop
		case wDigit:
			c.mu.Lock()
			d := c.digits[0]
			c.digits = c.digits[1:]
			if !terminators {
				// A digit collector stops the prompt and keeps the digit.
				c.digits = append([]byte{d}, c.digits...)
				c.mu.Unlock()
				stopDigit = d
				break loop
			}
			term, _ := c.vars.get("playback_terminators")
			stop := isTerminator(term, d)
			if stop {
				c.vars.set("playback_terminator_used", string(d))
			}
			c.mu.Unlock()
			if stop {
				stopDigit = d
				break loop
			}
		case wLeg:
		default:
			resp = "PLAYBACK ERROR"
			break loop
		}
	}
	played := time.Duration(float64(time.Since(start)) / s.sw.scale())
	samples := played.Milliseconds() * 8
	c.mu.Lock()
	c.vars.set("playback_last_offset_pos", strconv.FormatInt(samples, 10))
	c.vars.set("playback_seconds", strconv.FormatInt(samples/8000, 10))
	c.vars.set("playback_ms", strconv.FormatInt(samples/8, 10))
	c.vars.set("playback_samples", strconv.FormatInt(samples, 10))
	c.mu.Unlock()
	return resp, stopDigit
}

func isTerminator(term string, d byte) bool {
	switch {
	case term == "":
		term = "*"
	case strings.EqualFold(term, "any"):
		term = "1234567890*#"
	case strings.EqualFold(term, "none"):
		return false
	}
	return strings.IndexByte(term, d) >= 0
}

func (s *session) sleepApp(arg string) {
	c := s.c
	ms := atoi(arg)
	deadline := time.Now().Add(s.sw.scaled(time.Duration(ms) * time.Millisecond))
	for {
		switch s.wait(deadline, waitOpts{nest: true, digits: true}) {
		case wDigit:
			c.mu.Lock()
			c.digits = c.digits[1:]
			c.mu.Unlock()
		case wLeg:
		default:
			return
		}
	}
}

// playDuration is how long a file plays: a playAudio/streamAudio temp
// file (temp) for its audio, tone_stream:// from its %(on,off,freq)
// segments and L=n repeats, silence_stream://ms, 1 s per file otherwise
// (file_string:// sums its parts). -1 streams play until stopped.
func playDuration(file string, temp map[string]time.Duration) time.Duration {
	const forever = 24 * time.Hour
	if d, ok := temp[file]; ok {
		return d
	}
	if rest, ok := strings.CutPrefix(file, "file_string://"); ok {
		var d time.Duration
		for _, f := range strings.Split(rest, "!") {
			d += playDuration(f, temp)
		}
		return d
	}
	if rest, ok := strings.CutPrefix(file, "silence_stream://"); ok {
		ms := atoi(rest)
		if ms < 0 {
			return forever
		}
		return time.Duration(ms) * time.Millisecond
	}
	rest, ok := strings.CutPrefix(file, "tone_stream://")
	if !ok {
		return time.Second
	}
	loops := 1
	var ms int
	for _, part := range strings.Split(rest, ";") {
		part = strings.TrimSpace(part)
		switch {
		case strings.HasPrefix(part, "L=") || strings.HasPrefix(part, "l="):
			loops = atoi(part[2:])
		case strings.HasPrefix(part, "loops="):
			loops = atoi(part[6:])
		case strings.HasPrefix(part, "%("):
			inner, _, _ := strings.Cut(part[2:], ")")
			f := strings.Split(inner, ",")
			if len(f) >= 2 {
				ms += atoi(f[0]) + atoi(f[1])
			}
		}
	}
	if loops < 0 {
		return forever
	}
	if loops == 0 {
		loops = 1
	}
	return time.Duration(ms*loops) * time.Millisecond
}
