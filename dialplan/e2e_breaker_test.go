package dialplan_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"ailb/breaker"
	"ailb/config"
	"ailb/dialplan"
	"ailb/esl"
	"ailb/esl/fssim"
	"ailb/routing"
)

// startWithBreakers runs ailb with one breaker per assistant.
func startWithBreakers(t *testing.T, yaml string, targets []fssim.Target) (*env, *breaker.Set, *transitions) {
	t.Helper()
	cfg, err := config.Load(strings.NewReader(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	tr := &transitions{}
	o := breaker.Options{PerAssistant: map[string]breaker.Settings{}, OnChange: tr.add, Log: zap.NewNop()}
	for name, a := range cfg.Assistants {
		b := a.Breaker
		o.PerAssistant[name] = breaker.Settings{ConsecutiveFailures: uint32(b.ConsecutiveFailures), FailureRatio: b.FailureRatio,
			MinRequests: uint32(b.MinCalls), Window: b.Window.D(), OpenFor: b.OpenFor.D(), Probes: uint32(b.Probes)}
	}
	set := breaker.New(o)
	r := newRec()
	snap, err := dialplan.Build(cfg, dialplan.Deps{Store: routing.NewMemory(), Gate: set,
		OnSkip: func(p, m string) { r.Attempt(p, m, "skipped_open") }})
	if err != nil {
		t.Fatal(err)
	}
	srv := &esl.Server{Log: zap.NewNop(), HangupWait: 2 * time.Second, Handler: dialplan.New(snap, zap.NewNop(), r)}
	addr := serveESL(t, srv)
	return &env{t: t, rec: r, srv: srv, sw: &fssim.Switch{Addr: addr, Scale: 0.05, Targets: targets}}, set, tr
}

type transitions struct {
	mu  sync.Mutex
	log []string
}

func (t *transitions) add(name string, from, to breaker.State) {
	t.mu.Lock()
	t.log = append(t.log, name+":"+from.String()+">"+to.String())
	t.mu.Unlock()
}

func (t *transitions) get() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.log, " ")
}

const breakerConfig = `
defaults:
  breaker: {consecutive_failures: 3, open_for: 400ms, probes: 1}
assistants:
  a: {sip: {endpoint: sofia/internal/a@10.0.0.1}, answer_timeout: 1s}
  b: {sip: {endpoint: sofia/internal/b@10.0.0.2}, answer_timeout: 1s}
pools:
  sales:
    strategy: priority
    members: [{assistant: a, priority: 1}, {assistant: b, priority: 2}]
    fallback: {action: ivr, menu: main}
ivr:
  main:
    prompt: ivr/welcome.wav
    timeout: 1s
    tries: 1
    options: {"0": {action: extension, extension: "1000"}}
    on_failure: {action: extension, extension: "1000"}
routes:
  - {name: sales, match: {variables: {ailb_route: sales}}, pool: sales}
default_route: {pool: sales}
`

// a fails three times and opens; calls skip it; after open_for one probe
// goes through; its success closes the breaker.
func TestBreakerOpensSkipsProbesAndCloses(t *testing.T) {
	e, set, tr := startWithBreakers(t, breakerConfig, []fssim.Target{{Match: "a@", Outcome: busy}, {Outcome: talk}})
	for i := range 3 {
		if eps := endpoints(e.call(fssim.Call{})); eps != "sofia/internal/a@10.0.0.1 sofia/internal/b@10.0.0.2" {
			t.Fatalf("call %d: %s", i, eps)
		}
	}
	if set.State("a") != breaker.Open {
		t.Fatalf("a is %v after 3 failures", set.State("a"))
	}
	for range 2 {
		if eps := endpoints(e.call(fssim.Call{})); eps != "sofia/internal/b@10.0.0.2" {
			t.Fatalf("open member tried: %s", eps)
		}
	}
	if n := e.rec.get(e.rec.attempts, "a/skipped_open"); n != 2 {
		t.Fatalf("skipped_open counted %d times", n)
	}
	time.Sleep(450 * time.Millisecond)
	e.sw.Targets = []fssim.Target{{Outcome: talk}} // a recovered
	if eps := endpoints(e.call(fssim.Call{})); eps != "sofia/internal/a@10.0.0.1" {
		t.Fatalf("probe after open_for: %s", eps)
	}
	if set.State("a") != breaker.Closed {
		t.Fatalf("a is %v after a successful probe", set.State("a"))
	}
	if got := tr.get(); got != "a:closed>open a:open>half-open a:half-open>closed" {
		t.Fatalf("transitions %q", got)
	}
	if e.rec.get(e.rec.failures, "with_drop") != 0 {
		t.Fatal("drop")
	}
}

