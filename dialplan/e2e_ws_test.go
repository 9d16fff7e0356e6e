package dialplan_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"ailb/config"
	"ailb/dialplan"
	"ailb/esl"
	"ailb/esl/fssim"
	"ailb/media"
	"ailb/media/wstest"
	"ailb/routing"
)

// End-to-end tests of WebSocket streaming: ailb in-process on real TCP
// (ESL and its media relay), the FreeSWITCH simulator with its audio
// modules (mod_audio_fork as recorded in esl/fssim/testdata/ws), and fake
// assistants from media/wstest.

// streamEnv is ailb with its relay, like `start` but with Deps.Relay.
type streamEnv struct {
	t     *testing.T
	sw    *fssim.Switch
	rec   *rec
	store *routing.Memory
	relay *media.Relay
	drops atomic.Int64
	// relayAddr is the relay's host:port.
	relayAddr string
}

// wsScale: the simulated FreeSWITCH runs 4x faster than real time (20 ms
// audio frames every 5 ms); the relay's and the assistants' clocks are real.
const wsScale = 0.25

// holdPrompt is media.hold_prompt in these tests (the default, explicit).
const holdPrompt = "tone_stream://%(2000,4000,440,480);loops=-1"

// startStreaming runs ailb with yaml, where {relay} is replaced by the
// relay's host:port and {a1}, {a2}, ... by the assistants' URLs.
func startStreaming(t *testing.T, yaml string, assistants map[string]string, targets []fssim.Target) *streamEnv {
	t.Helper()
	e := &streamEnv{t: t, rec: newRec(), store: routing.NewMemory()}
	e.relay = media.NewRelay(media.RelayOptions{Log: zap.NewNop(), OnDrop: func(n int) { e.drops.Add(int64(n)) }})
	hs := httptest.NewServer(e.relay.Handler())
	t.Cleanup(func() {
		e.relay.Close()
		hs.Close()
	})
	e.relayAddr = hs.Listener.Addr().String()
	yaml = strings.ReplaceAll(yaml, "{relay}", e.relayAddr)
	for k, v := range assistants {
		yaml = strings.ReplaceAll(yaml, "{"+k+"}", v)
	}
	cfg, err := config.Load(strings.NewReader(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	snap, err := dialplan.Build(cfg, dialplan.Deps{Store: e.store, Relay: e.relay})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveESL(t, &esl.Server{Log: zap.NewNop(), HangupWait: 2 * time.Second, Handler: dialplan.New(snap, zap.NewNop(), e.rec)})
	e.sw = &fssim.Switch{Addr: addr, Scale: wsScale, Targets: targets}
	return e
}

// callRun is a call played in the background while the test drives the
// assistant.
type callRun struct {
	done chan struct{}
	res  *fssim.Result
	err  error
}

func (e *streamEnv) goCall(c fssim.Call) *callRun {
	if c.Vars == nil {
		c.Vars = map[string]string{"ailb_route": "ws"}
	}
	r := &callRun{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r.res, r.err = e.sw.Run(ctx, c)
	}()
	return r
}

func (r *callRun) wait(t *testing.T) *fssim.Result {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(40 * time.Second):
		t.Fatal("the call did not end")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.res
}

// assistant starts a fake assistant, closed when the test ends.
func assistant(t *testing.T, o wstest.Options) *wstest.Server {
	t.Helper()
	s := wstest.Start(o)
	t.Cleanup(s.Close)
	return s
}

func nextPeer(t *testing.T, s *wstest.Server) *wstest.Peer {
	t.Helper()
	p, err := s.Next(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// toneFrames is what wstest's speaker sends: 440 Hz in 20 ms frames.
func toneFrames(rate, frames int) []int16 {
	n := rate / 50
	var out []int16
	for i := range frames {
		out = append(out, l16samples(wstest.Tone(440, rate, i*n, n))...)
	}
	return out
}

func l16samples(b []byte) []int16 {
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out
}

// callerTone checks that samples are the caller's recorded 1 kHz tone
// (fssim.RecordedTone), whole frames from the start of the stream, each
// sample within tol.
func callerTone(t *testing.T, got []int16, rate, tol int) {
	t.Helper()
	if len(got) == 0 || len(got)%(rate/50) != 0 {
		t.Fatalf("%d samples: not whole 20 ms frames at %d Hz", len(got), rate)
	}
	want := make([]int16, len(got))
	fssim.RecordedTone(rate, 0, want)
	for i := range got {
		if d := int(got[i]) - int(want[i]); d > tol || d < -tol {
			t.Fatalf("sample %d = %d, the caller said %d", i, got[i], want[i])
		}
	}
}

// streamOf returns the call's only audio stream.
func streamOf(t *testing.T, res *fssim.Result) fssim.Stream {
	t.Helper()
	if len(res.Streams) != 1 {
		t.Fatalf("%d audio streams: %+v", len(res.Streams), res.Streams)
	}
	return res.Streams[0]
}

// wsConfig has one pool "ws" of the given members (assistant yaml lines).
func wsConfig(assistants, members string) string {
	return `
listen: {media: "{relay}"}
media: {url: "ws://{relay}", hold_prompt: "` + holdPrompt + `"}
assistants:
` + assistants + `
  sip: {sip: {endpoint: sofia/internal/sip@10.0.0.9}, answer_timeout: 1s}
pools:
  ws:
    strategy: round_robin
    members: [` + members + `]
    fallback: {action: extension, extension: "1000", context: default}
ivr:
  verify:
    prompt: ivr/account.wav
    collect: account
    max_digits: 6
    timeout: 2s
    tries: 1
    next: {action: extension, extension: "3000", context: billing}
routes:
  - name: ws
    match: {variables: {ailb_route: ws}}
    pool: ws
default_route: {pool: ws}
`
}

// 1. Audio both ways. Raw at 16 kHz: the assistant gets the caller's tone
// byte for byte after the metadata; twilio at 8 kHz: μ-law media within
// G.711's error. What the assistant says is exactly what the caller hears.
// It then closes normally: the pool's after step hangs up.
func TestStreamAudioBothWays(t *testing.T) {
	for _, tc := range []struct {
		protocol string
		rate     int
	}{
		{media.ProtocolRaw, 16000},
		{media.ProtocolTwilio, 8000},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			t.Parallel()
			const speak = 600 * time.Millisecond
			a1 := assistant(t, wstest.Options{Protocol: tc.protocol, SampleRate: tc.rate, SpeakFor: speak})
			e := startStreaming(t, wsConfig(`  w1: {websocket: {url: "{a1}", protocol: `+tc.protocol+`, sample_rate: `+strconv.Itoa(tc.rate)+`, first_audio_timeout: 2s, silence_timeout: 0s}}`,
				"{assistant: w1}"), map[string]string{"a1": a1.URL}, nil)
			// A caller id FreeSWITCH's argument splitter would mangle (spaces,
			// quotes, a backslash): ailb's metadata must still arrive whole.
			from := `+1 555 O'Brien "x" \ y`
			run := e.goCall(fssim.Call{CallerIDNumber: from, Destination: "1000"})
			p := nextPeer(t, a1)
			time.Sleep(speak + 400*time.Millisecond)
			if err := p.Close(1000, "goodbye"); err != nil {
				t.Fatal(err)
			}
			res := run.wait(t)
			st := streamOf(t, res)

			// The caller's audio at the assistant.
			msgs := p.Received()
			switch tc.protocol {
			case media.ProtocolRaw:
				var meta map[string]string
				if len(msgs) == 0 || json.Unmarshal(msgs[0].Data, &meta) != nil || meta["from"] != from || meta["to"] != "1000" ||
					meta["session"] == "" || !strings.HasPrefix(meta["session"], meta["call_id"]+"-") {
					t.Fatalf("first message is not ailb's metadata: %q", msgs[0].Data)
				}
				callerTone(t, p.Audio(), tc.rate, 0)
			case media.ProtocolTwilio:
				var events []string
				for _, m := range msgs {
					if m.Twilio != nil && m.Twilio.Event != "media" {
						events = append(events, m.Twilio.Event)
					}
				}
				if len(events) < 2 || events[0] != "connected" || events[1] != "start" {
					t.Fatalf("twilio messages %v", events)
				}
				callerTone(t, p.Audio(), tc.rate, 130) // μ-law steps are 256 at this level
			}
			// All of it, but for the frames in flight when the assistant closed.
			if got, sent := len(p.Audio())/(tc.rate/50), st.AudioFrames; got > sent || got < sent-5 || e.drops.Load() != 0 {
				t.Errorf("assistant got %d frames of the %d FreeSWITCH sent (%d dropped)", got, sent, e.drops.Load())
			}

			// The assistant's audio at the caller.
			frames := int((speak + 19*time.Millisecond) / (20 * time.Millisecond))
			want := toneFrames(tc.rate, frames)
			if tc.protocol == media.ProtocolTwilio {
				want = l16samples(media.AppendL16(nil, media.AppendMulaw(nil, l16bytes(want))))
			}
			if !slices.Equal(st.Heard, want) || st.HeardSamples != int64(len(want)) {
				t.Errorf("the caller heard %d samples, the assistant said %d (equal: %v)", st.HeardSamples, len(want), slices.Equal(st.Heard, want))
			}
			if st.Module != "mod_audio_fork" || !st.Bidirectional || !st.BidiStream || st.BidiRate != tc.rate || st.Rate != tc.rate ||
				st.Bug != "ailb" || st.Accepted != "audio.drachtio.org" || !strings.Contains(st.URL, "/calls/") {
				t.Errorf("stream %+v", st)
			}
			if res.HangupCause != "NORMAL_CLEARING" || res.HungUpBy != "app" {
				t.Errorf("after a normal end the pool's after step hangs up: %s by %q (last failure %q)", res.HangupCause, res.HungUpBy, res.Vars["ailb_last_failure"])
			}
			if e.rec.get(e.rec.attempts, "w1/answered") != 1 || e.rec.get(e.rec.calls, "ws/ai") != 1 {
				t.Errorf("attempts %v calls %v", e.rec.attempts, e.rec.calls)
			}
		})
	}
}

func l16bytes(s []int16) []byte {
	b := make([]byte, 0, 2*len(s))
	for _, v := range s {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	return b
}

// wsMember is an assistant line for wsConfig: a raw 16 kHz assistant in
// relay mode, first audio within 2 s, no silence limit, with fields
// overridden or added as "key: value" pairs.
func wsMember(name, url string, fields ...string) string {
	kv := map[string]string{"url": `"` + url + `"`, "protocol": "raw", "sample_rate": "16000", "first_audio_timeout": "2s", "silence_timeout": "0s"}
	order := []string{"url", "protocol", "sample_rate", "first_audio_timeout", "silence_timeout"}
	for _, f := range fields {
		k, v, _ := strings.Cut(f, ": ")
		if _, ok := kv[k]; !ok {
			order = append(order, k)
		}
		kv[k] = v
	}
	var parts []string
	for _, k := range order {
		parts = append(parts, k+": "+kv[k])
	}
	return "  " + name + ": {websocket: {" + strings.Join(parts, ", ") + "}}\n"
}

// commandIndex is the position of the first command from `from` on whose
// line has prefix and contains sub (-1: none).
func commandIndex(res *fssim.Result, from int, prefix, sub string) int {
	for i := max(from, 0); i < len(res.Commands); i++ {
		c := res.Commands[i]
		line := c.Line
		if app := c.App(); app != "" {
			line = "execute " + app + " " + c.AppArg()
		}
		if strings.HasPrefix(line, prefix) && strings.Contains(line, sub) {
			return i
		}
	}
	return -1
}

// checkHoldCut: after the failed attempt ailb queued the hold prompt,
// and cut it (uuid_break all) before the next attempt: the prompt either
// ran and was broken there, or was flushed from the queue before it ran.
func checkHoldCut(t *testing.T, res *fssim.Result, next string) {
	t.Helper()
	firstStart := commandIndex(res, 0, "api uuid_audio_fork", " start ")
	hold := commandIndex(res, firstStart, "execute playback", holdPrompt)
	brk := commandIndex(res, hold, "api uuid_break", res.UUID+" all")
	nxt := commandIndex(res, brk, next, "")
	if firstStart < 0 || hold < 0 || brk < 0 || nxt < 0 {
		var lines []string
		for _, c := range res.Commands {
			lines = append(lines, c.Line+" "+c.App()+" "+c.AppArg())
		}
		t.Fatalf("want start, hold prompt, uuid_break, %s in order (%d %d %d %d):\n%s", next, firstStart, hold, brk, nxt, strings.Join(lines, "\n"))
	}
	for _, a := range res.Apps {
		if a.UUID == res.Commands[hold].EventUUID() && a.End.After(res.Commands[nxt].At.Add(100*time.Millisecond)) {
			t.Errorf("the hold prompt played on until %v, the next attempt started at %v", a.End, res.Commands[nxt].At)
		}
	}
}

// 2. The assistant refuses the connection (its upgrade answers 403, or
// nothing listens): the relay fails the stream before anyone spoke, the
// hold prompt covers the gap, and the next member takes the same call (a
// second WS assistant, or a SIP one).
func TestStreamRefusedThenNextMember(t *testing.T) {
	t.Run("403 then the next WS member", func(t *testing.T) {
		t.Parallel()
		refusing := assistant(t, wstest.Options{HandshakeStatus: 403})
		a2 := assistant(t, wstest.Options{SampleRate: 16000, SpeakFor: 300 * time.Millisecond})
		e := startStreaming(t, wsConfig(wsMember("w1", "{a1}")+wsMember("w2", "{a2}"), "{assistant: w1}, {assistant: w2}"),
			map[string]string{"a1": refusing.URL, "a2": a2.URL}, nil)
		run := e.goCall(fssim.Call{})
		p := nextPeer(t, a2)
		time.Sleep(500 * time.Millisecond)
		_ = p.Close(1000, "done")
		res := run.wait(t)
		if len(res.Streams) != 2 || len(res.Streams[0].Heard) != 0 || !slices.Equal(res.Streams[1].Heard, toneFrames(16000, 15)) {
			t.Fatalf("streams: %d; the second should carry w2's 300 ms", len(res.Streams))
		}
		if res.Vars["ailb_tried"] != "w1,w2" || res.Vars["ailb_last_failure"] != media.ReasonHandshake || res.Vars["ailb_assistant"] != "w2" {
			t.Errorf("vars tried=%q last_failure=%q assistant=%q", res.Vars["ailb_tried"], res.Vars["ailb_last_failure"], res.Vars["ailb_assistant"])
		}
		if e.rec.get(e.rec.attempts, "w2/answered") != 1 || e.rec.get(e.rec.calls, "ws/failover_ai") != 1 {
			t.Errorf("attempts %v calls %v", e.rec.attempts, e.rec.calls)
		}
		checkHoldCut(t, res, "api uuid_audio_fork")
		if res.HangupCause != "NORMAL_CLEARING" || res.HungUpBy != "app" {
			t.Errorf("hangup %s by %s", res.HangupCause, res.HungUpBy)
		}
	})
	t.Run("nothing listens then a SIP member", func(t *testing.T) {
		t.Parallel()
		e := startStreaming(t, wsConfig(wsMember("w1", "{a1}"), "{assistant: w1}, {assistant: sip}"),
			map[string]string{"a1": wstest.RefusingURL()}, []fssim.Target{{Match: "sip@", Outcome: fssim.Outcome{Kind: fssim.Answer, TalkFor: 400 * time.Millisecond}}})
		res := e.goCall(fssim.Call{}).wait(t)
		if len(res.Bridges) != 1 || !res.Bridges[0].Answered || res.Bridges[0].Endpoints[0] != "sofia/internal/sip@10.0.0.9" {
			t.Fatalf("bridges %+v", res.Bridges)
		}
		if res.Vars["ailb_tried"] != "w1,sip" || res.Vars["ailb_last_failure"] != media.ReasonConnectRefused {
			t.Errorf("vars tried=%q last_failure=%q", res.Vars["ailb_tried"], res.Vars["ailb_last_failure"])
		}
		checkHoldCut(t, res, "execute bridge")
		// The relay dials the assistant while FreeSWITCH connects to it:
		// either FreeSWITCH reached the relay and it was closed (by the
		// relay, or by ailb's stop), or ailb stopped it while connecting.
		// Either way nothing is left streaming.
		st := streamOf(t, res)
		reached := st.Status == 101 && (st.End == "stop" || st.End == "server-close") && st.CloseSent == 1000
		stoppedEarly := st.Status == 0 && st.End == "stop" && st.AudioFrames == 0
		if !reached && !stoppedEarly {
			t.Errorf("FreeSWITCH's stream to the relay: status %d end %q close %d", st.Status, st.End, st.CloseSent)
		}
	})
}

// 3. The assistant connects but never speaks: first_audio_timeout fails it
// and the next member takes the call; the hold prompt plays meanwhile and
// is cut before the next attempt.
func TestStreamNeverSpeaksThenNextMember(t *testing.T) {
	t.Parallel()
	mute := assistant(t, wstest.Options{SampleRate: 16000})
	a2 := assistant(t, wstest.Options{SampleRate: 16000, SpeakFor: 200 * time.Millisecond})
	e := startStreaming(t, wsConfig(wsMember("w1", "{a1}", "first_audio_timeout: 300ms")+wsMember("w2", "{a2}"), "{assistant: w1}, {assistant: w2}"),
		map[string]string{"a1": mute.URL, "a2": a2.URL}, nil)
	start := time.Now()
	run := e.goCall(fssim.Call{})
	p1 := nextPeer(t, mute)
	p2 := nextPeer(t, a2)
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("next member after %v, before first_audio_timeout", waited)
	}
	select {
	case <-p1.Closed():
		if p1.CloseCode() != 1000 {
			t.Errorf("the mute assistant was closed with %d", p1.CloseCode())
		}
	case <-time.After(5 * time.Second):
		t.Error("the mute assistant's socket stayed open")
	}
	time.Sleep(400 * time.Millisecond)
	_ = p2.Close(1000, "done")
	res := run.wait(t)
	if res.Vars["ailb_last_failure"] != media.ReasonNoAudio || res.Vars["ailb_tried"] != "w1,w2" {
		t.Errorf("vars last_failure=%q tried=%q", res.Vars["ailb_last_failure"], res.Vars["ailb_tried"])
	}
	checkHoldCut(t, res, "api uuid_audio_fork")
	if len(res.Streams) != 2 || res.Streams[0].HeardSamples != 0 || !slices.Equal(res.Streams[1].Heard, toneFrames(16000, 10)) {
		t.Errorf("streams %d", len(res.Streams))
	}
}

// 4. The assistant goes silent mid-call: silence_timeout fails it after it
// spoke, so the pool's fallback takes the caller (not the next member),
// with the ailb_state_* the assistant sent still on the channel.
func TestStreamSilentMidCallThenFallback(t *testing.T) {
	t.Parallel()
	a1 := assistant(t, wstest.Options{SampleRate: 16000, SpeakFor: 200 * time.Millisecond})
	a2 := assistant(t, wstest.Options{SampleRate: 16000, SpeakFor: time.Second})
	e := startStreaming(t, wsConfig(wsMember("w1", "{a1}", "silence_timeout: 600ms")+wsMember("w2", "{a2}"), "{assistant: w1}, {assistant: w2}"),
		map[string]string{"a1": a1.URL, "a2": a2.URL}, nil)
	run := e.goCall(fssim.Call{})
	p := nextPeer(t, a1)
	if err := p.SendState(map[string]any{"account": "12345", "language": "de"}); err != nil {
		t.Fatal(err)
	}
	res := run.wait(t)
	if res.Transferred != "1000 XML default" {
		t.Fatalf("not the fallback: transferred %q, cause %q", res.Transferred, res.HangupCause)
	}
	if res.Vars["ailb_tried"] != "w1" || res.Vars["ailb_state_account"] != "12345" || res.Vars["ailb_state_language"] != "de" ||
		res.Vars["ailb_last_failure"] != media.ReasonSilence || res.Vars["ailb_fallback"] != "extension" {
		t.Errorf("vars tried=%q account=%q language=%q last_failure=%q fallback=%q", res.Vars["ailb_tried"], res.Vars["ailb_state_account"],
			res.Vars["ailb_state_language"], res.Vars["ailb_last_failure"], res.Vars["ailb_fallback"])
	}
	if _, err := a2.Next(100 * time.Millisecond); err == nil {
		t.Error("the next member was dialled after the assistant had spoken")
	}
	if st := streamOf(t, res); !slices.Equal(st.Heard, toneFrames(16000, 10)) {
		t.Errorf("heard %d samples of w1's 200 ms", st.HeardSamples)
	}
}

// 5. The assistant closes abnormally mid-call (TCP dropped, or Close 1011):
// the fallback; it closes normally (1000): the pool's after step.
func TestStreamAssistantCloses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		close func(p *wstest.Peer)
		after string
	}{
		{"dropped", func(p *wstest.Peer) { p.Drop() }, ""},
		{"close 1011", func(p *wstest.Peer) { _ = p.Close(1011, "internal error") }, ""},
		{"close 1000", func(p *wstest.Peer) { _ = p.Close(1000, "bye") }, "hangup USER_BUSY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a1 := assistant(t, wstest.Options{SampleRate: 16000, SpeakFor: 5 * time.Second})
			yaml := wsConfig(wsMember("w1", "{a1}"), "{assistant: w1}")
			yaml = strings.Replace(yaml, "    fallback:", "    after: {action: hangup, cause: USER_BUSY}\n    fallback:", 1)
			e := startStreaming(t, yaml, map[string]string{"a1": a1.URL}, nil)
			run := e.goCall(fssim.Call{})
			p := nextPeer(t, a1)
			time.Sleep(300 * time.Millisecond)
			tc.close(p)
			res := run.wait(t)
			if tc.after != "" {
				if got := res.HangupCause; got != "USER_BUSY" || res.HungUpBy != "app" || res.Transferred != "" {
					t.Errorf("after step: hangup %q by %q, transferred %q", got, res.HungUpBy, res.Transferred)
				}
				if e.rec.get(e.rec.attempts, "w1/answered") != 1 || e.rec.get(e.rec.failures, "with_failover") != 0 {
					t.Errorf("attempts %v failures %v", e.rec.attempts, e.rec.failures)
				}
				return
			}
			if res.Transferred != "1000 XML default" || res.Vars["ailb_last_failure"] != media.ReasonAbnormalClose {
				t.Errorf("fallback: transferred %q last_failure %q", res.Transferred, res.Vars["ailb_last_failure"])
			}
			if e.rec.get(e.rec.failures, "with_failover") != 1 {
				t.Errorf("failures %v", e.rec.failures)
			}
		})
	}
}

