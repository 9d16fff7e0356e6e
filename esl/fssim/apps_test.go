package fssim

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// play_and_get_digits with the argument list of the reference sheet.
func TestPlayAndGetDigits(t *testing.T) {
	const prompt = "tone_stream://%(30000,0,350)"
	tests := []struct {
		name       string
		arg        string
		dtmf       []DTMF
		wantResult string
		wantDigits string // "" = unset
		wantInval  string
		wantTerm   string
		wantEvents int // DTMF events
	}{
		{name: "terminated", arg: "1 5 1 8000 # " + prompt + " silence_stream://250 pagd_digits \\d+ 3000",
			dtmf: []DTMF{{After: 10 * time.Second, Digits: "1234#"}}, wantResult: "success", wantDigits: "1234", wantTerm: "#", wantEvents: 5},
		{name: "max digits", arg: "1 3 1 8000 # " + prompt + " silence_stream://250 pagd_digits \\d+ 3000",
			dtmf: []DTMF{{After: 10 * time.Second, Digits: "1234"}}, wantResult: "success", wantDigits: "123", wantEvents: 4},
		{name: "digit timeout keeps digits", arg: "1 5 1 8000 # " + prompt + " silence_stream://250 pagd_digits \\d+ 2000",
			dtmf: []DTMF{{After: 10 * time.Second, Digits: "12"}}, wantResult: "timeout", wantDigits: "12", wantEvents: 2},
		{name: "nothing entered", arg: "1 5 1 1000 # silence_stream://500 silence_stream://250 pagd_digits \\d+ 2000",
			wantResult: "failure"},
		{name: "regex fails then matches", arg: "2 5 2 8000 # " + prompt + " silence_stream://250 pagd_digits ^9 3000",
			dtmf:       []DTMF{{After: 10 * time.Second, Digits: "12#"}, {After: 3 * time.Second, Digits: "95#"}},
			wantResult: "success", wantDigits: "95", wantInval: "12", wantTerm: "#", wantEvents: 6},
		{name: "unanchored regex", arg: "1 5 1 8000 # " + prompt + " silence_stream://250 pagd_digits 3 3000",
			dtmf: []DTMF{{After: 10 * time.Second, Digits: "123#"}}, wantResult: "success", wantDigits: "123", wantTerm: "#", wantEvents: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialCall(t, &Switch{}, Call{DTMF: tt.dtmf})
			c.setup("linger 5")
			c.cmd("event plain DTMF")
			c.run("answer", "")
			done := c.run("play_and_get_digits", tt.arg)
			if done.ev["Application-Response"] != "_none_" {
				t.Errorf("Application-Response %q", done.ev["Application-Response"])
			}
			for _, kv := range [][2]string{{"variable_read_result", tt.wantResult}, {"variable_pagd_digits", tt.wantDigits},
				{"variable_pagd_digits_invalid", tt.wantInval}, {"variable_read_terminator_used", tt.wantTerm}} {
				if got := done.ev[kv[0]]; got != kv[1] {
					t.Errorf("%s = %q, want %q\n%s", kv[0], got, kv[1], dtmfTrace(c.messages()))
				}
			}
			c.log.waitFor(t, "DTMF events", func(msgs []wireMsg, _ bool) bool {
				n := 0
				for _, m := range msgs {
					if m.ev["Event-Name"] == "DTMF" {
						n++
					}
				}
				return n >= tt.wantEvents
			})
			n := 0
			for _, m := range c.messages() {
				if m.ev["Event-Name"] == "DTMF" {
					n++
					if m.ev["DTMF-Source"] != "RTP" || m.ev["DTMF-Duration"] != "1600" {
						t.Errorf("DTMF event %v %v", m.ev["DTMF-Source"], m.ev["DTMF-Duration"])
					}
				}
			}
			if n != tt.wantEvents {
				t.Errorf("%d DTMF events, want %d", n, tt.wantEvents)
			}
			c.exit()
		})
	}
}

// playback: terminators, uuid_break, caller hangup; DTMF outside a digit
// collector still fires events.
func TestPlayback(t *testing.T) {
	c := dialCall(t, &Switch{}, Call{DTMF: []DTMF{{After: 10 * time.Second, Digits: "5*"}}})
	c.setup("linger 5")
	c.cmd("event plain DTMF")
	c.run("answer", "")
	start := time.Now()
	done := c.run("playback", "tone_stream://L=100;%(1000,0,440)")
	if done.ev["Application-Response"] != "FILE PLAYED" || done.ev["variable_playback_terminator_used"] != "*" {
		t.Errorf("terminator: %q %q", done.ev["Application-Response"], done.ev["variable_playback_terminator_used"])
	}
	if el := time.Since(start); el > time.Duration(60*testScale*float64(time.Second)) {
		t.Errorf("playback not stopped by '*': %v", el)
	}
	id := c.execute("playback", "silence_stream://-1")
	c.event("playback start", func(m wireMsg) bool {
		return m.ev["Event-Name"] == "CHANNEL_EXECUTE" && m.ev["Application-UUID"] == id
	})
	c.replyText("api uuid_break " + c.uuid)
	if d := c.complete(id); d.ev["Application-Response"] != "FILE PLAYED" {
		t.Errorf("uuid_break: %q", d.ev["Application-Response"])
	}
	c.exit()
}

