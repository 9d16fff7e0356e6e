// Package fssim is a FreeSWITCH stand-in that dials an outbound ESL server
// like the dialplan application `socket ADDR async full` and plays one call
// on it.
//
// Every byte it writes follows the transcripts recorded from a real
// FreeSWITCH (recordings/, embedded): the connect reply, the events with their
// header sets and channel variables, the command replies and the disconnect
// notices. Behaviour the transcripts do not show follows the FreeSWITCH
// source (mod_event_socket.c, switch_ivr*.c, mod_dptools.c, mod_commands.c).
//
// Scope: the socket commands of mod_event_socket (with the full gate);
// the apis uuid_setvar, uuid_setvar_multi, uuid_getvar, uuid_exists,
// uuid_kill, uuid_break and uuid_transfer, and the audio-streaming modules'
// uuid_audio_fork and uuid_audio_stream (any other api answers
// "-ERR <name> Command not found!", as without the module); the apps set,
// export, unset, multiset, multiunset, answer, pre_answer, ring_ready,
// playback, sleep, hangup, transfer, bridge, play_and_get_digits and
// sched_hangup, plus a few no-ops (log, info, ...). Any other app name hangs
// the call up with DESTINATION_OUT_OF_ORDER, as FreeSWITCH does for an
// unknown app. Only the controlled channel's events exist (no B-leg
// events); the only CUSTOM events are the audio modules' (media.go), which
// also stream the caller's audio (Call.Audio) to a WebSocket server and
// play its audio back (Stream.Heard), following the WebSocket transcripts
// in testdata/ws. `event json|xml` is answered as FreeSWITCH does but
// events stay plain.
package fssim

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"time"
)

// Switch dials an outbound ESL server and simulates calls on it. The zero
// value of every field except Addr is usable; a Switch may run many calls at
// once.
type Switch struct {
	// Addr is the outbound server address to dial, e.g. "127.0.0.1:8084".
	Addr string
	// Tick is the park loop period that paces queued executes; 0 means 20ms
	// (as recorded). Scale applies to it.
	Tick time.Duration
	// Scale multiplies every simulated delay (ring time, talk time, playback,
	// linger, ticks, the caller's timing in Call and DTMF); 0 means 1.
	Scale float64
	// Targets decide bridge outcomes by endpoint; the first match wins; no
	// match means Answer.
	Targets []Target
	// NotFull simulates `socket ADDR async` without `full`: commands past the
	// full gate (api, event, linger, ...) answer "-ERR command not found".
	NotFull bool
	// SocketArg is the socket application's argument as the dialplan wrote
	// it (variable current_application_data, Application-Data of its
	// completion); default "<Addr> async full" ("<Addr> async" if NotFull).
	SocketArg string
	// Dial opens the connection; nil means a net.Dialer.
	Dial func(ctx context.Context, addr string) (net.Conn, error)

	// WSTLS configures wss:// streams (nil: system roots).
	WSTLS *tls.Config
	// WSConnectTimeout bounds an audio stream's connect and upgrade (real
	// time); 0 means 10 s. A timeout is a connect failure.
	WSConnectTimeout time.Duration
	// MaxHeard bounds Stream.Heard (audio time, per stream); 0 means 10 s,
	// negative keeps none (load tests). Longer playout is only counted in
	// HeardSamples.
	MaxHeard time.Duration
}

// Target is one bridge outcome rule.
type Target struct {
	// Match is a substring matched against one endpoint of the dial string,
	// with its {..}/[..] variables removed.
	Match   string
	Outcome Outcome
}

// Kind is how a bridged endpoint behaves.
type Kind int

// Bridge outcomes, with the SIP response and cause FreeSWITCH reports.
const (
	Answer      Kind = iota // 180 then 200 OK after Outcome.After
	Busy                    // 486 Busy Here, USER_BUSY
	Unreachable             // 503 Service Unavailable, NORMAL_TEMPORARY_FAILURE
	NoAnswer                // 180 and never answers: NO_ANSWER or ALLOTTED_TIMEOUT
	Reject                  // 403 Forbidden, CALL_REJECTED
	NotFound                // 404 Not Found, UNALLOCATED_NUMBER
)

// Outcome is how one bridge endpoint behaves.
type Outcome struct {
	// Kind: Answer, Busy (486/USER_BUSY), Unreachable
	// (503/NORMAL_TEMPORARY_FAILURE), NoAnswer (rings until
	// {originate_timeout} / [leg_timeout] or 60 s), Reject (403/CALL_REJECTED),
	// NotFound (404/UNALLOCATED_NUMBER).
	Kind Kind
	// After is the time to answer (Answer; default 520ms as recorded) or to
	// fail (default 20ms). Scaled.
	After time.Duration
	// TalkFor: for Answer, the AI leg hangs up this long after answering; 0
	// keeps it until the caller hangs up. Scaled.
	TalkFor time.Duration
}