// metadataSession reads the session id from ailb's metadata, the first
// text a raw assistant gets.
func metadataSession(t *testing.T, p *wstest.Peer) string {
	t.Helper()
	m, err := p.Wait(5*time.Second, func(m wstest.Msg) bool { return m.Raw != nil && m.Raw["session"] != nil })
	if err != nil {
		t.Fatal(err)
	}
	return m.Raw["session"].(string)
}

// 6. A client with a wrong or missing token is refused by the relay with
// 401 before any upgrade, and the call in progress does not notice.
func TestStreamRelayRefusesWrongToken(t *testing.T) {
	t.Parallel()
	a1 := assistant(t, wstest.Options{SampleRate: 16000, SpeakFor: 800 * time.Millisecond})
	e := startStreaming(t, wsConfig(wsMember("w1", "{a1}"), "{assistant: w1}"), map[string]string{"a1": a1.URL}, nil)
	run := e.goCall(fssim.Call{})
	p := nextPeer(t, a1)
	session := metadataSession(t, p)
	relay := e.relayAddr
	for _, path := range []string{"/calls/" + session + "?token=wrong-token-0123456789", "/calls/" + session, "/calls/" + session + "?token="} {
		c, resp, err := websocket.DefaultDialer.Dial("ws://"+relay+path, nil)
		if err == nil {
			c.Close()
			t.Fatalf("%s: upgraded", path)
		}
		if resp == nil || resp.StatusCode != 401 {
			t.Errorf("%s: %v %v, want 401", path, resp, err)
		}
	}
	time.Sleep(time.Second)
	_ = p.Close(1000, "done")
	res := run.wait(t)
	st := streamOf(t, res)
	if !slices.Equal(st.Heard, toneFrames(16000, 40)) || res.HangupCause != "NORMAL_CLEARING" || res.HungUpBy != "app" {
		t.Errorf("the call was disturbed: heard %d samples, hangup %q by %q", st.HeardSamples, res.HangupCause, res.HungUpBy)
	}
	if e.rec.get(e.rec.attempts, "w1/answered") != 1 {
		t.Errorf("attempts %v", e.rec.attempts)
	}
}

