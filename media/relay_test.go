package media_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"ailb/media"
	"ailb/media/wstest"

	"github.com/gorilla/websocket"
)

const wait = 3 * time.Second

func isMedia(m wstest.Msg) bool { return m.Twilio != nil && m.Twilio.Event == "media" }

func isText(want string) func(wsFrame) bool {
	return func(f wsFrame) bool { return f.op == opText && string(f.data) == want }
}

// A Twilio assistant: FreeSWITCH's 8 kHz L16 arrives as 20 ms μ-law media
// messages after connected and start; its μ-law comes back as L16; DTMF,
// marks and clear work; the caller hanging up sends stop and closes both.
func TestTwilioCall(t *testing.T) {
	h := newHarness(t, media.RelayOptions{NewID: func() string { return "0123456789abcdef0123456789abcdef" }})
	asst := wstest.Start(wstest.Options{Protocol: media.ProtocolTwilio})
	t.Cleanup(asst.Close)
	s, ev := h.register(media.StreamConfig{
		CallID:       "8399095e-1e1d-4305-a9d2-eeba61e30370",
		AssistantURL: asst.URL + "?key=" + assistantSecret,
		Protocol:     media.ProtocolTwilio,
		SampleRate:   8000,
		Params:       map[string]string{"caller": "+15550100", "destination": "1020"},
	})
	fs := connectFS(t, h.addr, s.Path(), forkStyle)
	if fs.Subprotocol != media.ForkSubprotocol {
		t.Fatalf("subprotocol %q, want it echoed", fs.Subprotocol)
	}
	if got := ev.wait(t, media.EventFreeSWITCHConnected, wait); got.Subprotocol != media.ForkSubprotocol {
		t.Fatalf("event subprotocol %q", got.Subprotocol)
	}
	peer, err := asst.Next(wait)
	if err != nil {
		t.Fatal(err)
	}
	ev.wait(t, media.EventAssistantConnected, wait)

	// Caller to assistant: 25 frames of a 440 Hz tone, in frames of
	// uneven sizes (mod_audio_fork does not guarantee 320 bytes).
	fs.text(`{"uuid":"8399095e-1e1d-4305-a9d2-eeba61e30370","dest":"1020","rate":"8k"}`)
	tone := wstest.Tone(440, 8000, 0, 25*160)
	tk := time.NewTicker(20 * time.Millisecond)
	for off, i := 0, 0; off < len(tone); i++ {
		n := []int{320, 101, 219}[i%3]
		fs.binary(tone[off:min(off+n, len(tone))])
		off += n
		<-tk.C
	}
	tk.Stop()
	if _, err := peer.Wait(wait, func(m wstest.Msg) bool { return isMedia(m) && m.Twilio.Media.Chunk == "25" }); err != nil {
		t.Fatal(err)
	}
	msgs := peer.Received()
	const sid = "MZ0123456789abcdef0123456789abcdef"
	wantStart := `{"event":"start","sequenceNumber":"1","streamSid":"` + sid + `","start":{"accountSid":"ailb","streamSid":"` + sid +
		`","callSid":"8399095e-1e1d-4305-a9d2-eeba61e30370","tracks":["inbound"],"customParameters":{"caller":"+15550100","destination":"1020"},` +
		`"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}`
	wantMedia1 := `{"event":"media","sequenceNumber":"2","streamSid":"` + sid + `","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"` +
		base64.StdEncoding.EncodeToString(media.AppendMulaw(nil, tone[:320])) + `"}}`
	for i, want := range []string{`{"event":"connected","protocol":"Call","version":"1.0.0"}`, wantStart, wantMedia1} {
		if got := string(msgs[i].Data); got != want {
			t.Fatalf("message %d\n got %s\nwant %s", i, got, want)
		}
	}
	for i, m := range msgs[2:27] {
		md := m.Twilio.Media
		if m.Twilio.SequenceNumber != strconv.Itoa(i+2) || md.Chunk != strconv.Itoa(i+1) || md.Timestamp != strconv.Itoa(20*i) || md.Track != "inbound" {
			t.Fatalf("media %d: %s", i, m.Data)
		}
		if p, _ := base64.StdEncoding.DecodeString(md.Payload); len(p) != media.TwilioFrameBytes {
			t.Fatalf("media %d: %d payload bytes", i, len(p))
		}
	}
	checkG711(t, peer.Audio(), samples(tone))

	// Assistant to caller: its μ-law arrives as 320-byte L16 frames.
	back := wstest.Tone(440, 8000, 0, 25*160)
	for off := 0; off < len(back); off += 320 {
		if err := peer.SendAudio(back[off : off+320]); err != nil {
			t.Fatal(err)
		}
	}
	if got := ev.wait(t, media.EventFirstAudio, wait); !got.Spoke {
		t.Fatal("FirstAudio without Spoke")
	}
	var heard []byte
	for len(heard) < len(back) {
		f := fs.waitFrame(wait, func(f wsFrame) bool { return f.op == opBinary })
		if len(f.data) != 320 {
			t.Fatalf("audio frame of %d bytes, want 320", len(f.data))
		}
		heard = append(heard, f.data...)
	}
	checkG711(t, samples(heard), samples(back))

	// DTMF, a mark round trip, clear.
	s.SendDTMF("5")
	dtmf, err := peer.Wait(wait, func(m wstest.Msg) bool { return m.Twilio != nil && m.Twilio.Event == "dtmf" })
	if err != nil {
		t.Fatal(err)
	}
	if d := dtmf.Twilio; d.StreamSid != sid || d.DTMF == nil || *d.DTMF != (media.TwilioDTMF{Track: "inbound_track", Digit: "5"}) {
		t.Fatalf("dtmf message %s", dtmf.Data)
	}
	if err := peer.SendMark("m1"); err != nil {
		t.Fatal(err)
	}
	fs.waitFrame(wait, isText(`{"type":"mark","data":{"name":"m1"}}`))
	fs.text(`{"type": "mark", "data": {"name":"m1", "event": "playout"}}`) // transcript d, verbatim
	mark, err := peer.Wait(wait, func(m wstest.Msg) bool { return m.Twilio != nil && m.Twilio.Event == "mark" })
	if err != nil {
		t.Fatal(err)
	}
	if mark.Twilio.Mark == nil || mark.Twilio.Mark.Name != "m1" || mark.Twilio.StreamSid != sid {
		t.Fatalf("mark message %s", mark.Data)
	}
	if err := peer.SendClear(); err != nil {
		t.Fatal(err)
	}
	fs.waitFrame(wait, isText(`{"type":"killAudio"}`))

	// The caller hangs up (transcript f): Close 1000 from FreeSWITCH.
	echo := fs.hangUp(1000, "")
	if code, _ := echo.closeCode(); code != 1000 {
		t.Fatalf("close echo %d", code)
	}
	if got := ev.wait(t, media.EventFreeSWITCHClosed, wait); got.CloseCode != 1000 || got.Err != nil || !got.Spoke {
		t.Fatalf("closed event %+v", got)
	}
	stop, err := peer.Wait(wait, func(m wstest.Msg) bool { return m.Twilio != nil && m.Twilio.Event == "stop" })
	if err != nil {
		t.Fatal(err)
	}
	seq := stop.Twilio.SequenceNumber
	if want := `{"event":"stop","sequenceNumber":"` + seq + `","streamSid":"` + sid + `","stop":{"accountSid":"ailb","callSid":"8399095e-1e1d-4305-a9d2-eeba61e30370"}}`; string(stop.Data) != want {
		t.Fatalf("stop\n got %s\nwant %s", stop.Data, want)
	}
	<-peer.Closed()
	if peer.CloseCode() != 1000 {
		t.Fatalf("assistant closed with %d, want 1000", peer.CloseCode())
	}
	<-s.Done()
	// Every message after connected is numbered 1, 2, 3... without gaps.
	for i, m := range peer.Received()[1:] {
		if m.Twilio.SequenceNumber != strconv.Itoa(i+1) {
			t.Fatalf("message %d has sequenceNumber %q: %s", i+1, m.Twilio.SequenceNumber, m.Data)
		}
	}
	want := sequence(media.EventFreeSWITCHConnected, media.EventAssistantConnected, media.EventFirstAudio, media.EventFreeSWITCHClosed)
	if got := fmt.Sprint(ev.kinds()); got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
}