// Call is one inbound call handed to the socket application.
type Call struct {
	// UUID of the channel; default: random v4.
	UUID string
	// Caller id name and number, destination number and dialplan context;
	// defaults are the recording's ("sipp caller", "sipp", "1000", "public").
	CallerIDName, CallerIDNumber, Destination, Context string
	// Vars are channel variables the dialplan set before `socket`, e.g.
	// ailb_route=sales; they appear in the connect reply and every event.
	Vars map[string]string
	// RawVarLines are extra raw lines (e.g. "variable_odd[name]: x") appended
	// verbatim to the connect reply's variables.
	RawVarLines []string
	// DropVars removes recorded variables from the connect reply (e.g.
	// "sip_subject" for a caller whose INVITE had no Subject).
	DropVars []string
	// HangupAfter: the caller hangs up this long after the connect reply; 0
	// means never. Scaled.
	HangupAfter time.Duration
	// HangupWhileRinging: the caller hangs up this long after a bridge starts
	// ringing; 0 means never. Scaled.
	HangupWhileRinging time.Duration
	// DTMF are the digits the caller presses.
	DTMF []DTMF
	// Garbage is written right after the connect reply (malformed-frame tests).
	Garbage []byte
	// OnSent, if set, sees each message as soon as it was written, from
	// the connection's goroutine (a load generator watching for a state).
	OnSent func(Sent)
	// MaxDuration is a safety net in real time: the switch hangs the call up
	// (ALLOTTED_TIMEOUT) and closes the socket after it; default 5 min.
	MaxDuration time.Duration
	// Audio is what the caller says into audio streams; nil means the
	// 1 kHz tone of the recordings (RecordedTone).
	Audio AudioSource
}

// DTMF is one burst of digits.
type DTMF struct {
	// After counts from the start of the next play_and_get_digits, or from
	// answer (or the end of the previous burst) if none starts first. Scaled.
	After time.Duration
	// Digits, one DTMF event each, terminator included (e.g. "1234#").
	Digits string
	// Gap between digits; default 400ms (as recorded). Scaled.
	Gap time.Duration
	// Duration is DTMF-Duration in samples; default 1600 (as recorded).
	Duration int
}

// Result is what happened on one call.
type Result struct {
	UUID           string
	ConnectReplyAt time.Time         // when the connect reply was written (taken before the write)
	Commands       []Command         // every command received, in order
	Sent           []Sent            // every message written, in order
	Bridges        []Bridge          // each bridge executed
	Apps           []AppRun          // each application executed, in order
	Vars           map[string]string // channel variables at the end
	// HangupCause is "" if the channel was still up when the socket ended.
	HangupCause string
	// HungUpBy: "caller", "app" (hangup app, call-command hangup, uuid_kill),
	// "switch" (failed bridge, unknown app, hangup_after_bridge,
	// sched_hangup, max duration) or "".
	HungUpBy string
	// Transferred is "ext XML ctx" once a transfer ran.
	Transferred string
	// ContinuedDialplan: the socket ended with the channel up and not
	// transferred, so FreeSWITCH runs the next action after `socket`.
	ContinuedDialplan bool
	// End is how the socket ended: "exit", "linger-timeout", "peer-closed",
	// "no-linger", "max-duration", "connect-timeout" (no connect within 25 s;
	// the caller stays parked) or "canceled" (ctx).
	End string
	// Streams are the uuid_audio_fork / uuid_audio_stream WebSockets, in
	// the order they were started.
	Streams []Stream
}

// Command is one command received from the outbound server.
type Command struct {
	At      time.Time
	Line    string      // the command line, e.g. "sendmsg <uuid>"
	Headers [][2]string // header lines in order, values as sent
	Body    string
}

// Header returns a header value (case-insensitive name).
func (c Command) Header(name string) string {
	for _, h := range c.Headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// App is execute-app-name of a sendmsg.
func (c Command) App() string { return c.Header("execute-app-name") }

// AppArg is execute-app-arg, or the text/plain body.
func (c Command) AppArg() string {
	if a := c.Header("execute-app-arg"); a != "" {
		return a
	}
	if strings.EqualFold(c.Header("content-type"), "text/plain") {
		return c.Body
	}
	return ""
}

// EventUUID is the Event-UUID of a sendmsg (Application-UUID of its events).
func (c Command) EventUUID() string { return c.Header("event-uuid") }

// Sent is one message written to the outbound server.
type Sent struct {
	At    time.Time
	Kind  string // "reply", "api", "event" or "notice"
	Event string // Event-Name, for events
	// Text is the Reply-Text of a reply (decoded), the body of an api
	// response, the Content-Disposition of a notice.
	Text string
	Size int // bytes written
}

// AppRun is one application the channel executed (a queued message
// flushed before it ran, e.g. by uuid_break all, is not one).
type AppRun struct {
	App, Arg   string // the argument as expanded
	UUID       string // Application-UUID
	Start, End time.Time
	Response   string // Application-Response
}

// Bridge is one bridge application run.
type Bridge struct {
	DialString string
	Endpoints  []string          // endpoints with {..}/[..] removed, in dial order
	Vars       map[string]string // the leading {..} variables
	Outcome    string            // originate_disposition: SUCCESS, USER_BUSY, NO_ANSWER, ...
	Answered   bool
	BLeg       string // uuid of the leg that answered, or of the last leg tried
	Start      time.Time
	AnsweredAt time.Time
	End        time.Time
}

// Run dials the outbound server, waits for `connect` (FreeSWITCH sends
// nothing first), plays the channel until the socket ends and returns what
// happened. An error means the socket could not be opened or ctx ended.
func (s *Switch) Run(ctx context.Context, c Call) (*Result, error) {
	tm := loadTemplates()
	dial := s.Dial
	if dial == nil {
		var d net.Dialer
		dial = func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	conn, err := dial(ctx, s.Addr)
	if err != nil {
		return nil, err
	}
	l := newListener(s, tm, conn, c)
	return l.run(ctx)
}

func (s *Switch) scale() float64 {
	if s.Scale <= 0 {
		return 1
	}
	return s.Scale
}

func (s *Switch) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.scale())
}

func (s *Switch) tick() time.Duration {
	t := s.Tick
	if t <= 0 {
		t = 20 * time.Millisecond
	}
	return s.scaled(t)
}
