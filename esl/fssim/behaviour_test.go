package fssim

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// nixevent and noevents really stop event types; CUSTOM goes by subclass.
func TestSubscriptions(t *testing.T) {
	c := dialCall(t, &Switch{}, Call{})
	c.connect()
	c.cmd("linger 5")
	if r := c.replyText("event plain CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE"); r != "+OK event listener enabled plain" {
		t.Fatalf("event: %q", r)
	}
	first := c.run("set", "a=1")
	c.cmd("nixevent CHANNEL_EXECUTE")
	second := c.run("set", "b=2")
	c.cmd("noevents")
	third := c.execute("set", "c=3")
	eventually(t, "set without events to run", func() bool { return c.replyText("getvar c") == "3" })
	c.cmd("event plain CHANNEL_EXECUTE_COMPLETE")
	fourth := c.run("set", "d=4")
	msgs := c.messages()
	for _, tt := range []struct {
		id   string
		want []string
	}{
		{first.ev["Application-UUID"], []string{"CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"}},
		{second.ev["Application-UUID"], []string{"CHANNEL_EXECUTE_COMPLETE"}},
		{third, nil},
		{fourth.ev["Application-UUID"], []string{"CHANNEL_EXECUTE_COMPLETE"}},
	} {
		if got := eventsFor(msgs, tt.id); !slices.Equal(got, tt.want) {
			t.Errorf("events for %s: %v, want %v", tt.id, got, tt.want)
		}
	}
	for _, m := range msgs {
		if m.kind == "event" && m.ev["Event-Name"] == "CHANNEL_PARK" {
			t.Errorf("CHANNEL_PARK delivered without a subscription")
		}
	}
	c.exit()
}

func TestSubscriptionSet(t *testing.T) {
	var s subscription
	s.on = true
	s.list[evCustom] = true
	s.custom = map[string]bool{"mod_audio_fork::connect": true}
	tests := []struct {
		t        evType
		subclass string
		want     bool
	}{
		{evCustom, "mod_audio_fork::connect", true},
		{evCustom, "mod_audio_fork::error", false},
		{evDTMF, "", false},
	}
	for _, tt := range tests {
		if got := s.wants(tt.t, tt.subclass); got != tt.want {
			t.Errorf("wants(%s, %q) = %v", eventNames[tt.t], tt.subclass, got)
		}
	}
	s.list[evAll] = true
	if !s.wants(evDTMF, "") {
		t.Error("ALL does not include DTMF")
	}
	for name, et := range map[string]evType{"CUSTOM": evCustom, "CHANNEL_STATE": evChannelState,
		"CHANNEL_ANSWER": evAnswer, "CHANNEL_HANGUP": evHangup, "CHANNEL_HANGUP_COMPLETE": evHangupComplete,
		"CHANNEL_EXECUTE": evExecute, "CHANNEL_EXECUTE_COMPLETE": evExecuteComplete, "CHANNEL_BRIDGE": evBridge,
		"CHANNEL_UNBRIDGE": evUnbridge, "CHANNEL_PROGRESS": evProgress, "CHANNEL_PROGRESS_MEDIA": evProgressMedia,
		"CHANNEL_PARK": evPark, "CHANNEL_UNPARK": evUnpark, "DTMF": evDTMF, "BACKGROUND_JOB": evBackgroundJob,
		"ALL": evAll, "SWITCH_EVENT_DTMF": evDTMF} {
		if got, ok := nameEvent(name); !ok || got != et {
			t.Errorf("nameEvent(%s) = %d, want %d", name, got, et)
		}
	}
}

// An unknown app name hangs the call up with DESTINATION_OUT_OF_ORDER and
// no CHANNEL_EXECUTE(_COMPLETE) (switch_core_session.c).
func TestUnknownApp(t *testing.T) {
	c := dialCall(t, &Switch{}, Call{})
	c.setup("linger 5")
	c.run("answer", "")
	id := c.execute("uuid_audio_fork", "start")
	h := c.named("CHANNEL_HANGUP")
	if h.ev["Hangup-Cause"] != "DESTINATION_OUT_OF_ORDER" {
		t.Errorf("Hangup-Cause %q", h.ev["Hangup-Cause"])
	}
	c.named("CHANNEL_HANGUP_COMPLETE")
	res := c.exit()
	if got := eventsFor(c.messages(), id); got != nil {
		t.Errorf("events for the unknown app: %v", got)
	}
	if res.HangupCause != "DESTINATION_OUT_OF_ORDER" || res.HungUpBy != "switch" || res.ContinuedDialplan {
		t.Errorf("result %q %q %v", res.HangupCause, res.HungUpBy, res.ContinuedDialplan)
	}
}

