package media_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"ailb/media"
	"ailb/media/wstest"
)

// Each way an assistant (or FreeSWITCH) can fail is reported once, as the
// last event, with its reason; FreeSWITCH's socket gets Close 1000.
func TestFailures(t *testing.T) {
	tests := []struct {
		give    string
		asst    wstest.Options
		url     string // instead of the fake's
		cfg     media.StreamConfig
		relay   media.RelayOptions
		noFS    bool
		act     func(*wstest.Peer) // once connected
		want    string
		spoke   bool
		errHas  string
		asstGot int // Close code the assistant receives, 0: not checked
	}{
		{give: "refused", url: wstest.RefusingURL(), want: media.ReasonConnectRefused, errHas: "connection refused"},
		{give: "handshake 403", asst: wstest.Options{HandshakeStatus: http.StatusForbidden}, want: media.ReasonHandshake, errHas: "HTTP 403"},
		{
			give: "handshake never answered", asst: wstest.Options{HangHandshake: true},
			cfg: media.StreamConfig{ConnectTimeout: 300 * time.Millisecond}, want: media.ReasonConnectTimeout, errHas: "no handshake within 300ms",
		},
		{
			give: "never speaks", cfg: media.StreamConfig{FirstAudioTimeout: 200 * time.Millisecond},
			want: media.ReasonNoAudio, errHas: "no audio within 200ms", asstGot: 1000,
		},
		{
			give: "goes silent", asst: wstest.Options{SpeakFor: 100 * time.Millisecond},
			cfg:  media.StreamConfig{FirstAudioTimeout: time.Second, SilenceTimeout: 300 * time.Millisecond},
			want: media.ReasonSilence, spoke: true, errHas: "no audio for 300ms", asstGot: 1000,
		},
		{
			give: "closes with 1011", act: func(p *wstest.Peer) { _ = p.Close(1011, "internal error") },
			want: media.ReasonAbnormalClose, errHas: "1011",
		},
		{give: "drops tcp", act: func(p *wstest.Peer) { p.Drop() }, want: media.ReasonAbnormalClose},
		{
			give: "raw garbage", act: func(p *wstest.Peer) { _ = p.SendText("this is not json") },
			want: media.ReasonGarbage, errHas: "garbage frame", asstGot: 1002,
		},
		{
			give: "twilio garbage", asst: wstest.Options{Protocol: media.ProtocolTwilio},
			act:  func(p *wstest.Peer) { _ = p.SendText(`{"event":"media","media":{"payload":"%%%"}}`) },
			want: media.ReasonGarbage, errHas: "not base64", asstGot: 1002,
		},
		{
			give: "twilio binary", asst: wstest.Options{Protocol: media.ProtocolTwilio},
			act:  func(p *wstest.Peer) { _ = p.SendBinary([]byte{1, 2, 3, 4}) },
			want: media.ReasonGarbage, errHas: "only text frames", asstGot: 1002,
		},
		{
			give: "stops answering pings", asst: wstest.Options{Stall: true},
			relay: media.RelayOptions{PingEvery: 50 * time.Millisecond, ReadTimeout: 300 * time.Millisecond},
			want:  media.ReasonUnresponsive, errHas: "no frame or pong",
		},
		{
			give: "freeswitch never connects", noFS: true,
			cfg: media.StreamConfig{ConnectTimeout: 200 * time.Millisecond}, want: media.ReasonFreeSWITCHTimeout,
			errHas: "did not connect within 200ms",
		},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			h := newHarness(t, tt.relay)
			asst := wstest.Start(tt.asst)
			t.Cleanup(asst.Close)
			cfg := tt.cfg
			cfg.AssistantURL = tt.url
			if cfg.AssistantURL == "" {
				cfg.AssistantURL = asst.URL
			}
			cfg.AssistantURL += "?key=" + assistantSecret
			cfg.Protocol = tt.asst.Protocol
			s, ev := h.register(cfg)
			var fs *fsClient
			if !tt.noFS {
				fs = connectFS(t, h.addr, s.Path(), forkStyle)
			}
			var peer *wstest.Peer
			if tt.act != nil || tt.asstGot != 0 {
				var err error
				if peer, err = asst.Next(wait); err != nil {
					t.Fatal(err)
				}
			}
			if tt.act != nil {
				ev.wait(t, media.EventAssistantConnected, wait)
				if tt.spoke {
					ev.wait(t, media.EventFirstAudio, wait)
				}
				tt.act(peer)
			}
			got := ev.wait(t, media.EventFailed, 5*time.Second)
			if got.Failure == nil || got.Failure.Kind != media.StreamError || got.Failure.Cause != tt.want {
				t.Fatalf("failure %+v, want %s", got.Failure, tt.want)
			}
			if got.Spoke != tt.spoke {
				t.Fatalf("Spoke %v, want %v", got.Spoke, tt.spoke)
			}
			if got.Err == nil || !strings.Contains(got.Err.Error(), tt.errHas) {
				t.Fatalf("detail %v, want it to mention %q", got.Err, tt.errHas)
			}
			for _, text := range []string{got.Err.Error(), got.Failure.Error()} {
				if strings.Contains(text, assistantSecret) || strings.Contains(text, secret) {
					t.Fatalf("error shows a secret: %s", text)
				}
			}
			<-s.Done()
			if fs != nil {
				closing := fs.waitFrame(wait, func(f wsFrame) bool { return f.op == opClose })
				if code, reason := closing.closeCode(); code != 1000 || reason != "assistant "+tt.want {
					t.Fatalf("FreeSWITCH closed with %d %q", code, reason)
				}
			}
			if tt.asstGot != 0 {
				<-peer.Closed()
				if peer.CloseCode() != tt.asstGot {
					t.Fatalf("assistant closed with %d, want %d", peer.CloseCode(), tt.asstGot)
				}
			}
			n := 0
			for _, e := range ev.events() {
				if e.Kind.Terminal() {
					n++
				}
			}
			if kinds := ev.kinds(); n != 1 || kinds[len(kinds)-1] != media.EventFailed {
				t.Fatalf("events %v: want one terminal event, Failed, last", kinds)
			}
		})
	}
}

