package dialplan

import (
	"encoding/json"
	"strings"
	"testing"

	"ailb/media"
)

func TestForkCommandsGolden(t *testing.T) {
	fork := &WSAssistant{Module: "audio_fork", Rate: 16000}
	stream := &WSAssistant{Module: "audio_stream", Rate: 8000}
	tests := []struct {
		name string
		give string
		want string
	}{
		{"fork start (bidirectional, all ten tokens)", forkStart("u1", fork, "ws://127.0.0.1:8085/calls/c-1?token=t", `{"a":"b"}`).BuildMessage(),
			`api uuid_audio_fork u1 start ws://127.0.0.1:8085/calls/c-1?token=t mono 16k ailb {"a":"b"} true true 16000`},
		{"stream start", forkStart("u1", stream, "ws://h/x", "{}").BuildMessage(), "api uuid_audio_stream u1 start ws://h/x mono 8k {}"},
		{"fork stop", forkStop("u1", "audio_fork").BuildMessage(), "api uuid_audio_fork u1 stop ailb"},
		{"stream stop", forkStop("u1", "audio_stream").BuildMessage(), "api uuid_audio_stream u1 stop"},
	}
	for _, tt := range tests {
		if tt.give != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, tt.give, tt.want)
		}
	}
}

// The metadata is one argument of an api command that FreeSWITCH splits on
// spaces and reads for quotes and backslashes: whatever the caller's number
// and name hold, it must arrive as one token and decode to the same values.
func FuzzMetadata(f *testing.F) {
	f.Add("+15551234", "1000")
	f.Add(`O'Brien "x" \ y`, "☎ 𝄞")
	f.Fuzz(func(t *testing.T, from, to string) {
		c := &call{id: "0123abcd", info: media.CallInfo{From: from, To: to}}
		m := c.metadata("0123abcd-1")
		if strings.ContainsAny(m, " '\t\r\n") || strings.Contains(strings.ReplaceAll(m, `\u`, ""), `\`) {
			t.Fatalf("metadata %q is not one safe token", m)
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(m), &got); err != nil {
			t.Fatalf("metadata %q is not JSON: %v", m, err)
		}
		// Invalid UTF-8 bytes arrive as U+FFFD, one each.
		if got["from"] != string([]rune(from)) || got["to"] != string([]rune(to)) || got["call_id"] != "0123abcd" {
			t.Fatalf("metadata %q decodes to %v", m, got)
		}
	})
}

// The per-call setup goes out as built before, whatever was prebuilt.
func TestSetupCommandsGolden(t *testing.T) {
	st := newSetup(10, true)
	tests := []struct{ give, want string }{
		{st.linger.BuildMessage(), "linger 10"},
		{st.myEvents.BuildMessage(), "myevents plain"},
		{st.nixEvents.BuildMessage(), "nixevent plain " + strings.Join(unusedEvents, " ")},
		{setVars("u1", st.vars, media.Var{Name: "ailb_route", Value: "a;b"}).BuildMessage(),
			"api uuid_setvar_multi u1 continue_on_fail=true;hangup_after_bridge=false;ignore_early_media=true;" +
				"sip_copy_custom_headers=false;send_silence_when_idle=-1;ailb_route=a,b"},
		{setVars("u1", "", media.Var{Name: "x", Value: "1"}, media.Var{Name: "y", Value: ";2;"}).BuildMessage(),
			"api uuid_setvar_multi u1 x=1;y=,2,"},
	}
	for _, tt := range tests {
		if tt.give != tt.want {
			t.Errorf("got  %q\nwant %q", tt.give, tt.want)
		}
	}
	if v := newSetup(10, false).vars; strings.Contains(v, "send_silence_when_idle") {
		t.Errorf("SIP-only setup sets %q", v)
	}
}