// The hangup sequence and what linger changes in it.
func TestLinger(t *testing.T) {
	tests := []struct {
		name    string
		linger  string
		exit    bool
		wantEnd string
		want    []string
	}{
		{name: "linger timeout", linger: "linger 1", wantEnd: "linger-timeout",
			want: []string{"CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE",
				"CHANNEL_STATE", "CHANNEL_STATE", "CHANNEL_HANGUP_COMPLETE", "notice:linger", "notice:disconnect"}},
		{name: "linger forever then exit", linger: "linger", exit: true, wantEnd: "exit",
			want: []string{"CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE",
				"CHANNEL_STATE", "CHANNEL_STATE", "CHANNEL_HANGUP_COMPLETE", "notice:linger", "notice:disconnect"}},
		{name: "no linger", linger: "", wantEnd: "no-linger",
			want: []string{"CHANNEL_HANGUP", "notice:disconnect"}},
		{name: "nolinger", linger: "nolinger", wantEnd: "no-linger",
			want: []string{"CHANNEL_HANGUP", "notice:disconnect"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialCall(t, &Switch{}, Call{})
			c.setup(tt.linger)
			c.run("answer", "")
			start := len(c.messages())
			c.execute("hangup", "USER_BUSY")
			c.named("CHANNEL_HANGUP")
			var res *Result
			if tt.exit {
				c.log.waitFor(t, "linger notice", func(msgs []wireMsg, _ bool) bool {
					return slices.ContainsFunc(msgs, func(m wireMsg) bool { return m.headRaw["Content-Disposition"] == "linger" })
				})
				if v := c.replyText("getvar hangup_cause"); v != "USER_BUSY" {
					t.Errorf("getvar during linger: %q", v)
				}
				res = c.exit()
			} else {
				res = c.closed()
			}
			msgs := c.messages()
			var got []string
			for _, m := range msgs[start:] {
				if m.kind != "reply" && m.kind != "api" && m.ev["Event-Name"] != "CHANNEL_EXECUTE" {
					got = append(got, sequence([]wireMsg{m})...)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("after hangup: %v\nwant %v", got, tt.want)
			}
			for _, m := range msgs {
				if m.headRaw["Content-Disposition"] == "linger" {
					want := "1"
					if tt.linger == "linger" {
						want = "-1"
					}
					if m.headRaw["Linger-Time"] != want || m.headRaw["Channel-Name"] != "sofia/internal/sipp@127.0.0.1:5070" {
						t.Errorf("linger notice %v", m.headRaw)
					}
				}
			}
			if res.End != tt.wantEnd || res.HangupCause != "USER_BUSY" || res.HungUpBy != "app" {
				t.Errorf("result end %q cause %q by %q", res.End, res.HangupCause, res.HungUpBy)
			}
		})
	}
}

// The socket ending with the channel up continues the dialplan; a transfer
// or hangup queued before the close still runs (MES:544).
func TestSocketEnd(t *testing.T) {
	tests := []struct {
		name          string
		queue         func(c *eslConn)
		close         func(c *eslConn)
		wantEnd       string
		wantContinued bool
		wantXfer      string
		wantCause     string
	}{
		{name: "exit while up", close: func(c *eslConn) { c.cmd("exit") }, wantEnd: "exit", wantContinued: true},
		{name: "peer closes", close: func(c *eslConn) { c.conn.Close() }, wantEnd: "peer-closed", wantContinued: true},
		{name: "exit with a queued transfer", queue: func(c *eslConn) {
			c.cmd("sendmsg", "call-command: execute", "execute-app-name: transfer", "execute-app-arg: ivr XML fallback")
		}, close: func(c *eslConn) { c.send("exit\n\n") }, wantEnd: "exit", wantXfer: "ivr XML fallback"},
		{name: "exit with a queued hangup", queue: func(c *eslConn) {
			c.cmd("sendmsg", "call-command: hangup", "hangup-cause: CALL_REJECTED")
		}, close: func(c *eslConn) { c.send("exit\n\n") }, wantEnd: "exit", wantCause: "CALL_REJECTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialCall(t, &Switch{Tick: time.Second}, Call{})
			c.setup("linger 5")
			if tt.queue != nil {
				tt.queue(c)
			}
			tt.close(c)
			c.log.waitFor(t, "close", func(_ []wireMsg, eof bool) bool { return eof })
			res := c.closed()
			if res.End != tt.wantEnd || res.ContinuedDialplan != tt.wantContinued || res.Transferred != tt.wantXfer ||
				res.HangupCause != tt.wantCause {
				t.Errorf("got end %q continued %v transferred %q cause %q", res.End, res.ContinuedDialplan,
					res.Transferred, res.HangupCause)
			}
		})
	}
}