// A failed probe opens it again; the caller still reaches b.
func TestBreakerFailedProbeReopens(t *testing.T) {
	e, set, _ := startWithBreakers(t, breakerConfig, []fssim.Target{{Match: "a@", Outcome: unreachable}, {Outcome: talk}})
	for range 3 {
		e.call(fssim.Call{})
	}
	time.Sleep(450 * time.Millisecond)
	res := e.call(fssim.Call{})
	if eps := endpoints(res); eps != "sofia/internal/a@10.0.0.1 sofia/internal/b@10.0.0.2" || !res.Bridges[1].Answered {
		t.Fatalf("probe call: %s", eps)
	}
	if set.State("a") != breaker.Open {
		t.Fatalf("a is %v after a failed probe", set.State("a"))
	}
}

// Every member open: the pool's fallback (the IVR) at once, no bridge.
func TestAllBreakersOpenGoesToFallback(t *testing.T) {
	e, set, _ := startWithBreakers(t, breakerConfig, []fssim.Target{{Outcome: talk}})
	for _, m := range []string{"a", "b"} {
		if err := set.Force(m, breaker.ForceOpen); err != nil {
			t.Fatal(err)
		}
	}
	res := e.call(fssim.Call{DTMF: []fssim.DTMF{{After: 100 * time.Millisecond, Digits: "0"}}})
	if len(res.Bridges) != 0 || res.Transferred != "1000 XML default" || pagdCount(res) != 1 {
		t.Fatalf("bridges %s transferred %q pagd %d", endpoints(res), res.Transferred, pagdCount(res))
	}
	if res.Vars["ailb_fallback"] != "extension" {
		t.Fatalf("ailb_fallback %q", res.Vars["ailb_fallback"])
	}
}

// A caller hanging up while the assistant rings counts neither way.
func TestCallerHangupIsExcludedFromBreaker(t *testing.T) {
	e, set, _ := startWithBreakers(t, breakerConfig, []fssim.Target{{Outcome: noAnswer}})
	for range 5 {
		e.call(fssim.Call{HangupWhileRinging: 100 * time.Millisecond})
	}
	st := set.Status()
	for _, s := range st {
		if s.Name == "a" && (s.State != breaker.Closed || s.Counts.Failures != 0 || s.Counts.Exclusions != 5) {
			t.Fatalf("a: %+v", s)
		}
	}
}

// A 503 retried on the same assistant takes a second admission from its
// breaker; when the call's time runs out during the retry, that
// admission is still reported (neither way), or a half-open breaker
// would wait for it for ever.
func TestRetryAdmissionReportedWhenTheCallTimesOut(t *testing.T) {
	yaml := strings.Replace(breakerConfig, "answer_timeout: 1s}\n  b:",
		"answer_timeout: 30s, retry: {attempts: 1, backoff: [50ms], max_silence: 5s}}\n  b:", 1)
	yaml = "esl: {max_call_duration: 800ms}\n" + yaml
	// Each bridge to a fails with 503 after 500 ms (scaled; it may ring
	// for 1.5 s): the retry starts at about 550 ms and is still ringing at
	// 800 ms.
	slow503 := fssim.Outcome{Kind: fssim.Unreachable, After: 10 * time.Second}
	e, set, _ := startWithBreakers(t, yaml, []fssim.Target{{Match: "a@", Outcome: slow503}, {Outcome: talk}})
	res := e.call(fssim.Call{})
	if eps := endpoints(res); eps != "sofia/internal/a@10.0.0.1 sofia/internal/a@10.0.0.1" {
		t.Fatalf("bridges %s", eps)
	}
	for _, s := range set.Status() {
		if s.Name != "a" {
			continue
		}
		if c := s.Counts; c.Requests != 2 || c.Failures != 1 || c.Exclusions != 1 {
			t.Fatalf("a: %+v: every admission must be reported once", c)
		}
	}
}
