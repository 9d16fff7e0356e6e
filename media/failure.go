package media

import (
	"strings"

	"ailb/esl"
)

// Kind classifies how an attempt to reach an assistant ended.
type Kind string

// Outcome kinds.
const (
	Answered    Kind = "answered"
	Busy        Kind = "busy"
	NoAnswer    Kind = "no_answer"
	Unreachable Kind = "unreachable"
	Rejected    Kind = "rejected"
	Timeout     Kind = "timeout"
	CallerGone  Kind = "caller_gone"
	StreamError Kind = "stream_error"
)

// Failure is an attempt that did not connect the caller to the assistant.
// It carries its own verdict: what FreeSWITCH said, whether it counts
// against the assistant's breaker, and whether the call may move on.
type Failure struct {
	Kind      Kind
	Cause     string // FreeSWITCH cause (originate_disposition or Hangup-Cause)
	SIPStatus string // sip_invite_failure_status, when the far end answered with one
	// Dropped means FreeSWITCH hung up the caller because of this failure
	// (a bridge without continue_on_fail): the caller is lost.
	Dropped bool
}

func (f *Failure) Error() string {
	s := "assistant " + string(f.Kind)
	if f.Cause != "" {
		s += " (" + f.Cause
		if f.SIPStatus != "" {
			s += ", sip " + f.SIPStatus
		}
		s += ")"
	}
	return s
}

// ErrNoOutcome ends an attempt that has no outcome to report (the call
// went away, or the slot was not used): it counts neither way.
var ErrNoOutcome error = &Failure{Kind: CallerGone}

// CountsAgainst reports whether the failure is the assistant's: a caller
// hanging up first is neither success nor failure.
func (f *Failure) CountsAgainst() bool { return f.Kind != CallerGone }

// Excluded tells a breaker the attempt counts neither way.
func (f *Failure) Excluded() bool { return !f.CountsAgainst() }

// TryNext reports whether another member may be tried on this call.
func (f *Failure) TryNext() bool { return f.Kind != CallerGone && !f.Dropped }

// Transient reports a failure worth one more try on the same assistant
// (503 / NORMAL_TEMPORARY_FAILURE).
func (f *Failure) Transient() bool {
	return f.Cause == "NORMAL_TEMPORARY_FAILURE" || f.SIPStatus == "503"
}

// Result is the metrics label of the attempt's outcome.
func (f *Failure) Result() string {
	switch f.Kind {
	case Busy, NoAnswer, Timeout, StreamError:
		return string(f.Kind)
	case CallerGone:
		return "caller_gone"
	}
	return "failed"
}

// causeKinds maps FreeSWITCH causes (originate_disposition) and DIALSTATUS
// values to outcome kinds. Anything else is Unreachable.
var causeKinds = map[string]Kind{
	"SUCCESS": Answered, "ANSWER": Answered, "EARLY": Answered, "call accepted": Answered,
	"USER_BUSY": Busy, "BUSY": Busy,
	"NO_ANSWER": NoAnswer, "NOANSWER": NoAnswer, "NO_USER_RESPONSE": NoAnswer,
	"ALLOTTED_TIMEOUT": Timeout, "RECOVERY_ON_TIMER_EXPIRE": Timeout, "PROGRESS_TIMEOUT": Timeout,
	"ORIGINATOR_CANCEL": CallerGone, "CANCEL": CallerGone, "LOSE_RACE": CallerGone,
	"CALL_REJECTED": Rejected, "DONTCALL": Rejected, "UNALLOCATED_NUMBER": Rejected,
	"INCOMPATIBLE_DESTINATION": Rejected, "INVALID_NUMBER_FORMAT": Rejected, "NUMBER_CHANGED": Rejected,
	"FACILITY_REJECTED": Rejected, "OUTGOING_CALL_BARRED": Rejected, "BEARERCAPABILITY_NOTAUTH": Rejected,
}

// kindOf classifies a cause. "failure" and INVALIDARGS are the values a
// bridge leaves while it runs; they mean nothing final.
func kindOf(cause string) (Kind, bool) {
	if cause == "" || cause == "failure" || cause == "INVALIDARGS" {
		return "", false
	}
	if k, ok := causeKinds[cause]; ok {
		return k, true
	}
	if strings.ToUpper(cause) != cause {
		return "", false
	}
	return Unreachable, true
}

// Classify reads the outcome of a bridge from its CHANNEL_EXECUTE_COMPLETE.
// Application-Response is always _none_ for bridge; the result is in
// originate_disposition, then DIALSTATUS. originate_failed_cause and
// last_bridge_* survive from earlier bridges and are not read.
func Classify(ev *esl.Event) *Failure {
	f := &Failure{SIPStatus: ev.Var("sip_invite_failure_status")}
	for _, v := range []string{"originate_disposition", "DIALSTATUS"} {
		c := ev.Var(v)
		if k, ok := kindOf(c); ok {
			f.Kind, f.Cause = k, c
			break
		}
	}
	if f.Kind == "" {
		// Neither was set (a bridge that never started): fall back on the
		// SIP answer if there is one, else count it as unreachable.
		f.Kind, f.Cause = Unreachable, "DESTINATION_OUT_OF_ORDER"
		switch f.SIPStatus {
		case "486", "600":
			f.Kind, f.Cause = Busy, "USER_BUSY"
		case "401", "403", "404", "407", "603", "608":
			f.Kind, f.Cause = Rejected, "CALL_REJECTED"
		}
	}
	if f.Kind == Answered {
		return nil
	}
	if f.SIPStatus != "" && !sipMatches(f) {
		f.SIPStatus = "" // stale: the variable survives from an earlier bridge
	}
	return f
}

// sipMatches reports whether a SIP status agrees with the cause (Sofia's
// mapping of SIP answers to causes).
func sipMatches(f *Failure) bool {
	switch f.SIPStatus {
	case "486", "600":
		return f.Kind == Busy
	case "401", "403", "404", "407", "488", "603", "606", "608":
		return f.Kind == Rejected
	case "503", "500", "400", "481":
		return f.Cause == "NORMAL_TEMPORARY_FAILURE"
	case "502":
		return f.Cause == "NETWORK_OUT_OF_ORDER"
	case "408", "504":
		return f.Kind == Timeout
	case "480":
		return f.Kind == NoAnswer
	}
	return false
}

// ClassifyHangup reads a CHANNEL_HANGUP that arrived while a bridge ran.
// With continue_on_fail missing, FreeSWITCH hangs up the caller with the
// bridge's cause (recording b2): that is the assistant's failure and the
// caller is lost. Otherwise the caller hung up.
func ClassifyHangup(ev *esl.Event) *Failure {
	cause := ev.Get("Hangup-Cause")
	if k, ok := kindOf(ev.Var("originate_disposition")); ok && k != CallerGone && k != Answered {
		return &Failure{Kind: k, Cause: ev.Var("originate_disposition"), SIPStatus: ev.Var("sip_invite_failure_status"), Dropped: true}
	}
	return &Failure{Kind: CallerGone, Cause: cause}
}