// 7. The caller hangs up mid-stream: FreeSWITCH closes its socket (Close
// 1000), the relay closes the assistant's (the assistant sees Close 1000),
// ailb sends nothing but what the hang-up allows, no goroutine is left
// (TestMain's goleak) and the assistant's slot is released.
func TestStreamCallerHangsUp(t *testing.T) {
	t.Parallel()
	a1 := assistant(t, wstest.Options{SampleRate: 16000, SpeakFor: 10 * time.Second})
	e := startStreaming(t, wsConfig(wsMember("w1", "{a1}"), "{assistant: w1}"), map[string]string{"a1": a1.URL}, nil)
	run := e.goCall(fssim.Call{HangupAfter: 4 * time.Second}) // 1 s real
	p := nextPeer(t, a1)
	select {
	case <-p.Closed():
	case <-time.After(10 * time.Second):
		t.Fatal("the assistant's socket was not closed after the hang-up")
	}
	if code := p.CloseCode(); code != 1000 {
		t.Errorf("the assistant saw close code %d", code)
	}
	res := run.wait(t)
	if res.HungUpBy != "caller" {
		t.Fatalf("hung up by %q", res.HungUpBy)
	}
	st := streamOf(t, res)
	if st.End != "hangup" || st.CloseSent != 1000 {
		t.Errorf("FreeSWITCH's socket: end %q close %d", st.End, st.CloseSent)
	}
	// FreeSWITCH closed the fork with the channel (a stop would be
	// answered -ERR, transcript f): ailb sends exit and nothing else.
	for _, c := range commandsAfterHangup(res) {
		if c != "exit" {
			t.Errorf("command after the hang-up: %q", c)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.store.Active("w1") != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := e.store.Active("w1"); n != 0 {
		t.Errorf("w1 still counts %d active calls", n)
	}
	if e.rec.get(e.rec.calls, "ws/ai") != 1 {
		t.Errorf("calls %v", e.rec.calls)
	}
}

// 8. A key the caller presses reaches a Twilio assistant as a dtmf message
// (and a mark makes the round trip through FreeSWITCH's playout).
func TestStreamDTMFToTwilio(t *testing.T) {
	t.Parallel()
	a1 := assistant(t, wstest.Options{Protocol: media.ProtocolTwilio, SpeakFor: 3 * time.Second})
	e := startStreaming(t, wsConfig(wsMember("w1", "{a1}", "protocol: twilio", "sample_rate: 8000"), "{assistant: w1}"),
		map[string]string{"a1": a1.URL}, nil)
	run := e.goCall(fssim.Call{DTMF: []fssim.DTMF{{After: 2 * time.Second, Digits: "5#"}}})
	p := nextPeer(t, a1)
	for _, d := range []string{"5", "#"} {
		m, err := p.Wait(5*time.Second, func(m wstest.Msg) bool {
			return m.Twilio != nil && m.Twilio.Event == "dtmf" && m.Twilio.DTMF != nil && m.Twilio.DTMF.Digit == d
		})
		if err != nil {
			t.Fatalf("digit %s: %v", d, err)
		}
		if m.Twilio.DTMF.Track != "inbound_track" || m.Twilio.StreamSid == "" {
			t.Errorf("dtmf message %s", m.Data)
		}
	}
	// A mark comes back once FreeSWITCH has played the audio before it.
	if err := p.SendMark("after-dtmf"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(5*time.Second, func(m wstest.Msg) bool {
		return m.Twilio != nil && m.Twilio.Event == "mark" && m.Twilio.Mark != nil && m.Twilio.Mark.Name == "after-dtmf"
	}); err != nil {
		t.Errorf("mark: %v", err)
	}
	_ = p.Close(1000, "done")
	res := run.wait(t)
	want := `{"type": "mark", "data": {"name":"after-dtmf", "event": "playout"}}`
	found := false
	for _, f := range streamOf(t, res).Sent {
		found = found || f.Data == want
	}
	if !found {
		t.Errorf("FreeSWITCH did not report the mark as recorded (%s)", want)
	}
}

// 9. State and hand-off: ailb.state becomes ailb_state_* channel
// variables; a hand-off to ivr:<menu> runs that menu, whose question the
// assistant already answered is skipped; extension:<ext>@<ctx> transfers.
func TestStreamStateAndHandoff(t *testing.T) {
	for _, tc := range []struct {
		name  string
		act   func(p *wstest.Peer) error
		check func(t *testing.T, res *fssim.Result)
	}{
		{"state", func(p *wstest.Peer) error {
			if err := p.SendState(map[string]any{"account": "777", "reason": "billing question"}); err != nil {
				return err
			}
			time.Sleep(300 * time.Millisecond)
			return p.Close(1000, "done")
		}, func(t *testing.T, res *fssim.Result) {
			if res.Vars["ailb_state_account"] != "777" || res.Vars["ailb_state_reason"] != "billing question" || res.HangupCause != "NORMAL_CLEARING" {
				t.Errorf("vars account=%q reason=%q, hangup %q", res.Vars["ailb_state_account"], res.Vars["ailb_state_reason"], res.HangupCause)
			}
		}},
		{"ivr with the answer known", func(p *wstest.Peer) error {
			return p.SendHandoff("ivr:verify", map[string]any{"account": "42"})
		}, func(t *testing.T, res *fssim.Result) {
			if res.Transferred != "3000 XML billing" || res.Vars["ailb_state_account"] != "42" || res.Vars["ailb_fallback"] != "extension" {
				t.Errorf("transferred %q account %q fallback %q", res.Transferred, res.Vars["ailb_state_account"], res.Vars["ailb_fallback"])
			}
			for _, a := range res.Apps {
				if a.App == "play_and_get_digits" {
					t.Errorf("the question was asked although the assistant answered it: %s", a.Arg)
				}
			}
		}},
		{"ivr with the answer unknown", func(p *wstest.Peer) error {
			return p.SendHandoff("ivr:verify", nil)
		}, func(t *testing.T, res *fssim.Result) {
			asked := false
			for _, a := range res.Apps {
				asked = asked || a.App == "play_and_get_digits" && strings.Contains(a.Arg, "ailb_ivr_account")
			}
			if !asked || res.Vars["ailb_ivr_account"] != "4711" || res.Transferred != "3000 XML billing" {
				t.Errorf("asked %v, answer %q, transferred %q", asked, res.Vars["ailb_ivr_account"], res.Transferred)
			}
		}},
		{"extension", func(p *wstest.Peer) error {
			return p.SendHandoff("extension:2000@support", map[string]any{"lang": "de"})
		}, func(t *testing.T, res *fssim.Result) {
			if res.Transferred != "2000 XML support" || res.Vars["ailb_state_lang"] != "de" || res.Vars["ailb_fallback"] != "handoff:extension" {
				t.Errorf("transferred %q lang %q fallback %q", res.Transferred, res.Vars["ailb_state_lang"], res.Vars["ailb_fallback"])
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a1 := assistant(t, wstest.Options{SampleRate: 16000, SpeakFor: 5 * time.Second})
			e := startStreaming(t, wsConfig(wsMember("w1", "{a1}"), "{assistant: w1}"), map[string]string{"a1": a1.URL}, nil)
			call := fssim.Call{}
			if tc.name == "ivr with the answer unknown" {
				call.DTMF = []fssim.DTMF{{After: 3 * time.Second, Digits: "4711#"}}
			}
			run := e.goCall(call)
			p := nextPeer(t, a1)
			time.Sleep(200 * time.Millisecond)
			if err := tc.act(p); err != nil {
				t.Fatal(err)
			}
			res := run.wait(t)
			tc.check(t, res)
			if st := streamOf(t, res); st.End == "" || st.End == "run-end" {
				t.Errorf("the stream was not stopped before the next step: end %q", st.End)
			}
		})
	}
}

// 10. Direct mode: FreeSWITCH connects to the assistant itself (no relay).
// connect_failed moves the caller to the next member; the assistant's
// audio is played; a mid-call disconnect goes to the fallback.
func TestStreamDirectMode(t *testing.T) {
	direct := func(name, url string) string {
		return wsMember(name, url, "mode: direct", "connect_timeout: 1s")
	}
	t.Run("connect_failed then the next member", func(t *testing.T) {
		t.Parallel()
		a2 := assistant(t, wstest.Options{SampleRate: 16000, SpeakFor: 300 * time.Millisecond})
		e := startStreaming(t, wsConfig(direct("w1", "{a1}")+direct("w2", "{a2}"), "{assistant: w1}, {assistant: w2}"),
			map[string]string{"a1": wstest.RefusingURL(), "a2": a2.URL}, nil)
		run := e.goCall(fssim.Call{HangupAfter: 6 * time.Second})
		p := nextPeer(t, a2)
		if got := p.Header.Get("Sec-Websocket-Protocol"); got != "audio.drachtio.org" || p.Path != "/assistant" {
			t.Errorf("FreeSWITCH's upgrade to the assistant: protocol %q path %q", got, p.Path)
		}
		res := run.wait(t)
		if len(res.Streams) != 2 || res.Streams[0].End != "connect-failed" {
			t.Fatalf("streams %+v", res.Streams)
		}
		if res.Vars["ailb_tried"] != "w1,w2" || res.Vars["ailb_last_failure"] != media.ReasonConnectRefused {
			t.Errorf("tried %q last_failure %q", res.Vars["ailb_tried"], res.Vars["ailb_last_failure"])
		}
		st := res.Streams[1]
		if !strings.HasPrefix(st.URL, a2.URL) || st.Accepted != "" || !slices.Equal(st.Heard, toneFrames(16000, 15)) {
			t.Errorf("direct stream: url %q accepted %q heard %d", st.URL, st.Accepted, st.HeardSamples)
		}
		callerTone(t, p.Audio(), 16000, 0)
		if res.HungUpBy != "caller" {
			t.Errorf("hung up by %q", res.HungUpBy)
		}
	})
	t.Run("mid-call disconnect then the fallback", func(t *testing.T) {
		t.Parallel()
		a1 := assistant(t, wstest.Options{SampleRate: 16000, SpeakFor: 5 * time.Second})
		a2 := assistant(t, wstest.Options{SampleRate: 16000, SpeakFor: 5 * time.Second})
		e := startStreaming(t, wsConfig(direct("w1", "{a1}")+direct("w2", "{a2}"), "{assistant: w1}, {assistant: w2}"),
			map[string]string{"a1": a1.URL, "a2": a2.URL}, nil)
		run := e.goCall(fssim.Call{})
		p := nextPeer(t, a1)
		time.Sleep(400 * time.Millisecond)
		p.Drop()
		res := run.wait(t)
		if res.Transferred != "1000 XML default" || res.Vars["ailb_tried"] != "w1" || res.Vars["ailb_last_failure"] != media.ReasonAbnormalClose {
			t.Errorf("transferred %q tried %q last_failure %q", res.Transferred, res.Vars["ailb_tried"], res.Vars["ailb_last_failure"])
		}
		if _, err := a2.Next(100 * time.Millisecond); err == nil {
			t.Error("the next member was dialled after the assistant had taken the call")
		}
		st := streamOf(t, res)
		if st.End != "dropped" || len(st.Events) != 2 || st.Events[1].Subclass != "mod_audio_fork::disconnect" || !st.Events[1].Delivered {
			t.Errorf("stream end %q events %+v", st.End, st.Events)
		}
	})
}

// A WebSocket assistant reached from an IVR option (the IVR answered the
// call): what it says must reach the caller as on any other path, because
// ailb sets send_silence_when_idle before anything answers.
func TestStreamAfterIVRIsHeard(t *testing.T) {
	t.Parallel()
	a1 := assistant(t, wstest.Options{SampleRate: 16000, SpeakFor: 400 * time.Millisecond})
	yaml := wsConfig(wsMember("w1", "{a1}"), "{assistant: w1}")
	yaml = strings.Replace(yaml, "ivr:\n", `ivr:
  main:
    prompt: ivr/welcome.wav
    timeout: 1s
    tries: 1
    options:
      "1": {action: assistant, assistant: w1}
`, 1)
	yaml = strings.Replace(yaml, "routes:\n", "routes:\n  - name: menu\n    match: {destination: '^8'}\n    ivr: main\n", 1)
	e := startStreaming(t, yaml, map[string]string{"a1": a1.URL}, nil)
	run := e.goCall(fssim.Call{Destination: "8000", Vars: map[string]string{}, DTMF: []fssim.DTMF{{After: 400 * time.Millisecond, Digits: "1"}}})
	p := nextPeer(t, a1)
	time.Sleep(800 * time.Millisecond)
	_ = p.Close(1000, "done")
	res := run.wait(t)
	if res.Vars["ailb_ivr_main"] != "1" {
		t.Fatalf("the IVR did not take the choice: %q", res.Vars["ailb_ivr_main"])
	}
	st := streamOf(t, res)
	if !slices.Equal(st.Heard, toneFrames(16000, 20)) {
		t.Errorf("the caller heard %d samples of the assistant's 400 ms (6400)", st.HeardSamples)
	}
}

// The README's promise (step 6): while ailb moves the caller on, an
// answered caller hears the hold prompt. On a failover from one WebSocket
// assistant to the next, the prompt should cover the next one's connect
// and first-audio wait (up to connect_timeout + first_audio_timeout), and
// stop when it speaks.
func TestStreamHoldPromptCoversTheNextAttempt(t *testing.T) {
	t.Parallel()
	mute := assistant(t, wstest.Options{SampleRate: 16000})
	late := assistant(t, wstest.Options{SampleRate: 16000})
	e := startStreaming(t, wsConfig(wsMember("w1", "{a1}", "first_audio_timeout: 300ms")+wsMember("w2", "{a2}"), "{assistant: w1}, {assistant: w2}"),
		map[string]string{"a1": mute.URL, "a2": late.URL}, nil)
	run := e.goCall(fssim.Call{})
	nextPeer(t, mute)
	p := nextPeer(t, late)
	connected := time.Now()
	time.Sleep(time.Second)
	spoke := time.Now()
	for i := range 10 {
		_ = p.SendAudio(wstest.Tone(440, 16000, i*320, 320))
	}
	time.Sleep(300 * time.Millisecond)
	_ = p.Close(1000, "done")
	res := run.wait(t)
	for _, a := range res.Apps {
		if a.App == "playback" && a.Arg == holdPrompt {
			// Queued apps start on the next park tick (5 ms at this scale).
			if a.Start.After(connected.Add(50*time.Millisecond)) || a.End.Before(spoke.Add(-100*time.Millisecond)) {
				t.Errorf("the hold prompt played from %v to %v; the next assistant connected at %v and spoke at %v", a.Start, a.End, connected, spoke)
			}
			return
		}
	}
	t.Error("the hold prompt never played")
}
