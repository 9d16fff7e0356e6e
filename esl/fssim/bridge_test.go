package fssim

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseDialString(t *testing.T) {
	tests := []struct {
		give       string
		wantGlobal map[string]string
		wantGroups [][]string
		wantVars   []map[string]string // per leg, in order
	}{
		{
			give:       "{leg_timeout=15}sofia/internal/sip:ai@127.0.0.1:5090",
			wantGlobal: map[string]string{"leg_timeout": "15"},
			wantGroups: [][]string{{"sofia/internal/sip:ai@127.0.0.1:5090"}},
			wantVars:   []map[string]string{{}},
		},
		{
			give:       "{originate_timeout=20,sip_h_X-AILB-Call=abc}[leg_timeout=5,origination_uuid=u1]sofia/gw/a,sofia/gw/b|sofia/gw/c",
			wantGlobal: map[string]string{"originate_timeout": "20", "sip_h_X-AILB-Call": "abc"},
			wantGroups: [][]string{{"sofia/gw/a", "sofia/gw/b"}, {"sofia/gw/c"}},
			wantVars:   []map[string]string{{"leg_timeout": "5", "origination_uuid": "u1"}, {}, {}},
		},
		{
			give:       "{^^;a=1,2;b=x}[^^:c=3,4:d=y]user/1000",
			wantGlobal: map[string]string{"a": "1,2", "b": "x"},
			wantGroups: [][]string{{"user/1000"}},
			wantVars:   []map[string]string{{"c": "3,4", "d": "y"}},
		},
		{
			give:       "<ignore_early_media=true>{a='x,y'}sofia/p/1,sofia/p/2",
			wantGlobal: map[string]string{"a": "x,y"},
			wantGroups: [][]string{{"sofia/p/1", "sofia/p/2"}},
			wantVars:   []map[string]string{{"ignore_early_media": "true"}, {"ignore_early_media": "true"}},
		},
	}
	for _, tt := range tests {
		d := parseDialString(tt.give)
		if len(d.global) != len(tt.wantGlobal) {
			t.Errorf("%q: global %v", tt.give, d.global)
		}
		for k, v := range tt.wantGlobal {
			if d.global[k] != v {
				t.Errorf("%q: global %s=%q, want %q", tt.give, k, d.global[k], v)
			}
		}
		var groups [][]string
		var vars []map[string]string
		for _, g := range d.groups {
			var names []string
			for _, e := range g {
				names = append(names, e.target)
				vars = append(vars, e.vars)
			}
			groups = append(groups, names)
		}
		if !slices.EqualFunc(groups, tt.wantGroups, slices.Equal) {
			t.Errorf("%q: groups %q", tt.give, groups)
		}
		for i, want := range tt.wantVars {
			if len(vars[i]) != len(want) {
				t.Errorf("%q leg %d: vars %v", tt.give, i, vars[i])
			}
			for k, v := range want {
				if vars[i][k] != v {
					t.Errorf("%q leg %d: %s=%q, want %q", tt.give, i, k, vars[i][k], v)
				}
			}
		}
	}
	if u, ch := legNames("sofia/internal/sip:ai@127.0.0.1:5090;transport=tcp"); u != "ai" || ch != "sofia/internal/ai@127.0.0.1:5090" {
		t.Errorf("legNames: %q %q", u, ch)
	}
}

// bridgeCall answers, sets the recorded bridge variables and bridges.
func bridgeCall(t *testing.T, sw *Switch, call Call, vars []string, dial string) (*eslConn, string) {
	t.Helper()
	c := dialCall(t, sw, call)
	c.setup("linger 5")
	for _, v := range vars {
		c.run("set", v)
	}
	c.run("answer", "")
	return c, c.execute("bridge", dial)
}

