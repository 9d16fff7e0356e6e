package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"ailb/esl/fssim"
)

func TestClassify(t *testing.T) {
	ok := fssim.Bridge{Endpoints: []string{"sofia/internal/ai-1@127.0.0.1"}, Outcome: "SUCCESS", Answered: true}
	busy := fssim.Bridge{Endpoints: []string{"sofia/internal/ai-2@127.0.0.1"}, Outcome: "USER_BUSY"}
	tests := []struct {
		name       string
		res        *fssim.Result
		err        error
		want       outcome
		wantDetail string
	}{
		{"answered first", &fssim.Result{End: "exit", HungUpBy: "app", Bridges: []fssim.Bridge{ok}}, nil, outAI, ""},
		{"answered after failover", &fssim.Result{End: "exit", HungUpBy: "app", Bridges: []fssim.Bridge{busy, ok}}, nil, outFailoverAI, ""},
		{"fallback assistant answered is a fallback", &fssim.Result{End: "exit", HungUpBy: "app", Bridges: []fssim.Bridge{busy, ok},
			Vars: map[string]string{"ailb_fallback": "assistant:spare"}}, nil, outFallback, ""},
		{"transferred", &fssim.Result{End: "exit", Bridges: []fssim.Bridge{busy}, Transferred: "1000 XML default"}, nil, outFallback, ""},
		{"back to the dialplan", &fssim.Result{End: "exit", ContinuedDialplan: true}, nil, outFallback, ""},
		{"switch hung up", &fssim.Result{End: "exit", HungUpBy: "switch", HangupCause: "USER_BUSY", Bridges: []fssim.Bridge{busy}}, nil, outSwitch, ""},
		{"caller hung up", &fssim.Result{End: "exit", HungUpBy: "caller", HangupCause: "ORIGINATOR_CANCEL"}, nil, outCaller, ""},
		{"dropped by the controller", &fssim.Result{End: "exit", HungUpBy: "app", HangupCause: "NORMAL_CLEARING", Bridges: []fssim.Bridge{busy}},
			nil, outDropped, "hung up by app (NORMAL_CLEARING); bridges: sofia/internal/ai-2@127.0.0.1=USER_BUSY"},
		{"dial error", nil, errors.New("connection refused"), outError, "connection refused"},
		{"connect timeout", &fssim.Result{End: "connect-timeout"}, nil, outError, "socket ended: connect-timeout; channel still up"},
		{"max duration", &fssim.Result{End: "max-duration", HungUpBy: "switch"}, nil, outError, "max-duration"},
		{"canceled", &fssim.Result{End: "canceled"}, context.Canceled, outError, "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.res, tt.err)
			if got.outcome != tt.want {
				t.Fatalf("outcome = %v (%s), want %v", got.outcome, got.detail, tt.want)
			}
			if !strings.Contains(got.detail, tt.wantDetail) {
				t.Errorf("detail = %q, want it to contain %q", got.detail, tt.wantDetail)
			}
			if tt.wantDetail == "" && got.detail != "" {
				t.Errorf("detail = %q for a call that did not fail", got.detail)
			}
		})
	}
}

// Only a dropped caller and an unplayable call count as failures.
func TestOutcomeFailure(t *testing.T) {
	want := [numOutcomes]bool{outDropped: true, outError: true}
	for o := range numOutcomes {
		if o.failure() != want[o] {
			t.Errorf("%v.failure() = %v", o, o.failure())
		}
	}
}

func TestSetupLatency(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }
	cmd := func(ms float64, line string, headers ...[2]string) fssim.Command {
		return fssim.Command{At: at(ms), Line: line, Headers: headers}
	}
	bridge := func(ms float64) fssim.Command {
		return cmd(ms, "sendmsg x", [2]string{"call-command", "execute"}, [2]string{"execute-app-name", "bridge"}, [2]string{"execute-app-arg", "sofia/internal/ai@h"})
	}
	tests := []struct {
		name      string
		connected time.Time
		cmds      []fssim.Command
		want      time.Duration
	}{
		{"bridge", at(0), []fssim.Command{cmd(-1, "connect"), cmd(0.1, "linger 10"), cmd(0.2, "myevents plain"), bridge(0.5)}, 500 * time.Microsecond},
		{"set executes do not count", at(0), []fssim.Command{cmd(-1, "connect"),
			cmd(1, "sendmsg x", [2]string{"call-command", "execute"}, [2]string{"execute-app-name", "set"}), bridge(3)}, 3 * time.Millisecond},
		{"audio fork start", at(0), []fssim.Command{cmd(-1, "connect"), cmd(0.3, "api uuid_audio_fork x start ws://h/c mono 8k")}, 300 * time.Microsecond},
		{"audio stream start via bgapi", at(0), []fssim.Command{cmd(-1, "connect"), cmd(0.4, "bgapi uuid_audio_stream x start ws://h/c mono 8k")}, 400 * time.Microsecond},
		{"audio fork stop does not count", at(0), []fssim.Command{cmd(-1, "connect"), cmd(0.3, "api uuid_audio_fork x stop"), bridge(2)}, 2 * time.Millisecond},
		{"no bridge", at(0), []fssim.Command{cmd(-1, "connect"), cmd(1, "linger 10"), cmd(2, "exit")}, -1},
		{"no connect reply", time.Time{}, []fssim.Command{cmd(-1, "connect"), bridge(1)}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &fssim.Result{ConnectReplyAt: tt.connected, Commands: tt.cmds}
			if got := setupLatency(res); got != tt.want {
				t.Errorf("setupLatency = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFailoverLatencies(t *testing.T) {
	t0 := time.Unix(100, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	cmd := func(ms int, app string) fssim.Command {
		return fssim.Command{At: at(ms), Line: "sendmsg u", Headers: [][2]string{{"execute-app-name", app}}}
	}
	res := &fssim.Result{
		Bridges: []fssim.Bridge{
			{Outcome: "USER_BUSY", End: at(10)},
			{Outcome: "NORMAL_TEMPORARY_FAILURE", End: at(50)},
		},
		Commands: []fssim.Command{
			cmd(0, "bridge"), {At: at(11), Line: "api uuid_setvar_multi u ailb_last_failure=USER_BUSY"},
			cmd(12, "bridge"), cmd(51, "answer"), cmd(75, "play_and_get_digits"),
		},
	}
	next, toPrompt := failoverLatencies(res)
	if len(next) != 1 || next[0] != 2*time.Millisecond || toPrompt != 25*time.Millisecond {
		t.Fatalf("next %v to prompt %v", next, toPrompt)
	}
	// The caller hanging up is no failover.
	res.Bridges = []fssim.Bridge{{Outcome: "ORIGINATOR_CANCEL", End: at(10)}}
	if next, toPrompt := failoverLatencies(res); len(next) != 0 || toPrompt != -1 {
		t.Fatalf("caller hangup counted: %v %v", next, toPrompt)
	}
}
