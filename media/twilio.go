package media

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
)

// Twilio Media Streams, as twilio.com/docs/voice/media-streams documents
// them (reference sheet 5.4): every message has "event"; sequenceNumber,
// chunk and timestamp are strings; audio is base64 μ-law at 8 kHz, 160
// bytes per 20 ms.
//
// ailb sends connected, start, media, dtmf, mark (when FreeSWITCH has
// played up to one the assistant sent) and stop. It accepts media, mark
// and clear, plus the ailb.state and ailb.handoff control messages.

// Twilio protocol constants.
const (
	TwilioEncoding   = "audio/x-mulaw"
	TwilioSampleRate = 8000
	TwilioFrameBytes = 160 // μ-law bytes per 20 ms
	twilioTrack      = "inbound"
	twilioDTMFTrack  = "inbound_track"
)

// TwilioMessage is one Media Streams message, both directions. Only the
// part named by Event is set.
type TwilioMessage struct {
	Event          string `json:"event"`
	SequenceNumber string `json:"sequenceNumber,omitempty"`
	StreamSid      string `json:"streamSid,omitempty"`

	Protocol string `json:"protocol,omitempty"` // connected
	Version  string `json:"version,omitempty"`  // connected

	Start *TwilioStart `json:"start,omitempty"`
	Media *TwilioMedia `json:"media,omitempty"`
	DTMF  *TwilioDTMF  `json:"dtmf,omitempty"`
	Mark  *TwilioMark  `json:"mark,omitempty"`
	Stop  *TwilioStop  `json:"stop,omitempty"`

	// ailb control messages from the assistant.
	State   map[string]string `json:"state,omitempty"`   // ailb.state
	Handoff *HandoffMessage   `json:"handoff,omitempty"` // ailb.handoff
}

// TwilioStart describes the stream.
type TwilioStart struct {
	AccountSid       string            `json:"accountSid"`
	StreamSid        string            `json:"streamSid"`
	CallSid          string            `json:"callSid"`
	Tracks           []string          `json:"tracks"`
	CustomParameters map[string]string `json:"customParameters"`
	MediaFormat      TwilioMediaFormat `json:"mediaFormat"`
}

// TwilioMediaFormat is always audio/x-mulaw, 8000, 1 here.
type TwilioMediaFormat struct {
	Encoding   string `json:"encoding"`
	SampleRate int    `json:"sampleRate"`
	Channels   int    `json:"channels"`
}

// TwilioMedia carries audio. The assistant sends only Payload.
type TwilioMedia struct {
	Track     string `json:"track,omitempty"`
	Chunk     string `json:"chunk,omitempty"`
	Timestamp string `json:"timestamp,omitempty"` // ms since the stream started
	Payload   string `json:"payload"`
}

// TwilioDTMF is a key the caller pressed.
type TwilioDTMF struct {
	Track string `json:"track"`
	Digit string `json:"digit"`
}

// TwilioMark names a point in the assistant's audio.
type TwilioMark struct {
	Name string `json:"name"`
}

// TwilioStop ends the stream.
type TwilioStop struct {
	AccountSid string `json:"accountSid"`
	CallSid    string `json:"callSid"`
}

// twilioIDs are the ids a stream announces in start and stop.
type twilioIDs struct {
	accountSid, callSid, streamSid string
	params                         map[string]string
}

func (ids *twilioIDs) connected() *TwilioMessage {
	return &TwilioMessage{Event: "connected", Protocol: "Call", Version: "1.0.0"}
}

func (ids *twilioIDs) start() *TwilioMessage {
	params := ids.params
	if params == nil {
		params = map[string]string{}
	}
	return &TwilioMessage{Event: "start", StreamSid: ids.streamSid, Start: &TwilioStart{
		AccountSid: ids.accountSid, StreamSid: ids.streamSid, CallSid: ids.callSid,
		Tracks: []string{twilioTrack}, CustomParameters: params,
		MediaFormat: TwilioMediaFormat{Encoding: TwilioEncoding, SampleRate: TwilioSampleRate, Channels: 1},
	}}
}

func (ids *twilioIDs) dtmf(digit string) *TwilioMessage {
	return &TwilioMessage{Event: "dtmf", StreamSid: ids.streamSid, DTMF: &TwilioDTMF{Track: twilioDTMFTrack, Digit: digit}}
}

func (ids *twilioIDs) mark(name string) *TwilioMessage {
	return &TwilioMessage{Event: "mark", StreamSid: ids.streamSid, Mark: &TwilioMark{Name: name}}
}

func (ids *twilioIDs) stop() *TwilioMessage {
	return &TwilioMessage{Event: "stop", StreamSid: ids.streamSid, Stop: &TwilioStop{AccountSid: ids.accountSid, CallSid: ids.callSid}}
}

// appendTwilio appends m with sequence number seq (0: none).
func appendTwilio(dst []byte, m *TwilioMessage, seq int64) []byte {
	if seq > 0 {
		m.SequenceNumber = strconv.FormatInt(seq, 10)
	}
	b, err := json.Marshal(m)
	if err != nil {
		// Only strings, ints and string maps: Marshal cannot fail.
		panic(err)
	}
	return append(dst, b...)
}

// appendTwilioMedia appends a media message without reflection: it is
// sent 50 times a second per call. The result equals json.Marshal of the
// same TwilioMessage (checked by a golden test).
func appendTwilioMedia(dst []byte, seq, chunk int64, streamSid string, ulaw []byte) []byte {
	dst = append(dst, `{"event":"media","sequenceNumber":"`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `","streamSid":"`...)
	dst = append(dst, streamSid...) // ours: [A-Za-z0-9], needs no escaping
	dst = append(dst, `","media":{"track":"inbound","chunk":"`...)
	dst = strconv.AppendInt(dst, chunk, 10)
	dst = append(dst, `","timestamp":"`...)
	dst = strconv.AppendInt(dst, (chunk-1)*20, 10)
	dst = append(dst, `","payload":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, ulaw)
	return append(dst, `"}}`...)
}