// Ring groups: ',' rings at once (first answer wins), '|' tries in order.
func TestRingGroups(t *testing.T) {
	cof := []string{"continue_on_fail=true", "hangup_after_bridge=false"}
	tests := []struct {
		name        string
		targets     []Target
		dial        string
		wantBridge  string // Other-Leg-Destination-Number, "" = no bridge
		wantOutcome string
		wantCauses  []string
		wantDial    string
	}{
		{name: "simultaneous, one busy", dial: "sofia/p/sip:a@h,sofia/p/sip:b@h",
			targets:    []Target{{Match: "sip:a@", Outcome: Outcome{Kind: Busy}}, {Match: "sip:b@", Outcome: Outcome{After: 200 * time.Millisecond, TalkFor: time.Second}}},
			wantBridge: "b", wantOutcome: "SUCCESS", wantCauses: []string{"USER_BUSY", "NONE"}, wantDial: "SUCCESS"},
		{name: "simultaneous, first answer wins", dial: "sofia/p/sip:a@h,sofia/p/sip:b@h",
			targets:    []Target{{Match: "sip:a@", Outcome: Outcome{After: 900 * time.Millisecond}}, {Match: "sip:b@", Outcome: Outcome{After: 300 * time.Millisecond, TalkFor: time.Second}}},
			wantBridge: "b", wantOutcome: "SUCCESS", wantCauses: []string{"LOSE_RACE", "NONE"}, wantDial: "SUCCESS"},
		{name: "sequential, first busy", dial: "sofia/p/sip:a@h|sofia/p/sip:b@h",
			targets:    []Target{{Match: "sip:a@", Outcome: Outcome{Kind: Busy}}, {Match: "sip:b@", Outcome: Outcome{TalkFor: time.Second}}},
			wantBridge: "b", wantOutcome: "SUCCESS", wantCauses: []string{"NONE"}, wantDial: "SUCCESS"},
		{name: "sequential, all fail", dial: "sofia/p/sip:a@h|sofia/p/sip:b@h",
			targets:     []Target{{Match: "sip:a@", Outcome: Outcome{Kind: Busy}}, {Match: "sip:b@", Outcome: Outcome{Kind: Reject}}},
			wantOutcome: "CALL_REJECTED", wantCauses: []string{"CALL_REJECTED"}, wantDial: "DONTCALL"},
		{name: "leg timeout before originate timeout", dial: "{originate_timeout=3}[leg_timeout=1]sofia/p/sip:a@h,sofia/p/sip:b@h",
			targets:     []Target{{Match: "sip:", Outcome: Outcome{Kind: NoAnswer}}},
			wantOutcome: "NO_ANSWER", wantCauses: []string{"ALLOTTED_TIMEOUT", "NO_ANSWER"}, wantDial: "NOANSWER"},
		{name: "not found", dial: "sofia/p/sip:nobody@h",
			targets:     []Target{{Match: "nobody", Outcome: Outcome{Kind: NotFound}}},
			wantOutcome: "UNALLOCATED_NUMBER", wantCauses: []string{"UNALLOCATED_NUMBER"}, wantDial: "UNALLOCATED_NUMBER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, id := bridgeCall(t, &Switch{Targets: tt.targets}, Call{}, cof, tt.dial)
			done := c.complete(id)
			var other string
			for _, m := range c.messages() {
				if m.ev["Event-Name"] == "CHANNEL_BRIDGE" {
					other = m.ev["Other-Leg-Destination-Number"]
					if m.ev["Bridge-A-Unique-ID"] != c.uuid || m.ev["Bridge-B-Unique-ID"] != m.ev["Other-Leg-Unique-ID"] {
						t.Errorf("bridge ids A %q B %q", m.ev["Bridge-A-Unique-ID"], m.ev["Bridge-B-Unique-ID"])
					}
				}
			}
			if other != tt.wantBridge {
				t.Errorf("bridged to %q, want %q", other, tt.wantBridge)
			}
			if done.ev["variable_originate_disposition"] != tt.wantOutcome || done.ev["variable_DIALSTATUS"] != tt.wantDial {
				t.Errorf("disposition %q DIALSTATUS %q", done.ev["variable_originate_disposition"], done.ev["variable_DIALSTATUS"])
			}
			var causes []string
			for _, part := range strings.Split(strings.TrimPrefix(done.ev["variable_originate_causes"], "ARRAY::"), "|:") {
				_, cause, _ := strings.Cut(part, ";")
				causes = append(causes, cause)
			}
			if !slices.Equal(causes, tt.wantCauses) {
				t.Errorf("originate_causes %q", done.ev["variable_originate_causes"])
			}
			res := c.exit()
			if len(res.Bridges) != 1 || res.Bridges[0].Outcome != tt.wantOutcome || res.Bridges[0].Answered != (tt.wantBridge != "") {
				t.Errorf("Result.Bridges %+v", res.Bridges)
			}
			if res.HangupCause != "" {
				t.Errorf("continue_on_fail=true but hung up with %q", res.HangupCause)
			}
		})
	}
}