// Without event-lock, a message queued during a playback runs nested inside
// it (depth=2 in FreeSWITCH's log); with event-lock it waits.
func TestEventLock(t *testing.T) {
	for _, lock := range []string{"false", "true"} {
		c := dialCall(t, &Switch{}, Call{})
		c.setup("linger 5")
		c.run("answer", "")
		play := "e-play-" + lock
		c.cmd("sendmsg", "call-command: execute", "execute-app-name: playback", "execute-app-arg: silence_stream://10000",
			"event-lock: "+lock, "Event-UUID: "+play)
		c.cmd("sendmsg", "call-command: execute", "execute-app-name: set", "execute-app-arg: x=1",
			"event-lock: "+lock, "Event-UUID: e-set")
		for _, id := range []string{play, "e-set"} {
			c.find("completion of "+id, func(m wireMsg) bool {
				return m.ev["Event-Name"] == "CHANNEL_EXECUTE_COMPLETE" && m.ev["Application-UUID"] == id
			})
		}
		var order []string
		for _, m := range c.messages() {
			if m.ev["Event-Name"] == "CHANNEL_EXECUTE_COMPLETE" && (m.ev["Application-UUID"] == play || m.ev["Application-UUID"] == "e-set") {
				order = append(order, m.ev["Application"])
			}
		}
		want := []string{"set", "playback"}
		if lock == "true" {
			want = []string{"playback", "set"}
		}
		if !slices.Equal(order, want) {
			t.Errorf("event-lock %s: completions %v, want %v", lock, order, want)
		}
		c.exit()
	}
}

// loops repeats an app, but stops when an iteration took less than 0.5 s.
func TestLoops(t *testing.T) {
	c := dialCall(t, &Switch{Scale: 0.2}, Call{})
	c.setup("linger 5")
	c.run("answer", "")
	for _, tt := range []struct {
		app, arg string
		want     int
	}{{"playback", "silence_stream://600", 3}, {"set", "y=1", 1}} {
		id := "loop-" + tt.app
		c.cmd("sendmsg", "call-command: execute", "execute-app-name: "+tt.app, "execute-app-arg: "+tt.arg,
			"loops: 3", "event-lock: true", "Event-UUID: "+id)
		for range tt.want {
			ex := c.event("execute", func(m wireMsg) bool {
				return m.ev["Event-Name"] == "CHANNEL_EXECUTE" && m.ev["Application-UUID"] == id
			})
			if ex.ev["variable_total_loops"] != "3" {
				t.Errorf("total_loops %q", ex.ev["variable_total_loops"])
			}
			c.complete(id)
		}
		c.run("set", "sync=1")
		if n := len(eventsFor(c.messages(), id)); n != 2*tt.want {
			t.Errorf("%s: %d events, want %d", tt.app, n, 2*tt.want)
		}
	}
	c.exit()
}

// Apps that need media pre-answer an unanswered call; ring_ready and
// pre_answer fire their progress events; the caller hanging up before the
// answer is a CANCEL.
func TestEarlyStates(t *testing.T) {
	c := dialCall(t, &Switch{}, Call{HangupAfter: 30 * time.Second})
	c.setup("linger 5")
	c.run("ring_ready", "")
	p := c.find("progress", func(m wireMsg) bool { return m.ev["Event-Name"] == "CHANNEL_PROGRESS" })
	if p.ev["Answer-State"] != "ringing" || p.ev["Caller-Channel-Progress-Time"] == "0" {
		t.Errorf("progress: %q %q", p.ev["Answer-State"], p.ev["Caller-Channel-Progress-Time"])
	}
	c.execute("playback", "silence_stream://-1")
	pm := c.named("CHANNEL_PROGRESS_MEDIA")
	if pm.ev["Answer-State"] != "early" || pm.ev["variable_endpoint_disposition"] != "EARLY MEDIA" {
		t.Errorf("early media: %q %q", pm.ev["Answer-State"], pm.ev["variable_endpoint_disposition"])
	}
	h := c.named("CHANNEL_HANGUP")
	hc := c.named("CHANNEL_HANGUP_COMPLETE")
	if h.ev["Hangup-Cause"] != "ORIGINATOR_CANCEL" || hc.ev["variable_sip_hangup_disposition"] != "recv_cancel" ||
		hc.ev["variable_progress_media_stamp"] == "" {
		t.Errorf("cancel: %q %q", h.ev["Hangup-Cause"], hc.ev["variable_sip_hangup_disposition"])
	}
	res := c.exit()
	if res.HungUpBy != "caller" || res.HangupCause != "ORIGINATOR_CANCEL" {
		t.Errorf("result %q %q", res.HungUpBy, res.HangupCause)
	}
}

