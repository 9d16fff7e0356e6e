package media

import (
	"encoding/base64"
	"encoding/json"
	"testing"
)

func TestTwilioMessagesGolden(t *testing.T) {
	ids := &twilioIDs{accountSid: "ailb", callSid: "c-1", streamSid: "MZ00ff", params: map[string]string{"to": "1020", "from": "+15550100"}}
	tests := []struct {
		give *TwilioMessage
		seq  int64
		want string
	}{
		{ids.connected(), 0, `{"event":"connected","protocol":"Call","version":"1.0.0"}`},
		{ids.start(), 1, `{"event":"start","sequenceNumber":"1","streamSid":"MZ00ff","start":{"accountSid":"ailb","streamSid":"MZ00ff","callSid":"c-1","tracks":["inbound"],"customParameters":{"from":"+15550100","to":"1020"},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}`},
		{ids.dtmf("7"), 5, `{"event":"dtmf","sequenceNumber":"5","streamSid":"MZ00ff","dtmf":{"track":"inbound_track","digit":"7"}}`},
		{ids.mark(`say "hi"`), 6, `{"event":"mark","sequenceNumber":"6","streamSid":"MZ00ff","mark":{"name":"say \"hi\""}}`},
		{ids.stop(), 7, `{"event":"stop","sequenceNumber":"7","streamSid":"MZ00ff","stop":{"accountSid":"ailb","callSid":"c-1"}}`},
		{(&twilioIDs{streamSid: "MZ1"}).start(), 1, `{"event":"start","sequenceNumber":"1","streamSid":"MZ1","start":{"accountSid":"","streamSid":"MZ1","callSid":"","tracks":["inbound"],"customParameters":{},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}`},
	}
	for _, tt := range tests {
		if got := string(appendTwilio(nil, tt.give, tt.seq)); got != tt.want {
			t.Errorf("\n got %s\nwant %s", got, tt.want)
		}
	}
}

// The hand-written media message is exactly what encoding/json makes.
func TestTwilioMediaMatchesMarshal(t *testing.T) {
	tests := []struct {
		seq, chunk int64
		give       []byte
	}{
		{2, 1, make([]byte, 160)},
		{12345, 999, AppendMulaw(nil, tone(440, 8000, 160))},
		{3, 2, nil},
	}
	for _, tt := range tests {
		got := appendTwilioMedia([]byte("x"), tt.seq, tt.chunk, "MZabc", tt.give)
		want, _ := json.Marshal(&TwilioMessage{
			Event: "media", SequenceNumber: itoa(tt.seq), StreamSid: "MZabc",
			Media: &TwilioMedia{Track: "inbound", Chunk: itoa(tt.chunk), Timestamp: itoa((tt.chunk - 1) * 20), Payload: base64.StdEncoding.EncodeToString(tt.give)},
		})
		if string(got) != "x"+string(want) {
			t.Errorf("\n got %s\nwant x%s", got, want)
		}
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// Encoding one 20 ms frame for a Twilio assistant: μ-law and the message.
func BenchmarkTwilioMediaEncode(b *testing.B) {
	pcm := tone(440, 8000, 160)
	ulaw := make([]byte, 0, TwilioFrameBytes)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	var seq int64
	for b.Loop() {
		seq++
		ulaw = AppendMulaw(ulaw[:0], pcm)
		buf = appendTwilioMedia(buf[:0], seq, seq, "MZ0123456789abcdef0123456789abcdef", ulaw)
	}
}

// Decoding one 20 ms media message from a Twilio assistant to L16.
func BenchmarkTwilioMediaDecode(b *testing.B) {
	msg := []byte(`{"event":"media","streamSid":"MZ1","media":{"payload":"` + base64.StdEncoding.EncodeToString(AppendMulaw(nil, tone(440, 8000, 160))) + `"}}`)
	d := assistantDecoder{protocol: ProtocolTwilio}
	b.ReportAllocs()
	for b.Loop() {
		if in, err := d.decode(1, msg); err != nil || len(in.audio) != 320 {
			b.Fatal(in, err)
		}
	}
}
