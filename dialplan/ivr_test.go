package dialplan_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"ailb/dialplan"
	"ailb/esl/fssim"
)

var ivrConfig = strings.Replace(baseConfig, "ivr:\n", `ivr:
  account:
    prompt: 'say:Please enter your account number'
    collect: account
    min_digits: 4
    max_digits: 8
    regex: '^[0-9]{4,8}$'
    timeout: 1s
    tries: 2
    next: {action: extension, extension: "3000", context: accounts}
`, 1)

func ivrEnv(t *testing.T, targets []fssim.Target) *env {
	yaml := strings.Replace(ivrConfig, "  - name: menu\n", "  - name: acct\n    match: {destination: '^5'}\n    ivr: account\n  - name: menu\n", 1)
	return start(t, yaml, targets)
}

func pagdCount(res *fssim.Result) int {
	n := 0
	for _, c := range res.Commands {
		if c.App() == "play_and_get_digits" {
			n++
		}
	}
	return n
}

func TestIVRQuestionCollectsAnswer(t *testing.T) {
	e := ivrEnv(t, nil)
	res := e.call(fssim.Call{Destination: "5000", Vars: map[string]string{}, DTMF: []fssim.DTMF{{After: 200 * time.Millisecond, Digits: "123456#"}}})
	if res.Vars["ailb_ivr_account"] != "123456" || res.Transferred != "3000 XML accounts" {
		t.Fatalf("account %q transferred %q", res.Vars["ailb_ivr_account"], res.Transferred)
	}
	if n := pagdCount(res); n != 1 {
		t.Fatalf("%d play_and_get_digits", n)
	}
	var arg string
	for _, c := range res.Commands {
		if c.App() == "play_and_get_digits" {
			arg = c.AppArg()
		}
	}
	if !strings.Contains(arg, "'say:Please enter your account number'") || !strings.Contains(arg, " ailb_ivr_account ^[0-9]{4,8}$ ") {
		t.Fatalf("pagd args %q", arg)
	}
}

func TestIVRQuestionRetriesInvalidThenAccepts(t *testing.T) {
	e := ivrEnv(t, nil)
	res := e.call(fssim.Call{Destination: "5000", Vars: map[string]string{}, DTMF: []fssim.DTMF{
		{After: 200 * time.Millisecond, Digits: "12#"},   // too short: invalid
		{After: 200 * time.Millisecond, Digits: "4321#"}, // second try
	}})
	if res.Vars["ailb_ivr_account"] != "4321" || pagdCount(res) != 2 || res.Transferred != "3000 XML accounts" {
		t.Fatalf("account %q pagd %d transferred %q", res.Vars["ailb_ivr_account"], pagdCount(res), res.Transferred)
	}
}

// The caller gave the answer before (dialplan, IVR or assistant): not asked again.
func TestIVRQuestionSkippedWhenKnown(t *testing.T) {
	for _, v := range []string{"ailb_state_account", "ailb_ivr_account"} {
		t.Run(v, func(t *testing.T) {
			e := ivrEnv(t, nil)
			res := e.call(fssim.Call{Destination: "5000", Vars: map[string]string{v: "777777"}})
			if pagdCount(res) != 0 || res.Transferred != "3000 XML accounts" {
				t.Fatalf("pagd %d transferred %q", pagdCount(res), res.Transferred)
			}
		})
	}
}

// An assistant stores what it collected through the state API while the
// caller talks to it; when it hangs up, the fallback question is skipped.
func TestStateFromAssistantSkipsQuestion(t *testing.T) {
	yaml := strings.Replace(ivrConfig, "    fallback: {action: extension, extension: \"1000\", context: default}",
		"    fallback: {action: extension, extension: \"1000\", context: default}\n    after: {action: ivr, menu: account}", 1)
	e := start(t, yaml, []fssim.Target{{Outcome: fssim.Outcome{Kind: fssim.Answer, TalkFor: 1500 * time.Millisecond}}})
	flow := e.srv.Handler.(*dialplan.Flow)
	done := make(chan *fssim.Result)
	go func() { done <- e.call(fssim.Call{}) }()
	var id string
	for deadline := time.Now().Add(5 * time.Second); id == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ids := flow.LiveIDs(); len(ids) == 1 {
			id = ids[0]
		}
	}
	time.Sleep(30 * time.Millisecond) // let it bridge
	ctx := context.Background()
	if err := flow.SetState(ctx, id, "wrong", map[string]string{"account": "1"}); !errors.Is(err, dialplan.ErrBadToken) {
		t.Fatalf("wrong token: %v", err)
	}
	if err := flow.SetState(ctx, "nope", flow.TokenFor(id), map[string]string{"account": "1"}); !errors.Is(err, dialplan.ErrUnknownCall) {
		t.Fatalf("unknown call: %v", err)
	}
	if err := flow.SetState(ctx, id, flow.TokenFor(id), map[string]string{"Bad-Name": "1"}); !errors.Is(err, dialplan.ErrBadState) {
		t.Fatalf("bad name: %v", err)
	}
	if err := flow.SetState(ctx, id, flow.TokenFor(id), map[string]string{"account": "55 66", "name": "O'Brien \"jr\""}); err != nil {
		t.Fatalf("state: %v", err)
	}
	res := <-done
	if res.Vars["ailb_state_account"] != "55 66" || res.Vars["ailb_state_name"] != `O'Brien "jr"` {
		t.Fatalf("state on the channel: %q %q", res.Vars["ailb_state_account"], res.Vars["ailb_state_name"])
	}
	if pagdCount(res) != 0 || res.Transferred != "3000 XML accounts" {
		t.Fatalf("question asked again: pagd %d, transferred %q", pagdCount(res), res.Transferred)
	}
	if err := flow.SetState(ctx, id, "x", map[string]string{"a": "b"}); !errors.Is(err, dialplan.ErrUnknownCall) {
		t.Fatalf("ended call: %v", err)
	}
}

func TestIVRRepeatOption(t *testing.T) {
	yaml := strings.Replace(baseConfig, `      "9": {action: hangup, cause: CALL_REJECTED}`, `      "9": {action: hangup, cause: CALL_REJECTED}
      "*": {action: repeat}`, 1)
	yaml = strings.Replace(yaml, "    prompt: ivr/welcome.wav\n    timeout: 1s\n", "    prompt: ivr/welcome.wav\n    timeout: 6s\n", 1)
	e := start(t, yaml, nil)
	// play_and_get_digits flushes the channel's digits when it starts, so
	// "9" must come while the repeated prompt plays: 2 s (100 ms at the
	// simulator's scale) leaves ailb room to start it on a loaded machine,
	// within the 6 s timeout.
	res := e.call(fssim.Call{Destination: "8000", Vars: map[string]string{}, DTMF: []fssim.DTMF{
		{After: 100 * time.Millisecond, Digits: "*"}, {After: 2 * time.Second, Digits: "9"}}})
	if pagdCount(res) != 2 || res.HangupCause != "CALL_REJECTED" {
		t.Fatalf("pagd %d cause %q", pagdCount(res), res.HangupCause)
	}
}