// Refused before any upgrade: wrong or missing token 401, unknown id 404,
// a second connection 409, another method 405.
func TestHandlerRefusals(t *testing.T) {
	h := newHarness(t, media.RelayOptions{})
	asst := wstest.Start(wstest.Options{})
	t.Cleanup(asst.Close)
	s, _ := h.register(media.StreamConfig{CallID: "call-7", AssistantURL: asst.URL})
	tests := []struct {
		give string
		want int
	}{
		{give: "/calls/call-7?token=wrong-token-0123456789", want: http.StatusUnauthorized},
		{give: "/calls/call-7", want: http.StatusUnauthorized},
		{give: "/calls/call-7?token=" + secret + "x", want: http.StatusUnauthorized},
		{give: "/calls/call-8?token=" + secret, want: http.StatusNotFound},
		{give: "/calls/?token=" + secret, want: http.StatusNotFound},
		{give: "/calls/call-7/x?token=" + secret, want: http.StatusNotFound},
		{give: "/other?token=" + secret, want: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			if _, status := fsUpgrade(t, h.addr, tt.give, forkStyle); status != tt.want {
				t.Fatalf("status %d, want %d", status, tt.want)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+s.Path(), nil)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	h.srv.Client().CloseIdleConnections()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	connectFS(t, h.addr, s.Path(), forkStyle)
	if _, status := fsUpgrade(t, h.addr, s.Path(), forkStyle); status != http.StatusConflict {
		t.Fatalf("second connection: %d, want 409", status)
	}
	s.Close("done")
	if _, status := fsUpgrade(t, h.addr, s.Path(), forkStyle); status != http.StatusNotFound {
		t.Fatalf("after the end: %d, want 404", status)
	}
}

// A stalled assistant costs its own call the oldest audio, never
// FreeSWITCH's reader or another call.
func TestStalledAssistant(t *testing.T) {
	h := newHarness(t, media.RelayOptions{ReadTimeout: time.Minute})
	stalled := wstest.Start(wstest.Options{Stall: true})
	t.Cleanup(stalled.Close)
	healthy := wstest.Start(wstest.Options{})
	t.Cleanup(healthy.Close)
	s1, ev1 := h.register(media.StreamConfig{AssistantURL: stalled.URL, SampleRate: 16000})
	s2, _ := h.register(media.StreamConfig{AssistantURL: healthy.URL})
	fs1 := connectFS(t, h.addr, s1.Path(), forkStyle)
	fs2 := connectFS(t, h.addr, s2.Path(), forkStyle)
	ev1.wait(t, media.EventAssistantConnected, wait)
	peer2, err := healthy.Next(wait)
	if err != nil {
		t.Fatal(err)
	}

	// 20000 frames (6.7 minutes of audio, 12.8 MB) as fast as TCP takes
	// them: more than the sockets can buffer, so only a reader that keeps
	// reading lets them all through.
	frame := wstest.Tone(1000, 16000, 0, 320)
	done := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		for range 20000 {
			if fs1.writeFrame(opBinary, frame) != nil {
				break
			}
		}
		done <- time.Since(start)
	}()
	for i := range 10 {
		fs2.binary(wstest.Tone(440, 8000, 160*i, 160))
	}
	if _, err := peer2.Wait(wait, func(wstest.Msg) bool { return len(peer2.Received()) == 10 }); err != nil {
		t.Fatalf("the other call stalled too: %v", err)
	}
	select {
	case took := <-done:
		t.Logf("20000 frames written in %v, %d dropped", took, h.drops.Load())
	case <-time.After(20 * time.Second):
		t.Fatal("FreeSWITCH's writes blocked: the relay stopped reading")
	}
	if h.drops.Load() == 0 {
		t.Fatal("no drops counted")
	}
	for _, e := range ev1.events() {
		if e.Kind.Terminal() {
			t.Fatalf("the stalled call ended: %+v", e)
		}
	}
}

func TestRegisterChecks(t *testing.T) {
	h := newHarness(t, media.RelayOptions{})
	ok := media.StreamConfig{CallID: "c1", Token: secret, AssistantURL: "wss://ai.example.com/s?key=" + assistantSecret, Protocol: "raw", SampleRate: 8000}
	tests := []struct {
		give func(*media.StreamConfig)
		want string
	}{
		{func(c *media.StreamConfig) { c.CallID = "a/b" }, "CallID"},
		{func(c *media.StreamConfig) { c.CallID = "" }, "CallID"},
		{func(c *media.StreamConfig) { c.Token = "short" }, "Token"},
		{func(c *media.StreamConfig) { c.Token = secret + " x" }, "Token"},
		{func(c *media.StreamConfig) { c.Token = strings.Repeat("t", 120) }, "mod_audio_fork takes 127"},
		{func(c *media.StreamConfig) { c.AssistantURL = "https://ai.example.com/?key=" + assistantSecret }, "AssistantURL"},
		{func(c *media.StreamConfig) { c.AssistantURL = "wss://ai.example.com:bad/?key=" + assistantSecret }, "AssistantURL"},
		{func(c *media.StreamConfig) { c.Protocol = "sip" }, `Protocol "sip"`},
		{func(c *media.StreamConfig) { c.SampleRate = 44100 }, "SampleRate 44100"},
		{func(c *media.StreamConfig) { c.Protocol, c.SampleRate = "twilio", 16000 }, "Twilio streams are 8000 Hz"},
		{func(c *media.StreamConfig) { c.SilenceTimeout = -1 }, "negative"},
	}
	for _, tt := range tests {
		c := ok
		tt.give(&c)
		_, err := h.relay.Register(c)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want it to mention %q", err, tt.want)
		}
		if err != nil && (strings.Contains(err.Error(), assistantSecret) || strings.Contains(err.Error(), secret)) {
			t.Errorf("error shows a secret: %v", err)
		}
	}
	if _, err := h.relay.Register(ok); err != nil {
		t.Fatal(err)
	}
	if _, err := h.relay.Register(ok); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("duplicate: %v", err)
	}
	h.relay.Close()
	ok.CallID = "c2"
	if _, err := h.relay.Register(ok); err != media.ErrRelayClosed {
		t.Fatalf("after Close: %v", err)
	}
}

