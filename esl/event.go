package esl

import (
	"strconv"
	"strings"
)

// Event names the call flow reads.
const (
	ChannelBridge          = "CHANNEL_BRIDGE"
	ChannelExecuteComplete = "CHANNEL_EXECUTE_COMPLETE"
	ChannelHangup          = "CHANNEL_HANGUP"
	ChannelHangupComplete  = "CHANNEL_HANGUP_COMPLETE"
	DTMF                   = "DTMF"
	Custom                 = "CUSTOM"
)

// Event is one text/event-plain message: URL-encoded headers and, for
// events that carry one (CUSTOM, BACKGROUND_JOB), a body.
type Event struct {
	Headers
	Body string
	// Local carries the payload of an event injected by ailb itself (see
	// Session.Inject); nil for events from FreeSWITCH.
	Local any
}

// LocalEvent is the Event-Name of injected events.
const LocalEvent = "AILB_LOCAL"

// ParseEvent splits a text/event-plain frame body into headers and body.
func ParseEvent(s string) (*Event, error) {
	// FreeSWITCH writes the headers (values URL-encoded, so no line is
	// empty), a blank line, and a body only for events that carry one
	// (CUSTOM, BACKGROUND_JOB), after a last Content-Length header. Channel
	// events end at the blank line: no scan for it.
	if strings.HasPrefix(s, "Event-Name:") && strings.HasSuffix(s, "\n\n") &&
		!strings.HasPrefix(s, "Event-Name: CUSTOM\n") && !strings.HasPrefix(s, "Event-Name: BACKGROUND_JOB\n") {
		return &Event{Headers: Headers{raw: s[:len(s)-1], encoded: true}}, nil
	}
	hdr, rest := s, ""
	if i := strings.Index(s, "\n\n"); i >= 0 {
		hdr, rest = s[:i+1], s[i+2:]
	}
	ev := &Event{Headers: Headers{raw: hdr, encoded: true}}
	if !strings.HasPrefix(hdr, "Event-Name:") && !ev.Has("Event-Name") {
		return nil, &ProtocolError{Reason: "event without Event-Name"}
	}
	if cl, ok := ev.lookupRaw("Content-Length"); ok {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > len(rest) {
			return nil, &ProtocolError{Reason: "event body length " + truncate(cl, 32) + " does not match"}
		}
		ev.Body = rest[:n]
	}
	return ev, nil
}

// Name is Event-Name.
func (e *Event) Name() string { return e.Get("Event-Name") }

// Is reports whether the event is named name. It avoids decoding.
func (e *Event) Is(name string) bool {
	v, _ := e.lookupRaw("Event-Name")
	return v == name
}

// UniqueID is the channel the event is about.
func (e *Event) UniqueID() string { return e.Get("Unique-ID") }

// AppUUID is the Application-UUID: the Event-UUID sent with the execute.
func (e *Event) AppUUID() string { return e.Get("Application-UUID") }

// Subclass is Event-Subclass of a CUSTOM event.
func (e *Event) Subclass() string { return e.Get("Event-Subclass") }

// Sequence is FreeSWITCH's global Event-Sequence counter (0 when absent).
func (e *Event) Sequence() uint64 {
	v, _ := e.lookupRaw("Event-Sequence")
	n, _ := strconv.ParseUint(v, 10, 64)
	return n
}
