package esl

import (
	"fmt"
	"strings"

	"github.com/percipia/eslgo/command"
)

// Command is eslgo's command value: the message without its terminating
// blank line. eslgo's connection-level types (command.Linger,
// command.MyEvents, command.Event, command.API, command.Exit, ...) are used
// as they are; the types below cover what eslgo lacks or builds
// nondeterministically (its sendmsg headers come from a map).
type Command = command.Command

// Execute runs a dialplan application on a channel (sendmsg execute).
type Execute struct {
	UUID      string // target channel
	App       string
	Arg       string
	EventUUID string // becomes Application-UUID on the app's events
	Lock      bool   // event-lock: the next queued message waits for this app
}

// BuildMessage implements Command.
func (e Execute) BuildMessage() string {
	var b strings.Builder
	b.Grow(96 + len(e.UUID) + len(e.App) + len(e.Arg) + len(e.EventUUID))
	b.WriteString("sendmsg ")
	b.WriteString(e.UUID)
	b.WriteString("\ncall-command: execute\nexecute-app-name: ")
	b.WriteString(e.App)
	if e.Arg != "" {
		b.WriteString("\nexecute-app-arg: ")
		b.WriteString(e.Arg)
	}
	if e.Lock {
		b.WriteString("\nevent-lock: true")
	}
	if e.EventUUID != "" {
		b.WriteString("\nEvent-UUID: ")
		b.WriteString(e.EventUUID)
	}
	return b.String()
}

// Hangup ends a channel (sendmsg call-command hangup).
type Hangup struct {
	UUID  string
	Cause string // a FreeSWITCH cause name; empty means NORMAL_CLEARING
}

// BuildMessage implements Command.
func (h Hangup) BuildMessage() string {
	cause := h.Cause
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	return "sendmsg " + h.UUID + "\ncall-command: hangup\nhangup-cause: " + cause
}

// Getvar reads a channel variable of the controlled channel. An unset
// variable answers "-ERR command not found".
type Getvar struct{ Name string }

// BuildMessage implements Command.
func (g Getvar) BuildMessage() string { return "getvar " + g.Name }

// Resume makes FreeSWITCH continue the dialplan when the socket closes.
type Resume struct{}

// BuildMessage implements Command.
func (Resume) BuildMessage() string { return "resume" }

// checkMessage refuses a message that would not reach FreeSWITCH as one
// command: FreeSWITCH ends a command at the first empty line and splits
// headers at every LF (CR is dropped), so a stray CR or LF in a value
// would end the command early or add a header of the sender's choosing.
func checkMessage(msg string) error {
	if msg == "" {
		return fmt.Errorf("esl: empty command")
	}
	if msg[0] == '\n' || msg[len(msg)-1] == '\n' {
		return fmt.Errorf("esl: command %q: leading or trailing line break", truncate(msg, 40))
	}
	if strings.Contains(msg, "\n\n") {
		return fmt.Errorf("esl: command %q: blank line inside", truncate(msg, 40))
	}
	if i := strings.IndexAny(msg, "\r\x00"); i >= 0 {
		return fmt.Errorf("esl: command %q: control byte %#x", truncate(msg, 40), msg[i])
	}
	return nil
}

// CheckValue reports whether s can be placed in a command header value or
// argument: no CR, LF or NUL.
func CheckValue(s string) error {
	if i := strings.IndexAny(s, "\r\n\x00"); i >= 0 {
		return fmt.Errorf("value %q contains control byte %#x", truncate(s, 40), s[i])
	}
	return nil
}
