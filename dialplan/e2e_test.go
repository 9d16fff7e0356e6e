package dialplan_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"ailb/config"
	"ailb/dialplan"
	"ailb/esl"
	"ailb/esl/fssim"
	"ailb/internal/redistest"
	"ailb/routing"
)

func TestMain(m *testing.M) {
	redistest.Quiet()
	goleak.VerifyTestMain(m)
}

// rec records what the flow reports.
type rec struct {
	mu       sync.Mutex
	calls    map[string]int // route/outcome
	attempts map[string]int // assistant/result
	failures map[string]int
	setups   int
}

func newRec() *rec {
	return &rec{calls: map[string]int{}, attempts: map[string]int{}, failures: map[string]int{}}
}
func (r *rec) CallEnded(route, outcome string) {
	r.mu.Lock()
	r.calls[route+"/"+outcome]++
	r.mu.Unlock()
}
func (r *rec) Attempt(_, a, res string) {
	r.mu.Lock()
	r.attempts[a+"/"+res]++
	r.mu.Unlock()
}
func (r *rec) Setup(time.Duration) {
	r.mu.Lock()
	r.setups++
	r.mu.Unlock()
}
func (r *rec) Failover(time.Duration) {}
func (r *rec) AIFailure(kind string) {
	r.mu.Lock()
	r.failures[kind]++
	r.mu.Unlock()
}
func (r *rec) Connected(string, string, int) {}
func (r *rec) get(m map[string]int, k string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return m[k]
}

const baseConfig = `
assistants:
  a: {sip: {endpoint: sofia/internal/a@10.0.0.1, headers: {X-From: "{from}"}}, answer_timeout: 1s}
  b: {sip: {endpoint: sofia/internal/b@10.0.0.2}, answer_timeout: 1s}
  c: {sip: {gateway: gw, number: "300"}, answer_timeout: 1s}
  spare: {sip: {endpoint: sofia/internal/spare@10.0.0.9}, answer_timeout: 1s}
pools:
  sales:
    strategy: round_robin
    members: [{assistant: a}, {assistant: b}, {assistant: c}]
    fallback: {action: extension, extension: "1000", context: default}
ivr:
  main:
    prompt: ivr/welcome.wav
    timeout: 1s
    tries: 2
    options:
      "1": {action: assistant, assistant: spare}
      "2": {action: extension, extension: "2000", context: support}
      "9": {action: hangup, cause: CALL_REJECTED}
routes:
  - name: sales
    match: {variables: {ailb_route: sales}}
    pool: sales
  - name: direct
    match: {destination: '^7'}
    extension: "7000"
  - name: menu
    match: {destination: '^8'}
    ivr: main
default_route: {pool: sales}
`

type env struct {
	t   testing.TB
	sw  *fssim.Switch
	rec *rec
	srv *esl.Server
}