// A raw assistant at 16 kHz: the metadata and every frame pass through
// byte for byte both ways; stop's text arrives before the Close.
func TestRawCall(t *testing.T) {
	h := newHarness(t, media.RelayOptions{})
	asst := wstest.Start(wstest.Options{SampleRate: 16000})
	t.Cleanup(asst.Close)
	s, ev := h.register(media.StreamConfig{
		AssistantURL: "ws://user:pw@" + asst.URL[len("ws://"):] + "?token=" + assistantSecret,
		Header:       http.Header{"X-Api-Key": {assistantSecret}},
		SampleRate:   16000,
	})
	fs := connectFS(t, h.addr, s.Path(), forkStyle)
	peer, err := asst.Next(wait)
	if err != nil {
		t.Fatal(err)
	}
	if peer.Header.Get("X-Api-Key") != assistantSecret || peer.Header.Get("Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte("user:pw")) {
		t.Fatalf("upgrade headers %v", peer.Header)
	}
	if peer.Query != "token="+assistantSecret {
		t.Fatalf("query %q", peer.Query)
	}
	const meta = `{"uuid":"8399095e-1e1d-4305-a9d2-eeba61e30370","dest":"1020","rate":"16k"}`
	fs.text(meta)
	tone := wstest.Tone(1000, 16000, 0, 10*320)
	fs.pace(tone, 640)
	if _, err := peer.Wait(wait, func(m wstest.Msg) bool { return len(peer.Received()) == 11 }); err != nil {
		t.Fatal(err)
	}
	got := peer.Received()
	if got[0].Type != websocket.TextMessage || string(got[0].Data) != meta {
		t.Fatalf("first message %q, want the metadata", got[0].Data)
	}
	var relayed []byte
	for _, m := range got[1:] {
		if m.Type != websocket.BinaryMessage || len(m.Data) != 640 {
			t.Fatalf("frame type %d, %d bytes", m.Type, len(m.Data))
		}
		relayed = append(relayed, m.Data...)
	}
	if !bytes.Equal(relayed, tone) {
		t.Fatal("caller audio changed on the way")
	}

	back := wstest.Tone(440, 16000, 0, 5*320)
	for off := 0; off < len(back); off += 640 {
		if err := peer.SendBinary(back[off : off+640]); err != nil {
			t.Fatal(err)
		}
	}
	var heard []byte
	for len(heard) < len(back) {
		heard = append(heard, fs.waitFrame(wait, func(f wsFrame) bool { return f.op == opBinary }).data...)
	}
	if !bytes.Equal(heard, back) {
		t.Fatal("assistant audio changed on the way")
	}

	s.SendDTMF("#")
	if _, err := peer.Wait(wait, func(m wstest.Msg) bool { return string(m.Data) == `{"type":"ailb.dtmf","digit":"#"}` }); err != nil {
		t.Fatal(err)
	}
	if err := peer.SendClear(); err != nil {
		t.Fatal(err)
	}
	fs.waitFrame(wait, isText(`{"type":"killAudio"}`))
	// mod_audio_fork's own mark, and its report passed back verbatim.
	if err := peer.SendText(`{"type":"mark","data":{"name":"m2"}}`); err != nil {
		t.Fatal(err)
	}
	fs.waitFrame(wait, isText(`{"type":"mark","data":{"name":"m2"}}`))
	const report = `{"type": "mark", "data": {"name":"m2", "event": "playout"}}`
	fs.text(report)
	if _, err := peer.Wait(wait, func(m wstest.Msg) bool { return string(m.Data) == report }); err != nil {
		t.Fatal(err)
	}

	// uuid_audio_fork stop {"reason":"probe-stop"}: the text, then Close 1000.
	fs.text(`{"reason":"probe-stop"}`)
	fs.hangUp(1000, "")
	if _, err := peer.Wait(wait, func(m wstest.Msg) bool { return string(m.Data) == `{"reason":"probe-stop"}` }); err != nil {
		t.Fatal(err)
	}
	<-peer.Closed()
	if peer.CloseCode() != 1000 {
		t.Fatalf("assistant closed with %d", peer.CloseCode())
	}
	ev.wait(t, media.EventFreeSWITCHClosed, wait)
	<-s.Done()
}