// transfer leaves the socket application; the socket stays open until the
// outbound server exits.
func TestTransfer(t *testing.T) {
	for _, viaAPI := range []bool{false, true} {
		c := dialCall(t, &Switch{}, Call{Context: "public", Destination: "1000"})
		c.setup("linger 5")
		c.run("answer", "")
		if viaAPI {
			if r := c.replyText("api uuid_transfer " + c.uuid + " 9000 XML ivr"); r != "+OK\n" {
				t.Fatalf("uuid_transfer: %q", r)
			}
		} else {
			done := c.run("transfer", "9000 XML ivr")
			if done.ev["Application-Response"] != "_none_" {
				t.Errorf("transfer response %q", done.ev["Application-Response"])
			}
		}
		c.named("CHANNEL_UNPARK")
		sock := c.event("socket completion", func(m wireMsg) bool { return m.ev["Application"] == "socket" })
		if sock.ev["variable_transfer_source"] == "" || sock.ev["Caller-Destination-Number"] != "9000" ||
			sock.ev["Caller-Context"] != "ivr" || sock.ev["variable_max_forwards"] != "69" {
			t.Errorf("after transfer: dest %q ctx %q source %q max_forwards %q", sock.ev["Caller-Destination-Number"],
				sock.ev["Caller-Context"], sock.ev["variable_transfer_source"], sock.ev["variable_max_forwards"])
		}
		st := c.named("CHANNEL_STATE")
		if st.ev["Channel-State"] != "CS_ROUTING" {
			t.Errorf("state %q", st.ev["Channel-State"])
		}
		if v := c.replyText("getvar transfer_source"); !strings.HasSuffix(v, ":bl_xfer:9000/ivr/XML") {
			t.Errorf("transfer_source %q", v)
		}
		res := c.exit()
		if res.Transferred != "9000 XML ivr" || res.ContinuedDialplan || res.HangupCause != "" {
			t.Errorf("viaAPI=%v: transferred %q continued %v cause %q", viaAPI, res.Transferred,
				res.ContinuedDialplan, res.HangupCause)
		}
	}
}

// Malformed input from the outbound server does not break the switch.
func TestMalformedInput(t *testing.T) {
	c := dialCall(t, &Switch{}, Call{})
	c.connect()
	for _, raw := range []string{
		"\x00\xff\xfe binary junk\n\n",
		"::::\n\n",
		"sendmsg\nno colon here\n: empty name\n\n",
		"api\r\n\r\n",
		"\r\n\r\n\r\nexi\n\n",
	} {
		c.send(raw)
		m := c.nextReply()
		if m.kind != "reply" {
			t.Errorf("%q answered %s", raw, m.kind)
		}
	}
	if v := c.replyText("getvar uuid"); v != c.uuid {
		t.Fatalf("switch broken after junk: %q", v)
	}
	c.send("getvar uuid\r\nContent-Length: 99999999999\r\n\r\n")
	res := c.closed()
	if res.End != "peer-closed" || !res.ContinuedDialplan {
		t.Errorf("oversized body: end %q", res.End)
	}
}