// continue_on_fail as a list of causes, and the default (b2): the caller is
// hung up before the bridge completes; NO_ANSWER never hangs up.
func TestContinueOnFail(t *testing.T) {
	tests := []struct {
		name      string
		vars      []string
		kind      Kind
		wantCause string
	}{
		{name: "listed cause continues", vars: []string{"continue_on_fail=USER_BUSY,NO_ANSWER"}, kind: Busy},
		{name: "unlisted cause hangs up", vars: []string{"continue_on_fail=USER_BUSY"}, kind: Unreachable, wantCause: "NORMAL_TEMPORARY_FAILURE"},
		{name: "listed by number", vars: []string{"continue_on_fail=41"}, kind: Unreachable},
		{name: "unset, busy hangs up", kind: Busy, wantCause: "USER_BUSY"},
		{name: "unset, no answer continues", vars: []string{"hangup_after_bridge=false"}, kind: NoAnswer},
		{name: "false hangs up", vars: []string{"continue_on_fail=false"}, kind: Reject, wantCause: "CALL_REJECTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sw := &Switch{Targets: []Target{{Match: "ai", Outcome: Outcome{Kind: tt.kind}}}}
			c, id := bridgeCall(t, sw, Call{}, tt.vars, "{originate_timeout=1}sofia/p/sip:ai@h")
			c.complete(id)
			res := c.exit()
			if res.HangupCause != tt.wantCause {
				t.Errorf("hangup cause %q, want %q", res.HangupCause, tt.wantCause)
			}
			if tt.wantCause != "" {
				seq := sequence(c.messages())
				h := slices.Index(seq, "CHANNEL_HANGUP")
				done := slices.Index(seq[max(h, 0):], "CHANNEL_EXECUTE_COMPLETE")
				if h < 0 || done < 0 || res.HungUpBy != "switch" {
					t.Errorf("want CHANNEL_HANGUP before the bridge completion, got %v (by %q)", seq, res.HungUpBy)
				}
			}
		})
	}
}

// origination_uuid names the B-leg; uuid_kill ends it, ringing or bridged.
func TestKillBLeg(t *testing.T) {
	for _, kind := range []Kind{Answer, NoAnswer} {
		sw := &Switch{Targets: []Target{{Match: "ai", Outcome: Outcome{Kind: kind}}}}
		c, id := bridgeCall(t, sw, Call{}, []string{"continue_on_fail=true"}, "{origination_uuid=bleg-1,originate_timeout=600}sofia/p/sip:ai@h")
		if kind == Answer {
			b := c.named("CHANNEL_BRIDGE")
			if b.ev["Other-Leg-Unique-ID"] != "bleg-1" {
				t.Errorf("Other-Leg-Unique-ID %q", b.ev["Other-Leg-Unique-ID"])
			}
		} else {
			eventually(t, "the B-leg", func() bool { return c.replyText("api uuid_exists bleg-1") == "true" })
		}
		if r := c.replyText("api uuid_kill bleg-1"); r != "+OK\n" {
			t.Fatalf("uuid_kill: %q", r)
		}
		done := c.complete(id)
		if r := c.replyText("api uuid_exists bleg-1"); r != "false" {
			t.Errorf("B-leg still exists: %q", r)
		}
		want := "SUCCESS"
		if kind == NoAnswer {
			want = "NORMAL_CLEARING"
		}
		if done.ev["variable_originate_disposition"] != want || done.ev["variable_last_bridge_hangup_cause"] != "NORMAL_CLEARING" {
			t.Errorf("kind %d: disposition %q last_bridge_hangup_cause %q", kind,
				done.ev["variable_originate_disposition"], done.ev["variable_last_bridge_hangup_cause"])
		}
		if kind == Answer && !slices.Contains(sequence(c.messages()), "CHANNEL_UNBRIDGE") {
			t.Error("no CHANNEL_UNBRIDGE")
		}
		res := c.exit()
		if res.HangupCause != "" || res.Bridges[0].BLeg != "bleg-1" {
			t.Errorf("caller hung up (%q) or bleg %q", res.HangupCause, res.Bridges[0].BLeg)
		}
	}
}