// mod_audio_stream offers no subprotocol and writes "Host:h:p": the relay
// accepts it and answers without Sec-WebSocket-Protocol.
func TestAudioStreamHandshake(t *testing.T) {
	h := newHarness(t, media.RelayOptions{})
	asst := wstest.Start(wstest.Options{SampleRate: 16000})
	t.Cleanup(asst.Close)
	s, ev := h.register(media.StreamConfig{AssistantURL: asst.URL, SampleRate: 16000})
	fs := connectFS(t, h.addr, s.Path(), streamStyle)
	if fs.Subprotocol != "" || bytes.Contains([]byte(fs.Response), []byte("Sec-Websocket-Protocol")) {
		t.Fatalf("answer names a subprotocol:\n%s", fs.Response)
	}
	if got := ev.wait(t, media.EventFreeSWITCHConnected, wait); got.Subprotocol != "" {
		t.Fatalf("event subprotocol %q", got.Subprotocol)
	}
	peer, err := asst.Next(wait)
	if err != nil {
		t.Fatal(err)
	}
	fs.text(`{"uuid":"661c7a06-7d82-443a-a23b-9e7597987166","dest":"1030","rate":"16k"}`)
	fs.pace(wstest.Tone(1000, 16000, 0, 3*320), 640)
	if _, err := peer.Wait(wait, func(wstest.Msg) bool { return len(peer.Received()) == 4 }); err != nil {
		t.Fatal(err)
	}
	if code, reason := fs.hangUp(1000, "Normal closure").closeCode(); code != 1000 {
		t.Fatalf("echo %d %q", code, reason)
	}
	ev.wait(t, media.EventFreeSWITCHClosed, wait)
	<-s.Done()
}