// start runs ailb in-process on a real TCP port with the given config.
func start(t testing.TB, yaml string, targets []fssim.Target, opts ...func(*esl.Server)) *env {
	t.Helper()
	cfg, err := config.Load(strings.NewReader(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	snap, err := dialplan.Build(cfg, dialplan.Deps{Store: routing.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	r := newRec()
	srv := &esl.Server{Log: zap.NewNop(), HangupWait: 2 * time.Second}
	srv.Handler = dialplan.New(snap, zap.NewNop(), r)
	for _, o := range opts {
		o(srv)
	}
	addr := serveESL(t, srv)
	return &env{t: t, rec: r, srv: srv, sw: &fssim.Switch{Addr: addr, Scale: 0.05, Targets: targets}}
}

// serveESL runs srv on a free local port until the test ends and returns
// the address FreeSWITCH connects to.
func serveESL(t testing.TB, srv *esl.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

func (e *env) call(c fssim.Call) *fssim.Result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if c.Vars == nil {
		c.Vars = map[string]string{"ailb_route": "sales"}
	}
	res, err := e.sw.Run(ctx, c)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func endpoints(res *fssim.Result) string {
	var eps []string
	for _, b := range res.Bridges {
		eps = append(eps, strings.Join(b.Endpoints, ","))
	}
	return strings.Join(eps, " ")
}

// commandsAfterHangup lists the commands ailb sent after FreeSWITCH sent
// CHANNEL_HANGUP.
func commandsAfterHangup(res *fssim.Result) []string {
	var at time.Time
	for _, s := range res.Sent {
		if s.Kind == "event" && s.Event == "CHANNEL_HANGUP" {
			at = s.At
			break
		}
	}
	var out []string
	for _, c := range res.Commands {
		if !at.IsZero() && c.At.After(at) {
			out = append(out, c.Line)
		}
	}
	return out
}

var (
	busy        = fssim.Outcome{Kind: fssim.Busy}
	unreachable = fssim.Outcome{Kind: fssim.Unreachable}
	noAnswer    = fssim.Outcome{Kind: fssim.NoAnswer}
	talk        = fssim.Outcome{Kind: fssim.Answer, TalkFor: 2 * time.Second}
)

func TestRotationOverThreeAssistants(t *testing.T) {
	e := start(t, baseConfig, []fssim.Target{{Match: "", Outcome: talk}})
	var got []string
	for range 6 {
		res := e.call(fssim.Call{})
		got = append(got, endpoints(res))
		if res.HangupCause != "NORMAL_CLEARING" || res.HungUpBy != "app" {
			t.Fatalf("after the AI left the caller should be hung up by ailb: %s by %q", res.HangupCause, res.HungUpBy)
		}
	}
	want := "sofia/internal/a@10.0.0.1 sofia/internal/b@10.0.0.2 sofia/gateway/gw/300 sofia/internal/a@10.0.0.1 sofia/internal/b@10.0.0.2 sofia/gateway/gw/300"
	if s := strings.Join(got, " "); s != want {
		t.Fatalf("rotation:\n got %s\nwant %s", s, want)
	}
	if n := e.rec.get(e.rec.calls, "sales/ai"); n != 6 {
		t.Fatalf("calls sales/ai = %d", n)
	}
}

// The first commands: setup pipelined, then the bridge, with what the
// protocol section of DESIGN.md requires on the wire.
func TestSetupAndBridgeOnTheWire(t *testing.T) {
	e := start(t, baseConfig, []fssim.Target{{Outcome: talk}})
	res := e.call(fssim.Call{CallerIDNumber: `evil,number|x{y}${z}`})
	var lines []string
	for _, c := range res.Commands[:5] {
		lines = append(lines, c.Line)
	}
	want := []string{"connect", "linger 10", "myevents plain", "nixevent plain", "api uuid_setvar_multi"}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Fatalf("command %d = %q, want %q... (all: %q)", i, lines[i], w, lines)
		}
	}
	nix := res.Commands[3].Line
	for _, keep := range []string{"CHANNEL_BRIDGE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"} {
		if strings.Contains(nix+" ", " "+keep+" ") {
			t.Errorf("nixevent drops %s, which the flow needs", keep)
		}
	}
	for _, v := range []string{"continue_on_fail=true", "hangup_after_bridge=false", "ignore_early_media=true", "sip_copy_custom_headers=false", "ailb_route=sales", "ailb_pool=sales", "ailb_call_id="} {
		if !strings.Contains(res.Commands[4].Line, v) {
			t.Errorf("setup does not set %s: %q", v, res.Commands[4].Line)
		}
	}
	var bridge *fssim.Command
	for i := range res.Commands {
		if res.Commands[i].App() == "bridge" {
			bridge = &res.Commands[i]
			break
		}
	}
	if bridge == nil {
		t.Fatal("no bridge")
	}
	if bridge.Header("event-lock") != "true" || bridge.EventUUID() == "" {
		t.Errorf("bridge without event-lock / Event-UUID: %+v", bridge.Headers)
	}
	b := res.Bridges[0]
	if b.Vars["originate_timeout"] != "1" || len(b.Vars["sip_h_X-AILB-Call"]) != 32 || b.Vars["origination_uuid"] == "" {
		t.Errorf("dial string vars %v", b.Vars)
	}
	if got := b.Vars["sip_h_X-From"]; got != "evil%2Cnumber%7Cx%7By%7D%24%7Bz%7D" || len(b.Endpoints) != 1 {
		t.Errorf("caller text not escaped: %q endpoints %q", got, b.Endpoints)
	}
	if res.Vars["continue_on_fail"] != "true" || res.Vars["ailb_assistant"] != "a" || res.Vars["ailb_tried"] != "a" {
		t.Errorf("channel vars %v", res.Vars)
	}
	if e.rec.setups != 1 {
		t.Errorf("setup observed %d times", e.rec.setups)
	}
}

func TestFailureThenNext(t *testing.T) {
	tests := []struct {
		name       string
		give       fssim.Outcome
		wantResult string
		wantCause  string
	}{
		{"busy", busy, "busy", "USER_BUSY"},
		{"unreachable", unreachable, "failed", "NORMAL_TEMPORARY_FAILURE"},
		{"no answer within the answer timeout", noAnswer, "no_answer", "NO_ANSWER"},
		{"rejected", fssim.Outcome{Kind: fssim.Reject}, "failed", "CALL_REJECTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, baseConfig, []fssim.Target{{Match: "a@", Outcome: tt.give}, {Outcome: talk}})
			res := e.call(fssim.Call{})
			if got := endpoints(res); got != "sofia/internal/a@10.0.0.1 sofia/internal/b@10.0.0.2" {
				t.Fatalf("attempts %q", got)
			}
			if !res.Bridges[1].Answered || res.Bridges[0].Outcome != tt.wantCause {
				t.Fatalf("bridges %+v", res.Bridges)
			}
			if res.Vars["ailb_tried"] != "a,b" || res.Vars["ailb_last_failure"] != tt.wantCause || res.Vars["ailb_assistant"] != "b" || res.Vars["ailb_attempts"] != "2" {
				t.Fatalf("vars tried=%q last_failure=%q assistant=%q attempts=%q", res.Vars["ailb_tried"], res.Vars["ailb_last_failure"], res.Vars["ailb_assistant"], res.Vars["ailb_attempts"])
			}
			if e.rec.get(e.rec.attempts, "a/"+tt.wantResult) != 1 || e.rec.get(e.rec.attempts, "b/answered") != 1 {
				t.Fatalf("attempts %v", e.rec.attempts)
			}
			if e.rec.get(e.rec.calls, "sales/failover_ai") != 1 || e.rec.get(e.rec.failures, "with_failover") != 1 || e.rec.get(e.rec.failures, "with_drop") != 0 {
				t.Fatalf("calls %v failures %v", e.rec.calls, e.rec.failures)
			}
			if res.HangupCause != "NORMAL_CLEARING" {
				t.Fatalf("caller lost: %s by %s", res.HangupCause, res.HungUpBy)
			}
		})
	}
}

// When every member fails, each fallback type takes the caller.
func TestEveryMemberFailsThenFallback(t *testing.T) {
	allBusy := []fssim.Target{{Match: "user/", Outcome: talk}, {Match: "spare", Outcome: talk}, {Outcome: busy}}
	tests := []struct {
		name     string
		fallback string
		call     fssim.Call
		check    func(t *testing.T, res *fssim.Result)
	}{
		{"extension", `{action: extension, extension: "1000", context: default}`, fssim.Call{}, func(t *testing.T, res *fssim.Result) {
			if res.Transferred != "1000 XML default" || res.HangupCause != "" {
				t.Fatalf("transferred %q cause %q", res.Transferred, res.HangupCause)
			}
		}},
		{"ring group sequential", `{action: ring_group, endpoints: [user/1001, user/1002], mode: sequential, timeout: 5s}`, fssim.Call{}, func(t *testing.T, res *fssim.Result) {
			last := res.Bridges[len(res.Bridges)-1]
			if !last.Answered || strings.Join(last.Endpoints, ",") != "user/1001,user/1002" || !strings.Contains(last.DialString, "[leg_timeout=5]user/1001|[leg_timeout=5]user/1002") {
				t.Fatalf("ring group bridge %+v", last)
			}
		}},
		{"ring group simultaneous", `{action: ring_group, endpoints: [user/1001, user/1002], timeout: 5s}`, fssim.Call{}, func(t *testing.T, res *fssim.Result) {
			last := res.Bridges[len(res.Bridges)-1]
			if !last.Answered || last.Vars["originate_timeout"] != "5" || !strings.HasSuffix(last.DialString, "}user/1001,user/1002") {
				t.Fatalf("ring group bridge %+v", last)
			}
		}},
		{"assistant", `{action: assistant, assistant: spare}`, fssim.Call{}, func(t *testing.T, res *fssim.Result) {
			last := res.Bridges[len(res.Bridges)-1]
			if !last.Answered || last.Endpoints[0] != "sofia/internal/spare@10.0.0.9" || len(res.Bridges) != 4 {
				t.Fatalf("assistant fallback: %s", endpoints(res))
			}
		}},
		{"ivr", `{action: ivr, menu: main}`, fssim.Call{DTMF: []fssim.DTMF{{After: 200 * time.Millisecond, Digits: "2"}}}, func(t *testing.T, res *fssim.Result) {
			if res.Transferred != "2000 XML support" || res.Vars["ailb_ivr_main"] != "2" || res.Vars["ailb_fallback"] != "extension" {
				t.Fatalf("ivr: transferred %q digits %q fallback %q", res.Transferred, res.Vars["ailb_ivr_main"], res.Vars["ailb_fallback"])
			}
		}},
		{"hangup", `{action: hangup, cause: USER_BUSY}`, fssim.Call{}, func(t *testing.T, res *fssim.Result) {
			if res.HangupCause != "USER_BUSY" || res.HungUpBy != "app" {
				t.Fatalf("hangup %q by %q", res.HangupCause, res.HungUpBy)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := strings.Replace(baseConfig, `fallback: {action: extension, extension: "1000", context: default}`, "fallback: "+tt.fallback, 1)
			e := start(t, yaml, allBusy)
			res := e.call(tt.call)
			if !strings.HasPrefix(endpoints(res), "sofia/internal/a@10.0.0.1 sofia/internal/b@10.0.0.2 sofia/gateway/gw/300") {
				t.Fatalf("members not all tried first: %s", endpoints(res))
			}
			if !strings.HasPrefix(res.Vars["ailb_tried"], "a,b,c") {
				t.Fatalf("ailb_tried %q", res.Vars["ailb_tried"])
			}
			tt.check(t, res)
			if e.rec.get(e.rec.failures, "with_drop") != 0 {
				t.Fatal("a caller was dropped")
			}
		})
	}
}

func TestFollowThroughOffGoesToFallbackAtOnce(t *testing.T) {
	yaml := strings.Replace(baseConfig, "strategy: round_robin", "strategy: round_robin\n    follow_through: false", 1)
	e := start(t, yaml, []fssim.Target{{Outcome: busy}})
	res := e.call(fssim.Call{})
	if len(res.Bridges) != 1 || res.Transferred != "1000 XML default" {
		t.Fatalf("bridges %s transferred %q", endpoints(res), res.Transferred)
	}
}

// The caller hangs up while the assistant rings: no further attempt, and
// nothing but exit after the hangup.
func TestCallerHangsUpWhileRinging(t *testing.T) {
	e := start(t, baseConfig, []fssim.Target{{Outcome: noAnswer}})
	res := e.call(fssim.Call{HangupWhileRinging: 300 * time.Millisecond})
	if len(res.Bridges) != 1 || res.Bridges[0].Outcome != "ORIGINATOR_CANCEL" || res.HungUpBy != "caller" {
		t.Fatalf("bridges %+v hung up by %q", res.Bridges, res.HungUpBy)
	}
	if after := commandsAfterHangup(res); len(after) != 1 || after[0] != "exit" {
		t.Fatalf("commands after the hangup: %q", after)
	}
	if res.End != "exit" {
		t.Fatalf("socket ended by %q", res.End)
	}
	if e.rec.get(e.rec.calls, "sales/abandoned") != 1 || e.rec.get(e.rec.attempts, "a/caller_gone") != 1 {
		t.Fatalf("calls %v attempts %v", e.rec.calls, e.rec.attempts)
	}
}

func TestDirectRoutes(t *testing.T) {
	e := start(t, baseConfig, nil)
	res := e.call(fssim.Call{Destination: "7123", Vars: map[string]string{}})
	if res.Transferred != "7000 XML default" || len(res.Bridges) != 0 {
		t.Fatalf("extension route: %+v", res)
	}
	res = e.call(fssim.Call{Destination: "8000", Vars: map[string]string{}, DTMF: []fssim.DTMF{{After: 100 * time.Millisecond, Digits: "9"}}})
	if res.HangupCause != "CALL_REJECTED" {
		t.Fatalf("ivr option 9: %q", res.HangupCause)
	}
	// No digits: tries run out, on_failure is unset, the caller is hung up.
	res = e.call(fssim.Call{Destination: "8000", Vars: map[string]string{}})
	if res.HangupCause != "NORMAL_CLEARING" {
		t.Fatalf("ivr timeout: %q", res.HangupCause)
	}
}

func TestAllAtMaxCallsGoesToFallback(t *testing.T) {
	yaml := strings.Replace(baseConfig, "assistants:\n", "defaults: {max_calls: 1}\nassistants:\n", 1)
	e := start(t, yaml, []fssim.Target{{Outcome: fssim.Outcome{Kind: fssim.Answer, TalkFor: 20 * time.Second}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for range 3 { // occupy a, b and c
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = e.sw.Run(ctx, fssim.Call{Vars: map[string]string{"ailb_route": "sales"}})
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.srv.Active() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	res := e.call(fssim.Call{})
	if len(res.Bridges) != 0 || res.Transferred != "1000 XML default" {
		t.Fatalf("4th call with every assistant full: bridges %s transferred %q", endpoints(res), res.Transferred)
	}
	cancel()
	wg.Wait()
}

func TestSocketWithoutFullIsHandedBack(t *testing.T) {
	e := start(t, baseConfig, nil)
	e.sw.NotFull = true
	res := e.call(fssim.Call{})
	if len(res.Bridges) != 0 || !res.ContinuedDialplan || res.HangupCause != "" {
		t.Fatalf("bridges %d continued %v cause %q", len(res.Bridges), res.ContinuedDialplan, res.HangupCause)
	}
}

func TestPeerOutsideAllowList(t *testing.T) {
	e := start(t, baseConfig, nil, func(s *esl.Server) { s.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	res := e.call(fssim.Call{})
	// FreeSWITCH's async socket app parks the caller when the connection
	// dies before connect (reference 1.10): sched_hangup is the safety net.
	if len(res.Commands) != 0 || res.End != "peer-closed" || res.ContinuedDialplan {
		t.Fatalf("refused peer: commands %q, end %q, continued %v", res.Commands, res.End, res.ContinuedDialplan)
	}
}

// Garbage from the peer ends that call cleanly; other calls go on.
func TestMalformedFramesEndOnlyThatCall(t *testing.T) {
	e := start(t, baseConfig, []fssim.Target{{Outcome: talk}})
	for _, g := range []string{"Content-Length: nope\n\n", "Content-Type: text/event-plain\nContent-Length: 5\n\nxxxxx", "hello\n\n"} {
		res := e.call(fssim.Call{Garbage: []byte(g)})
		if !res.ContinuedDialplan && res.HangupCause != "" {
			t.Fatalf("garbage %q: the caller was hung up (%s)", g, res.HangupCause)
		}
	}
	res := e.call(fssim.Call{})
	if len(res.Bridges) != 1 || !res.Bridges[0].Answered {
		t.Fatalf("next call after garbage: %s", endpoints(res))
	}
	if e.rec.get(e.rec.failures, "with_drop") != 0 {
		t.Fatal("drop counted")
	}
}

func TestManyConcurrentCalls(t *testing.T) {
	e := start(t, baseConfig, []fssim.Target{{Match: "b@", Outcome: busy}, {Outcome: fssim.Outcome{Kind: fssim.Answer, TalkFor: 500 * time.Millisecond}}})
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.sw.Run(context.Background(), fssim.Call{Vars: map[string]string{"ailb_route": "sales"}, CallerIDNumber: fmt.Sprint(i)})
			if err != nil {
				errs <- err.Error()
				return
			}
			last := res.Bridges[len(res.Bridges)-1]
			if !last.Answered || res.HangupCause != "NORMAL_CLEARING" {
				errs <- fmt.Sprintf("call %d: %s cause %s", i, endpoints(res), res.HangupCause)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if e.rec.get(e.rec.failures, "with_drop") != 0 {
		t.Fatal("drops")
	}
}

// A 503 is tried again on the same assistant after the backoff, within
// max_silence, then the next member.
func TestTransientFailureRetriedOnSameAssistant(t *testing.T) {
	tests := []struct {
		name  string
		retry string
		want  string
	}{
		{"two retries", "{attempts: 2, backoff: [100ms, 300ms], max_silence: 2s}", "a a a b"},
		{"bounded by max_silence", "{attempts: 2, backoff: [100ms, 300ms], max_silence: 250ms}", "a a b"},
		{"busy is not retried", "", "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outcome := unreachable
			yaml := baseConfig
			if tt.retry != "" {
				yaml = strings.Replace(yaml, "answer_timeout: 1s}\n  b:", "answer_timeout: 1s, retry: "+tt.retry+"}\n  b:", 1)
			} else {
				yaml = strings.Replace(yaml, "answer_timeout: 1s}\n  b:", "answer_timeout: 1s, retry: {attempts: 2}}\n  b:", 1)
				outcome = busy
			}
			e := start(t, yaml, []fssim.Target{{Match: "a@", Outcome: outcome}, {Outcome: talk}})
			res := e.call(fssim.Call{})
			var got []string
			for _, b := range res.Bridges {
				got = append(got, strings.TrimSuffix(strings.TrimPrefix(b.Endpoints[0], "sofia/internal/"), "@10.0.0.1"))
			}
			if s := strings.Join(got, " "); !strings.HasPrefix(s, strings.ReplaceAll(tt.want, "b", "b@10.0.0.2")) {
				t.Fatalf("attempts %q want %q", s, tt.want)
			}
			if len(res.Bridges) > 2 && res.Bridges[1].Start.Sub(res.Bridges[0].End) < 90*time.Millisecond {
				t.Fatalf("retry without backoff: %v", res.Bridges[1].Start.Sub(res.Bridges[0].End))
			}
		})
	}
}

// A route's max_calls caps its calls in progress; a call over the cap gets
// the overflow action, and the slot is free again when a call ends.
func TestRouteMaxCallsOverflow(t *testing.T) {
	yaml := strings.Replace(baseConfig, "    match: {variables: {ailb_route: sales}}\n    pool: sales\n",
		"    match: {variables: {ailb_route: sales}}\n    pool: sales\n    max_calls: 1\n    overflow: {action: extension, extension: \"9999\", context: busy}\n", 1)
	e := start(t, yaml, []fssim.Target{{Outcome: fssim.Outcome{Kind: fssim.Answer, TalkFor: 2 * time.Second}}})
	first := make(chan *fssim.Result, 1)
	go func() { first <- e.call(fssim.Call{}) }()
	for deadline := time.Now().Add(5 * time.Second); e.srv.Active() < 1 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	over := e.call(fssim.Call{})
	if len(over.Bridges) != 0 || over.Transferred != "9999 XML busy" {
		t.Fatalf("call over the cap: bridges %s, transferred %q", endpoints(over), over.Transferred)
	}
	if res := <-first; len(res.Bridges) != 1 || !res.Bridges[0].Answered {
		t.Fatalf("first call: %s", endpoints(res))
	}
	if again := e.call(fssim.Call{}); len(again.Bridges) != 1 {
		t.Fatalf("slot not released: %s transferred %q", endpoints(again), again.Transferred)
	}
}

// A reload affects calls that start after it; a call in progress keeps
// the configuration it started with.
func TestReloadKeepsCallsInProgressOnTheirSnapshot(t *testing.T) {
	cfg, err := config.Load(strings.NewReader(baseConfig), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	next := strings.Replace(baseConfig, `fallback: {action: extension, extension: "1000", context: default}`, `fallback: {action: extension, extension: "2222", context: default}`, 1)
	load := func() (*config.Config, error) {
		return config.Load(strings.NewReader(next), func(string) (string, bool) { return "", false })
	}
	rt, err := dialplan.NewRuntime(cfg, load, dialplan.Deps{Store: routing.NewMemory()}, nil, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	addr := serveESL(t, &esl.Server{Log: zap.NewNop(), HangupWait: 2 * time.Second, Handler: rt.Flow})
	// Every member rings 600 ms then fails: the call meets its fallback
	// after the reload.
	sw := &fssim.Switch{Addr: addr, Scale: 0.05, Targets: []fssim.Target{{Outcome: fssim.Outcome{Kind: fssim.Busy, After: 4 * time.Second}}}}
	inProgress := make(chan *fssim.Result, 1)
	go func() {
		res, _ := sw.Run(context.Background(), fssim.Call{Vars: map[string]string{"ailb_route": "sales"}})
		inProgress <- res
	}()
	time.Sleep(100 * time.Millisecond)
	if err := rt.Reload(); err != nil {
		t.Fatal(err)
	}
	after, err := sw.Run(context.Background(), fssim.Call{Vars: map[string]string{"ailb_route": "sales"}})
	if err != nil {
		t.Fatal(err)
	}
	if res := <-inProgress; res.Transferred != "1000 XML default" {
		t.Fatalf("call in progress during the reload went to %q", res.Transferred)
	}
	if after.Transferred != "2222 XML default" {
		t.Fatalf("call after the reload went to %q", after.Transferred)
	}
}