// set/export/unset/multiset, uuid_setvar(_multi), ${var} expansion, sleep
// and the CDR variables; every later event carries the variables.
func TestVariables(t *testing.T) {
	c := dialCall(t, &Switch{}, Call{})
	c.setup("linger 5")
	c.replyText("api uuid_setvar " + c.uuid + " ailb_assistant bot-1")
	c.replyText("api uuid_setvar_multi " + c.uuid + " ailb_attempts=2;ailb_tried=bot-0,bot-1")
	start := time.Now()
	sl := c.run("sleep", "500")
	if sl.ev["variable_ailb_assistant"] != "bot-1" || sl.ev["variable_ailb_tried"] != "bot-0,bot-1" {
		t.Errorf("uuid_setvar variables not in later events: %q %q", sl.ev["variable_ailb_assistant"], sl.ev["variable_ailb_tried"])
	}
	if el := time.Since(start); el < time.Duration(0.5*testScale*float64(time.Second)) {
		t.Errorf("sleep 500 took %v", el)
	}
	c.run("set", "a=1")
	c.run("export", "b=2")
	c.run("export", "nolocal:c=3")
	c.run("multiset", "d=4 e=5")
	c.run("unset", "a")
	c.run("set", "f=${b}-${destination_number}")
	c.run("hangup", "")
	hc := c.named("CHANNEL_HANGUP_COMPLETE")
	for k, want := range map[string]string{"variable_ailb_assistant": "bot-1", "variable_ailb_attempts": "2",
		"variable_ailb_tried": "bot-0,bot-1", "variable_a": "", "variable_b": "2", "variable_c": "", "variable_d": "4",
		"variable_e": "5", "variable_export_vars": "b,c", "variable_f": "2-1000", "variable_hangup_cause": "NORMAL_CLEARING",
		"variable_hangup_cause_q850": "16", "variable_last_app": "hangup", "variable_billsec": "0",
		"variable_sip_hangup_disposition": "send_refuse"} {
		if hc.ev[k] != want {
			t.Errorf("%s = %q, want %q", k, hc.ev[k], want)
		}
	}
	c.exit()
}

