package fssim

import (
	"slices"
	"strings"
	"testing"
)

// Replies the recordings do not show, checked against the FreeSWITCH source
// strings (mod_event_socket.c, mod_commands.c).
func TestCommandReplies(t *testing.T) {
	c := dialCall(t, &Switch{}, Call{Vars: map[string]string{"ailb_route": "sales"}})
	c.connect()
	u := c.uuid
	tests := []struct {
		give string
		want string
	}{
		{give: "linger", want: "+OK will linger"},
		{give: "linger 7", want: "+OK will linger 7 seconds"},
		{give: "nolinger", want: "+OK will not linger"},
		{give: "linger 5", want: "+OK will linger 5 seconds"},
		{give: "myevents plain", want: "+OK Events Enabled"},
		{give: "myevents plain", want: "-ERR aready enabled."},
		{give: "event plain", want: "-ERR no keywords supplied"},
		{give: "event plain NO_SUCH_EVENT", want: "-ERR no keywords supplied"},
		{give: "event plain BACKGROUND_JOB CUSTOM mod_audio_fork::connect", want: "+OK event listener enabled plain"},
		{give: "event json DTMF", want: "+OK event listener enabled json"},
		{give: "event plain DTMF", want: "+OK event listener enabled plain"},
		{give: "nixevent DTMF", want: "+OK events nixed"},
		{give: "nixevent", want: "-ERR no keywords supplied"},
		{give: "getvar ailb_route", want: "sales"},
		{give: "getvar no_such_var", want: "-ERR command not found"},
		{give: "getvar", want: "-ERR command not found"},
		{give: "getvar caller_id_name", want: "sipp caller"},
		{give: "resume", want: "+OK"},
		{give: "getvar socket_resume", want: "true"},
		{give: "filter Unique-ID " + u, want: "+OK filter added. [Unique-ID]=[" + u + "]"},
		{give: "filter delete Unique-ID " + u, want: "+OK filter deleted. [Unique-ID][" + u + "]"},
		{give: "filter nonsense", want: "-ERR invalid syntax"},
		{give: "divert_events on", want: "+OK events diverted"},
		{give: "divert_events off", want: "+OK events not diverted"},
		{give: "divert_events", want: "-ERR missing value."},
		{give: "log info", want: "+OK log level info [6]"},
		{give: "log nonsense", want: "-ERR invalid log level"},
		{give: "nolog", want: "+OK no longer logging"},
		{give: "nolog", want: "-ERR not loging"},
		{give: "sendmsg 00000000-0000-0000-0000-000000000000", want: "-ERR invalid session id [00000000-0000-0000-0000-000000000000]"},
		{give: "auth ClueCon", want: "-ERR command not found"},
		{give: "no_such_command", want: "-ERR command not found"},
		{give: "api uuid_getvar " + u + " ailb_route", want: "sales"},
		{give: "api uuid_getvar " + u + " nope", want: "_undef_"},
		{give: "api uuid_getvar nope x", want: "-ERR No such channel!\n"},
		{give: "api uuid_getvar", want: "-USAGE: <uuid> <var>\n"},
		{give: "api uuid_setvar " + u + " ailb_state_lang de", want: "+OK\n"},
		{give: "getvar ailb_state_lang", want: "de"},
		{give: "api uuid_setvar " + u + " spaced a b c", want: "+OK\n"},
		{give: "getvar spaced", want: "a b c"},
		{give: "api uuid_setvar " + u + " spaced", want: "+OK\n"},
		{give: "getvar spaced", want: "-ERR command not found"},
		{give: "api uuid_setvar " + u, want: "-USAGE: <uuid> <var> [value]\n"},
		{give: "api uuid_setvar_multi " + u + " a=1;b=2", want: "+OK\n"},
		{give: "getvar b", want: "2"},
		{give: "api uuid_setvar_multi nope a=1", want: "-ERR No such channel!\n-USAGE: <uuid> <var>=<value>;<var>=<value>...\n"},
		{give: "api uuid_exists " + u, want: "true"},
		{give: "api uuid_exists nope", want: "false"},
		{give: "api uuid_kill nope", want: "-ERR No such channel!\n"},
		{give: "api uuid_break " + u, want: "+OK\n"},
		{give: "api uuid_no_such_module " + u + " start", want: "-ERR uuid_no_such_module Command not found!\n"},
		{give: "api uuid_audio_fork " + u + " stop", want: "-ERR Operation Failed\n"},
		{give: "api ", want: "-ERR  Command not found!\n"},
		{give: "sendevent CUSTOM", want: "+OK "},
	}
	for _, tt := range tests {
		got := c.replyText(tt.give)
		if tt.give == "sendevent CUSTOM" {
			got = got[:4]
		}
		if got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.give, got, tt.want)
		}
	}
	res := c.exit()
	if res.End != "exit" || !res.ContinuedDialplan || res.HangupCause != "" {
		t.Errorf("result: end %q continued %v cause %q", res.End, res.ContinuedDialplan, res.HangupCause)
	}
	if res.Vars["ailb_state_lang"] != "de" || res.Vars["a"] != "1" {
		t.Errorf("vars not kept: %v %v", res.Vars["ailb_state_lang"], res.Vars["a"])
	}
	if len(res.Commands) != len(tests)+2 || res.Commands[1].Line != tests[0].give {
		t.Errorf("commands recorded: %d, first %q", len(res.Commands), res.Commands[1].Line)
	}
}

// Without `full` the gate at MES:2236 answers everything after sendmsg with
// "-ERR command not found".
func TestFullGate(t *testing.T) {
	c := dialCall(t, &Switch{NotFull: true}, Call{})
	m := c.connect()
	if m.headRaw["Control"] != "single-channel" || m.headRaw["Socket-Mode"] != "async" {
		t.Errorf("connect reply Control %q Socket-Mode %q", m.headRaw["Control"], m.headRaw["Socket-Mode"])
	}
	if !strings.HasSuffix(m.headRaw["variable_current_application_data"], "%20async") {
		t.Errorf("socket data %q", m.headRaw["variable_current_application_data"])
	}
	for _, tt := range []struct{ give, want string }{
		{"linger 5", "-ERR command not found"},
		{"nolinger", "-ERR command not found"},
		{"event plain ALL", "-ERR command not found"},
		{"nixevent DTMF", "-ERR command not found"},
		{"noevents", "-ERR command not found"},
		{"api uuid_exists " + c.uuid, "-ERR command not found"},
		{"bgapi uuid_exists " + c.uuid, "-ERR command not found"},
		{"log debug", "-ERR command not found"},
		{"myevents", "+OK Events Enabled"},
		{"getvar uuid", c.uuid},
		{"filter Event-Name CHANNEL_EXECUTE", "+OK filter added. [Event-Name]=[CHANNEL_EXECUTE]"},
		{"resume", "+OK"},
		{"divert_events on", "+OK events diverted"},
	} {
		m := c.cmd(tt.give)
		if m.kind != "reply" || m.headRaw["Reply-Text"] != tt.want {
			t.Errorf("%q: %s %q, want %q", tt.give, m.kind, m.headRaw["Reply-Text"], tt.want)
		}
	}
	// sendmsg still works: the filter lets CHANNEL_EXECUTE through only.
	id := c.execute("set", "x=1")
	c.event("execute", func(m wireMsg) bool { return m.ev["Application-UUID"] == id })
	eventually(t, "set to run", func() bool { return c.replyText("getvar x") == "1" })
	c.exit()
	if got := eventsFor(c.messages(), id); !slices.Equal(got, []string{"CHANNEL_EXECUTE"}) {
		t.Errorf("events for set: %v", got)
	}
}