// hangup_after_bridge=true hangs the caller up when the AI leg ends; the
// caller hanging up while ringing is ORIGINATOR_CANCEL (d2).
func TestBridgeEnds(t *testing.T) {
	sw := &Switch{Targets: []Target{{Match: "ai", Outcome: Outcome{TalkFor: time.Second}}}}
	c, id := bridgeCall(t, sw, Call{}, []string{"hangup_after_bridge=true"}, "sofia/p/sip:ai@h")
	c.named("CHANNEL_UNBRIDGE")
	h := c.named("CHANNEL_HANGUP")
	done := c.complete(id)
	if h.ev["Hangup-Cause"] != "NORMAL_CLEARING" || done.ev["variable_bridge_hangup_cause"] != "NORMAL_CLEARING" {
		t.Errorf("hangup %q bridge_hangup_cause %q", h.ev["Hangup-Cause"], done.ev["variable_bridge_hangup_cause"])
	}
	if res := c.exit(); res.HungUpBy != "switch" {
		t.Errorf("hung up by %q", res.HungUpBy)
	}

	sw = &Switch{Targets: []Target{{Match: "ai", Outcome: Outcome{Kind: NoAnswer}}}}
	c, id = bridgeCall(t, sw, Call{HangupWhileRinging: time.Second}, []string{"continue_on_fail=true"}, "sofia/p/sip:ai@h")
	h = c.named("CHANNEL_HANGUP")
	done = c.complete(id)
	if h.ev["Channel-Call-State"] != "RING_WAIT" || h.ev["variable_originate_disposition"] != "failure" ||
		h.ev["variable_DIALSTATUS"] != "INVALIDARGS" {
		t.Errorf("mid-bridge hangup event: %q %q %q", h.ev["Channel-Call-State"], h.ev["variable_originate_disposition"],
			h.ev["variable_DIALSTATUS"])
	}
	if done.ev["variable_originate_disposition"] != "ORIGINATOR_CANCEL" || done.ev["variable_DIALSTATUS"] != "CANCEL" {
		t.Errorf("completion %q %q", done.ev["variable_originate_disposition"], done.ev["variable_DIALSTATUS"])
	}
	if res := c.exit(); res.HungUpBy != "caller" || res.HangupCause != "NORMAL_CLEARING" {
		t.Errorf("result %q %q", res.HungUpBy, res.HangupCause)
	}
}

// A bridge on an unanswered caller answers it when the AI answers.
func TestBridgeAnswersCaller(t *testing.T) {
	c := dialCall(t, &Switch{Targets: []Target{{Match: "ai", Outcome: Outcome{TalkFor: time.Second}}}}, Call{})
	c.setup("linger 5")
	id := c.execute("bridge", "sofia/p/sip:ai@h")
	want := []string{"CHANNEL_PROGRESS", "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE"}
	for _, n := range want {
		c.named(n)
	}
	c.complete(id)
	res := c.exit()
	if !res.Bridges[0].Answered || res.Vars["endpoint_disposition"] != "ANSWER" {
		t.Errorf("bridge %+v, endpoint_disposition %q", res.Bridges[0], res.Vars["endpoint_disposition"])
	}
}