func TestPlayDuration(t *testing.T) {
	tests := []struct {
		give string
		want time.Duration
	}{
		{"tone_stream://%(1000,0,440)", time.Second},
		{"tone_stream://L=20;%(1000,0,440)", 20 * time.Second},
		{"tone_stream://%(10000,0,350)", 10 * time.Second},
		{"tone_stream://%(100,200,350);%(300,0,440)", 600 * time.Millisecond},
		{"silence_stream://250", 250 * time.Millisecond},
		{"/var/sounds/hello.wav", time.Second},
		{"file_string://a.wav!silence_stream://500", 1500 * time.Millisecond},
		{"/usr/local/fs/tmp/u_0.tmp.r8", 250 * time.Millisecond},
		{"file_string:///usr/local/fs/tmp/u_0.tmp.r8!/usr/local/fs/tmp/u_1.tmp.r16", 2250 * time.Millisecond},
	}
	// playAudio/streamAudio temp files play for their audio's length.
	temp := map[string]time.Duration{"/usr/local/fs/tmp/u_0.tmp.r8": 250 * time.Millisecond,
		"/usr/local/fs/tmp/u_1.tmp.r16": 2 * time.Second}
	for _, tt := range tests {
		if got := playDuration(tt.give, temp); got != tt.want {
			t.Errorf("playDuration(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}
	if playDuration("silence_stream://-1", nil) < time.Hour {
		t.Error("silence_stream://-1 must play until stopped")
	}
}

// The connect reply carries the call's identity and dialplan variables.
func TestConnectReply(t *testing.T) {
	call := Call{UUID: "11111111-2222-4333-8444-555555555555", CallerIDName: "Ann Caller", CallerIDNumber: "+4930123",
		Destination: "1234", Context: "default", Vars: map[string]string{"ailb_route": "sales & more"},
		RawVarLines: []string{"variable_odd[name]: x"}, Garbage: []byte("\x00garbage")}
	c := dialRaw(t, &Switch{}, call)
	c.send("connect\n\n")
	buf := make([]byte, 0, 16384)
	tmp := make([]byte, 4096)
	for !strings.HasSuffix(string(buf), "\x00garbage") {
		n, err := c.conn.Read(tmp)
		if err != nil {
			t.Fatalf("read: %v (%q)", err, buf)
		}
		buf = append(buf, tmp[:n]...)
	}
	s := string(buf)
	for _, want := range []string{"Unique-ID: " + call.UUID + "\n", "Caller-Caller-ID-Name: Ann%20Caller\n",
		"Caller-Caller-ID-Number: %2B4930123\n", "Caller-Destination-Number: 1234\n", "Caller-Context: default\n",
		"variable_uuid: " + call.UUID + "\n", "variable_sip_req_user: 1234\n", "variable_ailb_route: sales%20%26%20more\n",
		"variable_odd[name]: x\n", "Channel-Name: sofia/internal/%2B4930123%40127.0.0.1%3A5070\n",
		"Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: async\nControl: full\n\n\x00garbage"} {
		if !strings.Contains(s, want) {
			t.Errorf("connect reply lacks %q", want)
		}
	}
	if strings.Contains(s, "b26cadc3-28b3-479f-b5da-294540e0e9da") || strings.Contains(s, "sipp%20caller") {
		t.Error("recorded identity left in the connect reply")
	}
	c.conn.Close()
}

// No connect within 25 s (scaled): the socket closes and the caller stays
// parked; MaxDuration tears a call down.
func TestTimeouts(t *testing.T) {
	c := dialCall(t, &Switch{}, Call{})
	res := c.closed()
	if res.End != "connect-timeout" || res.ContinuedDialplan || res.HangupCause != "" {
		t.Errorf("connect timeout: %+v", res)
	}
	c = dialCall(t, &Switch{}, Call{MaxDuration: time.Second})
	c.setup("linger 5")
	res = c.closed()
	if res.End != "max-duration" || res.HangupCause != "ALLOTTED_TIMEOUT" || res.HungUpBy != "switch" {
		t.Errorf("max duration: end %q cause %q by %q", res.End, res.HangupCause, res.HungUpBy)
	}
}

// bgapi answers at once and delivers BACKGROUND_JOB to a subscriber.
func TestBgapi(t *testing.T) {
	c := dialCall(t, &Switch{}, Call{})
	c.setup("linger 5")
	c.cmd("event plain BACKGROUND_JOB")
	r := c.cmd("bgapi uuid_exists "+c.uuid, "Job-UUID: job-1")
	if r.headRaw["Reply-Text"] != "+OK Job-UUID: job-1" || r.headRaw["Job-UUID"] != "job-1" {
		t.Errorf("bgapi reply %v", r.headRaw)
	}
	j := c.named("BACKGROUND_JOB")
	if j.ev["Job-UUID"] != "job-1" || j.ev["Job-Owner-UUID"] != c.uuid || j.ev["Job-Command"] != "uuid_exists" ||
		!strings.HasSuffix(string(j.body), "Content-Length: 4\n\ntrue") {
		t.Errorf("BACKGROUND_JOB %v %q", j.ev, j.body)
	}
	c.exit()
}

func dtmfTrace(msgs []wireMsg) string {
	var b strings.Builder
	for _, m := range msgs {
		if m.kind == "event" {
			b.WriteString(m.ev["Event-Date-Timestamp"] + " " + m.ev["Event-Name"] + " " + m.ev["Application"] + " " +
				m.ev["DTMF-Digit"] + "\n")
		}
	}
	return b.String()
}

// Messages still queued when the call ends are dropped; nothing runs on a
// hung-up channel.
func TestQueuedAfterHangup(t *testing.T) {
	c := dialCall(t, &Switch{}, Call{})
	c.setup("linger 5")
	c.run("answer", "")
	c.cmd("sendmsg", "call-command: execute", "execute-app-name: playback", "execute-app-arg: silence_stream://-1",
		"Event-UUID: long", "event-lock: true")
	late := c.execute("set", "late=1")
	c.event("playback", func(m wireMsg) bool { return m.ev["Application-UUID"] == "long" })
	c.replyText("api uuid_kill " + c.uuid)
	c.named("CHANNEL_HANGUP_COMPLETE")
	if v := c.replyText("getvar late"); v != "-ERR command not found" {
		t.Errorf("queued set ran after the hangup: %q", v)
	}
	res := c.exit()
	if got := eventsFor(c.messages(), late); got != nil {
		t.Errorf("events for the dropped message: %v", got)
	}
	if res.HungUpBy != "app" || res.HangupCause != "NORMAL_CLEARING" {
		t.Errorf("uuid_kill: %q %q", res.HungUpBy, res.HangupCause)
	}
}
