package esl

import (
	"strings"
	"testing"

	"github.com/percipia/eslgo/command"
)

// Every command's exact bytes, as FreeSWITCH's read_packet parses them.
func TestCommandGolden(t *testing.T) {
	tests := []struct {
		name string
		give Command
		want string
	}{
		{"connect", command.Connect{}, "connect"},
		{"linger", command.Linger{Enabled: true, Seconds: 10}, "linger 10"},
		{"myevents", command.MyEvents{Format: "plain"}, "myevents plain"},
		{"nixevent", command.Event{Ignore: true, Format: "plain", Listen: []string{"CHANNEL_STATE", "DTMF"}}, "nixevent plain CHANNEL_STATE DTMF"},
		{"event custom", command.Event{Format: "plain", Listen: []string{"CUSTOM", "mod_audio_fork::connect"}}, "event plain CUSTOM mod_audio_fork::connect"},
		{"api", command.API{Command: "uuid_setvar_multi", Arguments: "u1 a=1;b=2"}, "api uuid_setvar_multi u1 a=1;b=2"},
		{"exit", command.Exit{}, "exit"},
		{"execute", Execute{UUID: "u1", App: "bridge", Arg: "{originate_timeout=4}sofia/gateway/ai/100", EventUUID: "e1", Lock: true},
			"sendmsg u1\ncall-command: execute\nexecute-app-name: bridge\nexecute-app-arg: {originate_timeout=4}sofia/gateway/ai/100\nevent-lock: true\nEvent-UUID: e1"},
		{"execute no arg", Execute{UUID: "u1", App: "answer", EventUUID: "e2"},
			"sendmsg u1\ncall-command: execute\nexecute-app-name: answer\nEvent-UUID: e2"},
		{"hangup", Hangup{UUID: "u1", Cause: "USER_BUSY"}, "sendmsg u1\ncall-command: hangup\nhangup-cause: USER_BUSY"},
		{"hangup default", Hangup{UUID: "u1"}, "sendmsg u1\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING"},
		{"getvar", Getvar{Name: "DIALSTATUS"}, "getvar DIALSTATUS"},
		{"resume", Resume{}, "resume"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.give.BuildMessage()
			if got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
			if err := checkMessage(got); err != nil {
				t.Fatalf("golden message refused: %v", err)
			}
		})
	}
}

func TestCheckMessageRefusesInjection(t *testing.T) {
	tests := []struct {
		name string
		give string
	}{
		{"empty", ""},
		{"blank line ends the command", "sendmsg u\ncall-command: execute\n\ncall-command: hangup"},
		{"CR", "api uuid_setvar u x a\rb"},
		{"trailing LF", "exit\n"},
		{"leading LF", "\nexit"},
		{"NUL", "api x\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkMessage(tt.give); err == nil {
				t.Fatalf("accepted %q", tt.give)
			}
		})
	}
	// An Execute whose argument smuggles a header is refused at the session.
	msg := Execute{UUID: "u", App: "set", Arg: "x=1\ncall-command: hangup"}.BuildMessage()
	if strings.Count(msg, "call-command") != 2 {
		t.Fatal("test precondition")
	}
	if err := CheckValue("x=1\ncall-command: hangup"); err == nil {
		t.Fatal("CheckValue accepted a LF")
	}
}
