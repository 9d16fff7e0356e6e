package media

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ailb/esl"
)

// recordedEvents returns the events of a real FreeSWITCH recording.
func recordedEvents(t *testing.T, name string) []*esl.Event {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "esl", "fssim", "recordings", "raw", name+".fs2app.raw"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := esl.NewReader(f)
	var evs []*esl.Event
	for {
		fr, err := r.Next()
		if err == io.EOF {
			return evs
		}
		if err != nil {
			t.Fatal(err)
		}
		if fr.Type() == esl.TypeEventPlain {
			ev, err := esl.ParseEvent(fr.Body)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ev)
		}
	}
}

// bridgeEnds returns the CHANNEL_HANGUP and completion events of every
// bridge in a recording, in order.
func bridgeCompletions(t *testing.T, name string) []*esl.Event {
	var out []*esl.Event
	for _, ev := range recordedEvents(t, name) {
		if ev.Is(esl.ChannelExecuteComplete) && ev.Get("Application") == "bridge" {
			out = append(out, ev)
		}
	}
	return out
}

// The classification of every recorded real bridge outcome.
func TestClassifyRecordedBridges(t *testing.T) {
	tests := []struct {
		give string
		want []Kind // per bridge in the recording; Answered means nil failure
		sip  []string
	}{
		{"a-bridge-ok", []Kind{Answered}, []string{""}},
		{"b-bridge-busy-486", []Kind{Busy}, []string{"486"}},
		{"c-bridge-nothing-listening-udp", []Kind{Unreachable}, []string{"503"}},
		{"c2-bridge-nothing-listening-tcp", []Kind{Unreachable}, []string{"503"}},
		{"c3-bridge-no-answer-leg_timeout", []Kind{Timeout}, []string{""}},
		{"c4-bridge-no-answer-originate_timeout", []Kind{NoAnswer}, []string{""}},
		{"d2-caller-hangup-while-bridge-rings", []Kind{CallerGone}, []string{""}},
		{"f-two-bridges-busy-then-ok", []Kind{Busy, Answered}, []string{"486", ""}},
		{"b2-bridge-busy-without-continue_on_fail", []Kind{Busy}, []string{"486"}},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			evs := bridgeCompletions(t, tt.give)
			if len(evs) != len(tt.want) {
				t.Fatalf("%d bridges in the recording, test lists %d", len(evs), len(tt.want))
			}
			for i, ev := range evs {
				f := Classify(ev)
				got := Answered
				sip := ""
				if f != nil {
					got, sip = f.Kind, f.SIPStatus
				}
				if got != tt.want[i] || sip != tt.sip[i] {
					t.Errorf("bridge %d: %v sip %q, want %v sip %q (%v)", i, got, sip, tt.want[i], tt.sip[i], f)
				}
			}
		})
	}
}

// b2: without continue_on_fail FreeSWITCH hangs the caller up on 486; the
// CHANNEL_HANGUP says so. d2: the caller hung up while it rang.
func TestClassifyRecordedHangups(t *testing.T) {
	tests := []struct {
		give        string
		wantKind    Kind
		wantDropped bool
	}{
		{"b2-bridge-busy-without-continue_on_fail", Busy, true},
		{"d2-caller-hangup-while-bridge-rings", CallerGone, false},
	}
	for _, tt := range tests {
		var hangup *esl.Event
		for _, ev := range recordedEvents(t, tt.give) {
			if ev.Is(esl.ChannelHangup) {
				hangup = ev
				break
			}
		}
		f := ClassifyHangup(hangup)
		if f.Kind != tt.wantKind || f.Dropped != tt.wantDropped || f.TryNext() {
			t.Errorf("%s: %+v", tt.give, f)
		}
		if (f.Kind == CallerGone) == f.CountsAgainst() {
			t.Errorf("%s: counts against the breaker: %v", tt.give, f.CountsAgainst())
		}
	}
}

func TestFailureVerdicts(t *testing.T) {
	tests := []struct {
		give                    Failure
		counts, next, transient bool
		result                  string
	}{
		{Failure{Kind: Busy, Cause: "USER_BUSY"}, true, true, false, "busy"},
		{Failure{Kind: Unreachable, Cause: "NORMAL_TEMPORARY_FAILURE", SIPStatus: "503"}, true, true, true, "failed"},
		{Failure{Kind: Rejected, Cause: "CALL_REJECTED"}, true, true, false, "failed"},
		{Failure{Kind: NoAnswer, Cause: "NO_ANSWER"}, true, true, false, "no_answer"},
		{Failure{Kind: Timeout, Cause: "ALLOTTED_TIMEOUT"}, true, true, false, "timeout"},
		{Failure{Kind: CallerGone, Cause: "ORIGINATOR_CANCEL"}, false, false, false, "caller_gone"},
		{Failure{Kind: Busy, Cause: "USER_BUSY", Dropped: true}, true, false, false, "busy"},
	}
	for _, tt := range tests {
		f := tt.give
		if f.CountsAgainst() != tt.counts || f.TryNext() != tt.next || f.Transient() != tt.transient || f.Result() != tt.result {
			t.Errorf("%+v: counts %v next %v transient %v result %s", f, f.CountsAgainst(), f.TryNext(), f.Transient(), f.Result())
		}
	}
}