// graceful-shutdown sends one empty BINARY frame and leaves the close to
// the server (transcripts d6, d7): the relay closes both sides.
func TestGracefulShutdown(t *testing.T) {
	h := newHarness(t, media.RelayOptions{})
	asst := wstest.Start(wstest.Options{})
	t.Cleanup(asst.Close)
	s, ev := h.register(media.StreamConfig{AssistantURL: asst.URL})
	fs := connectFS(t, h.addr, s.Path(), forkStyle)
	peer, err := asst.Next(wait)
	if err != nil {
		t.Fatal(err)
	}
	fs.pace(wstest.Tone(1000, 8000, 0, 2*160), 320)
	fs.binary(nil)
	closing := fs.waitFrame(wait, func(f wsFrame) bool { return f.op == opClose })
	if code, reason := closing.closeCode(); code != 1000 || reason != "graceful-shutdown" {
		t.Fatalf("relay closed FreeSWITCH with %d %q", code, reason)
	}
	if got := ev.wait(t, media.EventFreeSWITCHClosed, wait); got.CloseCode != 0 || got.Err != nil {
		t.Fatalf("event %+v", got)
	}
	<-peer.Closed()
	if peer.CloseCode() != 1000 {
		t.Fatalf("assistant closed with %d", peer.CloseCode())
	}
	<-s.Done()
}

// The assistant closing with 1000 ends the stream normally; FreeSWITCH
// gets Close 1000 and the call is the controller's again.
func TestAssistantEnds(t *testing.T) {
	h := newHarness(t, media.RelayOptions{})
	asst := wstest.Start(wstest.Options{})
	t.Cleanup(asst.Close)
	s, ev := h.register(media.StreamConfig{AssistantURL: asst.URL})
	fs := connectFS(t, h.addr, s.Path(), forkStyle)
	peer, err := asst.Next(wait)
	if err != nil {
		t.Fatal(err)
	}
	ev.wait(t, media.EventAssistantConnected, wait)
	if err := peer.Close(1000, "bye"); err != nil {
		t.Fatal(err)
	}
	if got := ev.wait(t, media.EventAssistantEnded, wait); got.CloseCode != 1000 {
		t.Fatalf("event %+v", got)
	}
	closing := fs.waitFrame(wait, func(f wsFrame) bool { return f.op == opClose })
	if code, reason := closing.closeCode(); code != 1000 || reason != "assistant ended" {
		t.Fatalf("FreeSWITCH closed with %d %q", code, reason)
	}
	<-s.Done()
}

