package main

import (
	"fmt"
	"strings"
	"time"

	"ailb/esl/fssim"
)

// outcome is what became of one caller.
type outcome uint8

const (
	outAI         outcome = iota // an assistant answered the first bridge
	outFailoverAI                // an assistant answered after earlier attempts failed
	outFallback                  // a fallback took the call: ailb_fallback, a transfer, or the dialplan after `socket`
	outSwitch                    // the switch hung up (a failed bridge without continue_on_fail, max duration)
	outCaller                    // the caller hung up first
	outDropped                   // the controller hung up a caller that nobody took: a failure
	outError                     // the call could not be played (socket error, timeout, interrupted): a failure
	numOutcomes
)

func (o outcome) String() string {
	switch o {
	case outAI:
		return "ai"
	case outFailoverAI:
		return "failover_ai"
	case outFallback:
		return "fallback"
	case outSwitch:
		return "switch_hangup"
	case outCaller:
		return "caller_hangup"
	case outDropped:
		return "dropped"
	case outError:
		return "error"
	}
	return "unknown"
}

func (o outcome) failure() bool { return o == outDropped || o == outError }

// callResult is the little a run keeps of a call: the simulator's Result
// (every command and event) is dropped as soon as it is classified.
type callResult struct {
	setup   time.Duration // connect reply -> first bridge or stream start; <0 if none
	outcome outcome
	detail  string // failures only
	// failovers: an assistant's failure on the wire (the bridge's outcome
	// sent) -> the next attempt's command received, for each one.
	failovers []time.Duration
	// toPrompt: the last assistant failure -> the IVR's first prompt
	// (play_and_get_digits); <0 when no menu followed.
	toPrompt time.Duration
}

// classify turns what the simulator saw into a callResult.
func classify(res *fssim.Result, err error) callResult {
	r := callResult{setup: -1, toPrompt: -1}
	if res != nil {
		r.setup = setupLatency(res)
		r.failovers, r.toPrompt = failoverLatencies(res)
	}
	switch {
	case err != nil:
		r.outcome, r.detail = outError, err.Error()
		return r
	case res == nil:
		r.outcome, r.detail = outError, "no result"
		return r
	}
	switch res.End {
	case "connect-timeout", "max-duration":
		r.outcome, r.detail = outError, "socket ended: "+res.End+describe(res)
		return r
	}
	answered := -1
	for i, b := range res.Bridges {
		if b.Answered {
			answered = i
			break
		}
	}
	switch {
	case res.Vars["ailb_fallback"] != "":
		r.outcome = outFallback
	case answered == 0:
		r.outcome = outAI
	case answered > 0:
		r.outcome = outFailoverAI
	case res.Transferred != "" || res.ContinuedDialplan:
		r.outcome = outFallback
	case res.HungUpBy == "switch":
		r.outcome = outSwitch
	case res.HungUpBy == "caller":
		r.outcome = outCaller
	default:
		r.outcome, r.detail = outDropped, "nobody took the caller"+describe(res)
	}
	return r
}

// describe is a failed call's story for the failure list.
func describe(res *fssim.Result) string {
	var b strings.Builder
	if res.HungUpBy != "" {
		fmt.Fprintf(&b, "; hung up by %s (%s)", res.HungUpBy, res.HangupCause)
	} else {
		b.WriteString("; channel still up")
	}
	if len(res.Bridges) > 0 {
		b.WriteString("; bridges:")
		for _, br := range res.Bridges {
			fmt.Fprintf(&b, " %s=%s", strings.Join(br.Endpoints, "|"), br.Outcome)
		}
	}
	fmt.Fprintf(&b, "; socket end %s; %d commands", res.End, len(res.Commands))
	return b.String()
}

// setupLatency is the time from the connect reply to the first command that
// connects the caller to an assistant: a bridge execute, or an audio stream
// start (uuid_audio_fork / uuid_audio_stream, api or bgapi). The switch
// stamps the reply just before writing it.
func setupLatency(res *fssim.Result) time.Duration {
	if res.ConnectReplyAt.IsZero() {
		return -1
	}
	for i := range res.Commands {
		if c := &res.Commands[i]; isSetupCommand(c) {
			return c.At.Sub(res.ConnectReplyAt)
		}
	}
	return -1
}

func isSetupCommand(c *fssim.Command) bool {
	line := c.Line
	switch {
	case strings.HasPrefix(line, "sendmsg"):
		return strings.EqualFold(c.Header("call-command"), "execute") && strings.EqualFold(c.App(), "bridge")
	case strings.HasPrefix(line, "api "):
		line = line[4:]
	case strings.HasPrefix(line, "bgapi "):
		line = line[6:]
	default:
		return false
	}
	// uuid_audio_fork <uuid> start <url> ...
	f := strings.Fields(line)
	return len(f) >= 3 && (f[0] == "uuid_audio_fork" || f[0] == "uuid_audio_stream") && f[2] == "start"
}

// failoverLatencies reads, from what the switch saw, how fast ailb moved on
// after an assistant failed: from each failed bridge's outcome on the wire
// to the next bridge command, and from the last one to the IVR's first
// prompt (play_and_get_digits), when a menu followed.
func failoverLatencies(res *fssim.Result) (next []time.Duration, toPrompt time.Duration) {
	toPrompt = -1
	var last time.Time
	for _, b := range res.Bridges {
		if b.Answered || b.Outcome == "ORIGINATOR_CANCEL" {
			continue
		}
		last = b.End
		for _, c := range res.Commands {
			if c.At.After(b.End) && c.App() == "bridge" {
				next = append(next, c.At.Sub(b.End))
				break
			}
		}
	}
	if !last.IsZero() {
		for _, c := range res.Commands {
			if c.At.After(last) && c.App() == "play_and_get_digits" {
				toPrompt = c.At.Sub(last)
				break
			}
		}
	}
	return next, toPrompt
}