// LF and CRLF line ends, header names in any case, and the body form of the
// app argument.
func TestSendmsgForms(t *testing.T) {
	c := dialCall(t, &Switch{}, Call{})
	c.setup("linger 5")
	c.send("sendmsg " + c.uuid + "\r\ncall-command: execute\r\nEXECUTE-APP-NAME: set\r\nexecute-app-arg: x=%41\r\nevent-uuid: e1\r\n\r\n")
	c.nextReply()
	// On the wire "%41" stays as sent (switch_url_encode does not double
	// encode), the variable keeps it verbatim.
	if m := c.complete("e1"); m.ev["Application"] != "set" {
		t.Errorf("completion %v", m.ev["Application"])
	}
	if v := c.replyText("getvar x"); v != "%41" {
		t.Errorf("header values must not be URL-decoded: %q", v)
	}
	body := "y=two words, ${uuid}"
	c.send("sendmsg\ncall-command: execute\nexecute-app-name: set\nEvent-UUID: e2\ncontent-type: text/plain\ncontent-length: " +
		strconv.Itoa(len(body)) + "\n\n" + body)
	c.nextReply()
	if m := c.complete("e2"); m.ev["Application-Data"] != "y=two words, "+c.uuid {
		t.Errorf("body argument with expansion: %q", m.ev["Application-Data"])
	}
	if v := c.replyText("getvar y"); v != "two words, "+c.uuid {
		t.Errorf("getvar y = %q", v)
	}
	c.send("sendmsg\ncall-command: hangup\nhangup-cause: USER_BUSY\n\n")
	c.nextReply()
	if h := c.named("CHANNEL_HANGUP"); h.ev["Hangup-Cause"] != "USER_BUSY" {
		t.Errorf("call-command hangup cause %q", h.ev["Hangup-Cause"])
	}
	res := c.exit()
	if res.HungUpBy != "app" || res.Commands[3].App() != "set" || res.Commands[3].EventUUID() != "e1" ||
		res.Commands[5].AppArg() != body {
		t.Errorf("result: by %q, commands %+v", res.HungUpBy, res.Commands[3:6])
	}
}

// The first packet's reply is computed but never written (listener_run);
// the park waits for connect.
func TestFirstCommandNotConnect(t *testing.T) {
	c := dialCall(t, &Switch{}, Call{})
	c.send("linger 5\n\n")
	m := c.connect()
	if _, ok := m.headRaw["Event-Name"]; !ok {
		t.Fatalf("first reply is not the connect reply: %v", m.headRaw)
	}
	c.cmd("myevents")
	c.run("hangup", "")
	c.log.waitFor(t, "linger notice", func(msgs []wireMsg, _ bool) bool {
		return slices.ContainsFunc(msgs, func(m wireMsg) bool { return m.headRaw["Content-Disposition"] == "linger" })
	})
	if res := c.exit(); res.End != "exit" || res.Sent[0].Text != "+OK\n" {
		t.Errorf("end %q, first sent %+v", res.End, res.Sent[0])
	}
}

// OnSent sees each message as it is written: the same sequence as
// Result.Sent, events included (they are written in batches).
func TestOnSent(t *testing.T) {
	var mu sync.Mutex
	var seen []Sent
	c := dialCall(t, &Switch{}, Call{OnSent: func(s Sent) {
		mu.Lock()
		seen = append(seen, s)
		mu.Unlock()
	}})
	c.setup("linger")
	c.run("answer", "")
	c.run("hangup", "")
	c.log.waitFor(t, "linger notice", func(msgs []wireMsg, _ bool) bool {
		return slices.ContainsFunc(msgs, func(m wireMsg) bool { return m.headRaw["Content-Disposition"] == "linger" })
	})
	res := c.exit()
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, res.Sent) {
		t.Fatalf("OnSent saw %d messages, Result.Sent has %d", len(seen), len(res.Sent))
	}
	if !slices.ContainsFunc(seen, func(s Sent) bool { return s.Kind == "event" && s.Event == "CHANNEL_ANSWER" }) {
		t.Errorf("no CHANNEL_ANSWER among %+v", seen)
	}
	if res.Sent[0].At.Before(res.ConnectReplyAt) {
		t.Errorf("connect reply stamped %v, after its write %v", res.ConnectReplyAt, res.Sent[0].At)
	}
}