// Close by the owner: Close 1000 on both sides (Twilio stop first), no
// event, idempotent, and the id can be registered again.
func TestOwnerClose(t *testing.T) {
	h := newHarness(t, media.RelayOptions{})
	asst := wstest.Start(wstest.Options{Protocol: media.ProtocolTwilio})
	t.Cleanup(asst.Close)
	cfg := media.StreamConfig{CallID: "call-1", AssistantURL: asst.URL, Protocol: media.ProtocolTwilio}
	s, ev := h.register(cfg)
	fs := connectFS(t, h.addr, s.Path(), forkStyle)
	peer, err := asst.Next(wait)
	if err != nil {
		t.Fatal(err)
	}
	ev.wait(t, media.EventAssistantConnected, wait)
	s.Close("transfer to ivr")
	s.Close("again")
	closing := fs.waitFrame(wait, func(f wsFrame) bool { return f.op == opClose })
	if code, reason := closing.closeCode(); code != 1000 || reason != "transfer to ivr" {
		t.Fatalf("FreeSWITCH closed with %d %q", code, reason)
	}
	if _, err := peer.Wait(wait, func(m wstest.Msg) bool { return m.Twilio != nil && m.Twilio.Event == "stop" }); err != nil {
		t.Fatal(err)
	}
	<-peer.Closed()
	if peer.CloseCode() != 1000 {
		t.Fatalf("assistant closed with %d", peer.CloseCode())
	}
	want := sequence(media.EventFreeSWITCHConnected, media.EventAssistantConnected)
	if got := fmt.Sprint(ev.kinds()); got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if _, err := h.relay.Register(media.StreamConfig{CallID: "call-1", Token: secret, AssistantURL: asst.URL, Protocol: media.ProtocolTwilio, SampleRate: 8000}); err != nil {
		t.Fatalf("registering the id again: %v", err)
	}
}

// State and hand-off messages become events; broken ones are reported,
// ignored, and the call goes on.
func TestControlMessages(t *testing.T) {
	for _, proto := range []string{media.ProtocolRaw, media.ProtocolTwilio} {
		t.Run(proto, func(t *testing.T) {
			h := newHarness(t, media.RelayOptions{})
			asst := wstest.Start(wstest.Options{Protocol: proto})
			t.Cleanup(asst.Close)
			s, ev := h.register(media.StreamConfig{AssistantURL: asst.URL, Protocol: proto})
			fs := connectFS(t, h.addr, s.Path(), forkStyle)
			peer, err := asst.Next(wait)
			if err != nil {
				t.Fatal(err)
			}
			ev.wait(t, media.EventAssistantConnected, wait)

			tests := []struct {
				name  string
				send  func() error
				want  media.EventKind
				check func(media.StreamEvent) string
			}{
				{
					name: "state",
					send: func() error { return peer.SendState(map[string]any{"account": "12345", "language": "de"}) },
					want: media.EventState,
					check: func(e media.StreamEvent) string {
						return fmt.Sprint(e.State)
					},
				},
				{
					name:  "bad name",
					send:  func() error { return peer.SendState(map[string]any{"Bad-Name": "x", "ok": "y"}) },
					want:  media.EventControlError,
					check: func(e media.StreamEvent) string { return e.Err.Error() },
				},
				{
					name:  "control character",
					send:  func() error { return peer.SendState(map[string]any{"note": "a\nb"}) },
					want:  media.EventControlError,
					check: func(e media.StreamEvent) string { return e.Err.Error() },
				},
				{
					name:  "number",
					send:  func() error { return peer.SendState(map[string]any{"count": 3}) },
					want:  media.EventControlError,
					check: func(e media.StreamEvent) string { return e.Err.Error() },
				},
				{
					name: "handoff ivr",
					send: func() error { return peer.SendHandoff("ivr:billing", map[string]any{"intent": "refund"}) },
					want: media.EventHandoff,
					check: func(e media.StreamEvent) string {
						return fmt.Sprintf("%s %s %v", e.Handoff.Kind, e.Handoff.Menu, e.Handoff.State)
					},
				},
				{
					name: "handoff extension",
					send: func() error { return peer.SendHandoff("extension:1000@support", nil) },
					want: media.EventHandoff,
					check: func(e media.StreamEvent) string {
						return fmt.Sprintf("%s %s@%s %d", e.Handoff.Kind, e.Handoff.Extension, e.Handoff.Context, len(e.Handoff.State))
					},
				},
				{
					name:  "handoff nowhere",
					send:  func() error { return peer.SendHandoff("pstn:+15550100", nil) },
					want:  media.EventControlError,
					check: func(e media.StreamEvent) string { return e.Err.Error() },
				},
			}
			want := []string{
				"map[ailb_state_account:12345 ailb_state_language:de]",
				`ailb.state: state name "Bad-Name": want [a-z0-9_]{1,32}`,
				`ailb.state: state "note": value holds control characters or invalid UTF-8`,
				`ailb.state: state "count": value must be a string`,
				"ivr billing map[ailb_state_intent:refund]",
				"extension 1000@support 0",
				`ailb.handoff: handoff to "pstn:+15550100": want fallback, ivr:<menu> or extension:<ext>[@<context>]`,
			}
			for i, tt := range tests {
				if err := tt.send(); err != nil {
					t.Fatal(err)
				}
				got := ev.wait(t, tt.want, wait)
				if s := tt.check(got); s != want[i] {
					t.Errorf("%s: got %s, want %s", tt.name, s, want[i])
				}
			}
			// Still relaying.
			fs.binary(wstest.Tone(440, 8000, 0, 160))
			if _, err := peer.Wait(wait, func(m wstest.Msg) bool {
				return m.Type == websocket.BinaryMessage || isMedia(m)
			}); err != nil {
				t.Fatal(err)
			}
			for _, e := range ev.events() {
				if e.Kind.Terminal() {
					t.Fatalf("the stream ended: %+v", e)
				}
			}
		})
	}
}

