package media

import (
	"strconv"
	"time"
)

// EventKind names what happened on a stream.
type EventKind uint8

// Stream events, in the order they can happen. The last three end the
// stream; exactly one of them is reported, unless the owner closed the
// stream first (then none is).
const (
	EventFreeSWITCHConnected EventKind = iota + 1 // FreeSWITCH's socket arrived
	EventAssistantConnected                       // the assistant's handshake succeeded
	EventFirstAudio                               // the assistant's first audio frame
	EventState                                    // the assistant set collected values
	EventHandoff                                  // the assistant asked to move the caller on
	EventControlError                             // a control message broke a rule and was ignored
	EventFailed                                   // the assistant failed: Failure says why
	EventAssistantEnded                           // the assistant closed normally (1000)
	EventFreeSWITCHClosed                         // FreeSWITCH closed: hang-up, stop or graceful-shutdown
)

var eventNames = [...]string{
	EventFreeSWITCHConnected: "freeswitch_connected",
	EventAssistantConnected:  "assistant_connected",
	EventFirstAudio:          "first_audio",
	EventState:               "state",
	EventHandoff:             "handoff",
	EventControlError:        "control_error",
	EventFailed:              "failed",
	EventAssistantEnded:      "assistant_ended",
	EventFreeSWITCHClosed:    "freeswitch_closed",
}

func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// Terminal reports whether the event ends the stream.
func (k EventKind) Terminal() bool {
	return k == EventFailed || k == EventAssistantEnded || k == EventFreeSWITCHClosed
}

// Reasons a stream fails, in Failure.Cause of an EventFailed.
const (
	ReasonFreeSWITCHTimeout = "freeswitch_timeout" // FreeSWITCH never connected within ConnectTimeout
	ReasonConnectRefused    = "connect_refused"    // the assistant's TCP connect failed
	ReasonConnectTimeout    = "connect_timeout"    // no handshake within ConnectTimeout
	ReasonHandshake         = "handshake"          // the assistant answered the upgrade with an error
	ReasonNoAudio           = "no_audio"           // no audio within FirstAudioTimeout of connecting
	ReasonSilence           = "silence"            // no audio for SilenceTimeout after it spoke
	ReasonAbnormalClose     = "abnormal_close"     // closed with a code other than 1000, or dropped
	ReasonGarbage           = "garbage_frame"      // sent a frame that is not its protocol
	ReasonUnresponsive      = "unresponsive"       // no frame or pong within ReadTimeout, or writes stalled
)

// StreamEvent is one thing that happened on a stream.
type StreamEvent struct {
	Kind EventKind
	At   time.Time

	// EventFailed: Kind StreamError, Cause one of the Reason constants.
	Failure *Failure
	// Detail for EventFailed and EventControlError; for the closing
	// events, set when the socket ended abnormally. Holds no secrets.
	Err error
	// Spoke reports whether the assistant had sent audio before this
	// event: a failure before it spoke may move the caller to the next
	// member, one after goes to the fallback with what was collected.
	Spoke bool

	State   map[string]string // EventState: channel variables ailb_state_*
	Handoff *Handoff          // EventHandoff

	// EventFreeSWITCHConnected: "audio.drachtio.org" (mod_audio_fork) or
	// "" (mod_audio_stream).
	Subprotocol string
	// EventAssistantEnded, EventFreeSWITCHClosed: the Close code received
	// (1000 normal, 1006 dropped), 0 for graceful-shutdown's empty frame.
	CloseCode int
}