func TestStreamConfigHidesSecrets(t *testing.T) {
	c := media.StreamConfig{
		CallID: "c1", Token: secret, AssistantURL: "wss://u:" + assistantSecret + "@h/?key=" + assistantSecret,
		RedactedURL: "wss://REDACTED@h/?key=REDACTED", Header: http.Header{"Authorization": {"Bearer " + assistantSecret}},
		Protocol: "twilio", SampleRate: 8000,
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s", &c), fmt.Sprintf("%v", []media.StreamConfig{c})} {
		if strings.Contains(s, secret) || strings.Contains(s, assistantSecret) {
			t.Fatalf("printed config shows a secret: %s", s)
		}
	}
}

// Speech sent faster than real time is heard for its whole length:
// silence counts from the end of playout, not from the last frame.
func TestSilenceCountsFromPlayout(t *testing.T) {
	h := newHarness(t, media.RelayOptions{})
	asst := wstest.Start(wstest.Options{})
	t.Cleanup(asst.Close)
	s, ev := h.register(media.StreamConfig{AssistantURL: asst.URL, SilenceTimeout: 300 * time.Millisecond})
	connectFS(t, h.addr, s.Path(), forkStyle)
	peer, err := asst.Next(wait)
	if err != nil {
		t.Fatal(err)
	}
	ev.wait(t, media.EventAssistantConnected, wait)
	burst := time.Now()
	if err := peer.SendBinary(wstest.Tone(440, 8000, 0, 8000)); err != nil { // 1 s of speech at once
		t.Fatal(err)
	}
	got := ev.wait(t, media.EventFailed, 5*time.Second)
	took := time.Since(burst)
	if got.Failure.Cause != media.ReasonSilence || took < 1200*time.Millisecond {
		t.Fatalf("%s after %v; want silence after 1 s of playout + 300 ms", got.Failure.Cause, took)
	}
}