func TestDialStringGolden(t *testing.T) {
	a := &SIPAssistant{
		Name: "bot", Target: "sofia/internal/ai@10.0.0.5:5060", AnswerTimeout: 3500 * time.Millisecond,
		Headers: []Header{{"X-Tenant", "acme"}, {"X-From", "{from}"}},
	}
	got := a.DialString(CallInfo{CallID: "c0ffee", Token: "t0k", From: "Bob, \"the\" ${x}|caller"}, "b-leg")
	want := "{origination_uuid=b-leg,originate_timeout=4,sip_h_X-AILB-Call=c0ffee,sip_h_X-AILB-Token=t0k,sip_h_X-Tenant=acme,sip_h_X-From=Bob%2C%20%22the%22%20%24%7Bx%7D%7Ccaller}sofia/internal/ai@10.0.0.5:5060"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	g := &RingGroup{Endpoints: []string{"user/1001", "user/1002"}, Timeout: 20 * time.Second}
	if got := g.DialString(CallInfo{CallID: "c"}, ""); got != "{sip_h_X-AILB-Call=c,originate_timeout=20}user/1001,user/1002" {
		t.Errorf("simultaneous: %s", got)
	}
	g.Sequential = true
	if got := g.DialString(CallInfo{CallID: "c"}, ""); got != "{sip_h_X-AILB-Call=c}[leg_timeout=20]user/1001|[leg_timeout=20]user/1002" {
		t.Errorf("sequential: %s", got)
	}
}

// parseDial is an independent reading of a dial string the way FreeSWITCH
// does it: a leading {..} block split on ',' (or ^^X) into name=value, then
// legs split at top-level ',' and '|', and ${..} expansion over the whole.
func parseDial(s string) (vars map[string]string, legs []string, ok bool) {
	if strings.Contains(s, "${") || strings.ContainsAny(s, "'\"\\\r\n") {
		return nil, nil, false
	}
	vars = map[string]string{}
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return nil, nil, false
		}
		block := s[1:end]
		sep := ","
		if strings.HasPrefix(block, "^^") && len(block) > 2 {
			sep, block = block[2:3], block[3:]
		}
		for _, kv := range strings.Split(block, sep) {
			k, v, found := strings.Cut(kv, "=")
			if !found {
				return nil, nil, false
			}
			vars[k] = v
		}
		s = s[end+1:]
	}
	legs = strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '|' })
	return vars, legs, !strings.ContainsAny(s, "{}[]")
}

func FuzzDialStringEscaping(f *testing.F) {
	f.Add("Bob", "1000", "acme")
	f.Add("a,b|c{d}[e]'f\"g\\h${i}\n\rj^^;k=l", "%41", " ")
	f.Fuzz(func(t *testing.T, from, to, hdr string) {
		a := &SIPAssistant{Name: "bot", Target: "sofia/internal/ai@10.0.0.5", AnswerTimeout: time.Second,
			Headers: []Header{{"X-From", "{from}"}, {"X-To", "<{to}>"}, {"X-Raw", hdr}}}
		dial := a.DialString(CallInfo{CallID: "id", From: from, To: to}, "b")
		vars, legs, ok := parseDial(dial)
		if !ok || len(legs) != 1 || legs[0] != "sofia/internal/ai@10.0.0.5" {
			t.Fatalf("caller text changed the dial string's shape: %q", dial)
		}
		if len(vars) != 6 {
			t.Fatalf("caller text added or removed variables: %q -> %v", dial, vars)
		}
		if unesc(vars["sip_h_X-From"]) != from || unesc(vars["sip_h_X-To"]) != "<"+to+">" || unesc(vars["sip_h_X-Raw"]) != hdr {
			t.Fatalf("values not carried exactly: %q", dial)
		}
		// And the whole thing is one ESL command.
		if err := esl.CheckValue(dial); err != nil {
			t.Fatal(err)
		}
	})
}

func unesc(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			var c byte
			for _, h := range s[i+1 : i+3] {
				c <<= 4
				switch {
				case h >= '0' && h <= '9':
					c |= byte(h - '0')
				case h >= 'A' && h <= 'F':
					c |= byte(h - 'A' + 10)
				}
			}
			b.WriteByte(c)
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
