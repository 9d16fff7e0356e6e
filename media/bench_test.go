package media_test

import (
	"testing"

	"ailb/media"
	"ailb/media/wstest"

	"github.com/gorilla/websocket"
)

// One 20 ms frame from FreeSWITCH through the relay to the assistant, over
// loopback sockets: ns/op is the frame's latency through both hops.
func benchmarkRelay(b *testing.B, proto string, rate int) {
	got := make(chan struct{}, 1)
	asst := wstest.Start(wstest.Options{Protocol: proto, SampleRate: rate, OnMessage: func(m wstest.Msg) {
		if m.Type == websocket.BinaryMessage || isMedia(m) {
			got <- struct{}{}
		}
	}})
	defer asst.Close()
	h := newHarness(b, media.RelayOptions{})
	s, ev := h.register(media.StreamConfig{AssistantURL: asst.URL, Protocol: proto, SampleRate: rate})
	fs := connectFS(b, h.addr, s.Path(), forkStyle)
	ev.wait(b, media.EventAssistantConnected, wait)
	frame := wstest.Tone(440, rate, 0, rate/50)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		fs.binary(frame)
		<-got
	}
	b.StopTimer()
	s.Close("benchmark over")
}

func BenchmarkRelayFrameRaw(b *testing.B)    { benchmarkRelay(b, media.ProtocolRaw, 16000) }
func BenchmarkRelayFrameTwilio(b *testing.B) { benchmarkRelay(b, media.ProtocolTwilio, 8000) }