func TestControlMessageShapes(t *testing.T) {
	// The documented shapes, verbatim.
	tests := []struct {
		proto, give string
		want        media.EventKind
	}{
		{media.ProtocolRaw, `{"type":"ailb.state","data":{"account":"12345"}}`, media.EventState},
		{media.ProtocolRaw, `{"type":"ailb.handoff","data":{"to":"fallback","state":{"intent":"agent"}}}`, media.EventHandoff},
		{media.ProtocolTwilio, `{"event":"ailb.state","state":{"account":"12345"}}`, media.EventState},
		{media.ProtocolTwilio, `{"event":"ailb.handoff","handoff":{"to":"fallback","state":{"intent":"agent"}}}`, media.EventHandoff},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			h := newHarness(t, media.RelayOptions{})
			asst := wstest.Start(wstest.Options{Protocol: tt.proto})
			t.Cleanup(asst.Close)
			s, ev := h.register(media.StreamConfig{AssistantURL: asst.URL, Protocol: tt.proto})
			connectFS(t, h.addr, s.Path(), forkStyle)
			peer, err := asst.Next(wait)
			if err != nil {
				t.Fatal(err)
			}
			if err := peer.SendText(tt.give); err != nil {
				t.Fatal(err)
			}
			got := ev.wait(t, tt.want, wait)
			b, _ := json.Marshal(struct {
				S map[string]string
				H *media.Handoff
			}{got.State, got.Handoff})
			if !bytes.Contains(b, []byte(`"ailb_state_`)) {
				t.Fatalf("event carries %s", b)
			}
		})
	}
}

// An assistant that ends with Close 1000 while caller audio streams to it
// ends normally: the writer, failing on the closed socket (or after
// gorilla answered the Close), lets the reader's verdict win.
func TestAssistantEndsWhileAudioFlows(t *testing.T) {
	h := newHarness(t, media.RelayOptions{})
	asst := wstest.Start(wstest.Options{Protocol: media.ProtocolTwilio})
	t.Cleanup(asst.Close)
	for i := range 20 {
		s, ev := h.register(media.StreamConfig{CallID: fmt.Sprintf("c-%d", i), AssistantURL: asst.URL, Protocol: media.ProtocolTwilio, SampleRate: 8000})
		fs := connectFS(t, h.addr, s.Path(), forkStyle)
		peer, err := asst.Next(wait)
		if err != nil {
			t.Fatal(err)
		}
		ev.wait(t, media.EventAssistantConnected, wait)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { // FreeSWITCH keeps streaming, unpaced
			defer close(done)
			frame := make([]byte, 320)
			for {
				select {
				case <-stop:
					return
				default:
					if fs.writeFrame(opBinary, frame) != nil {
						return
					}
				}
			}
		}()
		time.Sleep(20 * time.Millisecond)
		_ = peer.Close(1000, "bye")
		<-s.Done()
		close(stop)
		<-done
		for _, e := range ev.events() {
			if e.Kind == media.EventFailed {
				t.Fatalf("round %d: a normal close reported as %s (%v)", i, e.Failure.Cause, e.Err)
			}
		}
		if ev.wait(t, media.EventAssistantEnded, wait).CloseCode != 1000 {
			t.Fatalf("round %d: no normal end", i)
		}
		fs.shutdown()
	}
}
