package fssim

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The subscription of the transcripts (probews).
const customSubs = "event plain CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CUSTOM " +
	"mod_audio_fork::connect mod_audio_fork::connect_failed mod_audio_fork::disconnect mod_audio_fork::error " +
	"mod_audio_fork::json mod_audio_fork::play_audio mod_audio_fork::kill_audio mod_audio_fork::transcription " +
	"mod_audio_fork::transfer mod_audio_fork::buffer_overrun mod_audio_stream::connect mod_audio_stream::disconnect " +
	"mod_audio_stream::error mod_audio_stream::json mod_audio_stream::play"

// customMsg is a CUSTOM event as read from the socket.
type customMsg struct {
	wireMsg
	subclass, body string
	hasBody        bool
}

func asCustom(m wireMsg) customMsg {
	cm := customMsg{wireMsg: m, subclass: m.ev["Event-Subclass"]}
	if _, rest, ok := strings.Cut(string(m.body), "\n\n"); ok && m.ev["Content-Length"] != "" {
		cm.body, cm.hasBody = rest, true
	}
	return cm
}

// custom waits for the next CUSTOM event.
func (c *eslConn) custom(subclass string) customMsg {
	c.t.Helper()
	return asCustom(c.event(subclass, func(m wireMsg) bool {
		return m.ev["Event-Name"] == "CUSTOM" && m.ev["Event-Subclass"] == subclass
	}))
}

// customs lists the CUSTOM events read so far.
func customs(msgs []wireMsg) []customMsg {
	var out []customMsg
	for _, m := range msgs {
		if m.kind == "event" && m.ev["Event-Name"] == "CUSTOM" {
			out = append(out, asCustom(m))
		}
	}
	return out
}

func (c *eslConn) api(args string) string {
	c.t.Helper()
	return c.replyText("api " + args)
}

// streamCall is the transcripts' probe: linger, myevents, the CUSTOM
// subscription, optionally send_silence_when_idle, answer.
func streamCall(t *testing.T, sw *Switch, call Call, silence bool) *eslConn {
	t.Helper()
	c := dialCall(t, sw, call)
	c.setup("linger 5")
	if r := c.replyText(customSubs); r != "+OK event listener enabled plain" {
		t.Fatalf("event: %q", r)
	}
	if silence {
		c.run("set", "send_silence_when_idle=-1")
	}
	c.run("answer", "")
	return c
}

func hangupAndResult(c *eslConn) *Result {
	c.t.Helper()
	c.run("hangup", "NORMAL_CLEARING")
	return c.exit()
}

// samples decodes L16 little-endian.
func samples(b []byte) []int16 {
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out
}

func l16(s []int16) []byte {
	b := make([]byte, 0, 2*len(s))
	for _, v := range s {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	return b
}

// Transcripts a / a2 (and x, drachtio's older module): the upgrade byte
// for byte, the metadata first, then 20 ms L16 frames of the caller's tone
// paced in real time, and on `stop <text>` that text then Close 1000;
// CUSTOM connect with no body.
func TestForkStreamsTheCaller(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rate     string
		size     int
		firstHex string // recorded "first=" of the tone frames
	}{
		{"a-fork-16k", "16k", 640, "0000ed0bfb15a81cfa1ea81cfb15ed0b"},
		{"a2-fork-8k", "8k", 320, "0000fc15fc1efc15000004ea04e104ea"},
		{"x-drachtio-fork-16k", "16k", 640, "0000ed0bfb15a81cfa1ea81cfb15ed0b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := loadWSRecording(t, tc.name)
			srv := startWS(t, nil)
			c := streamCall(t, &Switch{Scale: 1}, Call{}, false)
			meta := rec.metadata(t, c.uuid)
			path := rec.path()
			if r := c.api("uuid_audio_fork " + c.uuid + " start " + srv.URL + path + " mono " + tc.rate + " " + meta); r != "+OK Success\n" {
				t.Fatalf("start: %q", r)
			}
			startAt := time.Now()
			ev := c.custom("mod_audio_fork::connect")
			if ev.hasBody || ev.ev["Content-Length"] != "" {
				t.Errorf("connect event has a body: %q", ev.body)
			}
			if ev.ev["Unique-ID"] != c.uuid || ev.ev["Event-Calling-File"] != "mod_audio_fork.c" ||
				ev.ev["Event-Calling-Function"] != "responseHandler" || ev.ev["Event-Calling-Line-Number"] != "22" {
				t.Errorf("connect event headers %v", ev.ev)
			}
			p := srv.peer()
			p.waitFor(t, "1 s of audio", func(m []peerMsg, _ bool) bool { return len(m) >= 51 })
			if r := c.api("uuid_audio_fork " + c.uuid + ` stop {"reason":"probe-stop"}`); r != "+OK Success\n" {
				t.Fatalf("stop: %q", r)
			}
			stopAt := time.Now()
			code, _ := p.ended(t)
			if code != 1000 {
				t.Errorf("server saw close code %d", code)
			}
			req, frames := clientWire(t, p.raw.bytes())
			key := p.req.Header.Get("Sec-Websocket-Key")
			if want := rec.requestFor(key, strings.TrimPrefix(srv.URL, "ws://")); req != want {
				t.Errorf("upgrade request\n got %q\nrecorded %q", req, want)
			}
			checkFrames(t, frames)
			sameFrames(t, frames, rec, c.uuid)
			if len(frames) < 4 || frames[0].op != opText || string(frames[0].payload) != meta {
				t.Fatalf("first frame is not the metadata: %s", describeFrames(frames))
			}
			last := frames[len(frames)-2:]
			if last[0].op != opText || string(last[0].payload) != `{"reason":"probe-stop"}` || last[1].op != opClose {
				t.Fatalf("stop did not end with its text then Close: %s", describeFrames(frames))
			}
			if code, reason := ParseClose(last[1].payload); code != 1000 || reason != "" {
				t.Errorf("Close %d %q, recorded 1000 ''", code, reason)
			}
			audio := frames[1 : len(frames)-2]
			for i, f := range audio {
				if f.op != opBinary || len(f.payload) != tc.size {
					t.Fatalf("audio frame %d: op %d, %d bytes, want binary %d", i, f.op, len(f.payload), tc.size)
				}
				if hex.EncodeToString(f.payload[:16]) != tc.firstHex {
					t.Fatalf("audio frame %d starts %x, recorded %s", i, f.payload[:16], tc.firstHex)
				}
			}
			// 50 frames a second (pacing), between start and stop.
			elapsed := stopAt.Sub(startAt).Seconds()
			if n := float64(len(audio)); n < elapsed*50-4 || n > elapsed*50+2 {
				t.Errorf("%d audio frames in %.2f s, want ~%.0f", len(audio), elapsed, elapsed*50)
			}
			bins := p.messages()
			var gaps []time.Duration
			for i := 2; i < len(bins) && bins[i].typ == 2; i++ {
				gaps = append(gaps, bins[i].at.Sub(bins[i-1].at))
			}
			slices.Sort(gaps)
			if med := gaps[len(gaps)/2]; med < 17*time.Millisecond || med > 23*time.Millisecond {
				t.Errorf("median gap between frames %v, recorded 20 ms", med)
			}
			// A second stop: the bug is gone.
			if r := c.api("uuid_audio_fork " + c.uuid + " stop"); r != "-ERR Operation Failed\n" {
				t.Errorf("stop without a fork: %q", r)
			}
			res := hangupAndResult(c)
			if len(res.Streams) != 1 {
				t.Fatalf("streams %+v", res.Streams)
			}
			st := res.Streams[0]
			if st.End != "stop" || st.CloseSent != 1000 || st.CloseRecv != 1000 || st.Accepted != forkSubprotocol ||
				st.Subprotocol != forkSubprotocol || st.Metadata != meta || st.AudioFrames != len(audio) ||
				string(st.Request) != req || st.Status != 101 {
				t.Errorf("stream record %+v", st)
			}
			if len(st.Events) != 1 || st.Events[0].Subclass != "mod_audio_fork::connect" || !st.Events[0].Delivered {
				t.Errorf("events %+v", st.Events)
			}
			sameSubclasses(t, c.messages(), rec)
		})
	}
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// sameHeaders compares a CUSTOM event's header names (without variables)
// and framing with the recording's event of the same subclass.
func sameHeaders(t *testing.T, got customMsg, rec *wsRecording) {
	t.Helper()
	sameHeadersVars(t, got, rec, true)
}

// sameHeadersVars is sameHeaders, optionally without the variables (the
// test's channel ran other apps than the recording's).
func sameHeadersVars(t *testing.T, got customMsg, rec *wsRecording, vars bool) {
	t.Helper()
	for _, w := range rec.customs() {
		if w.subclass != got.subclass {
			continue
		}
		if g, want := headerNames(got.wireMsg), headerNames(w.wireMsg); !slices.Equal(g, want) {
			t.Errorf("%s header names\n got %v\nwant %v (%s)", got.subclass, g, want, rec.name)
		}
		if !slices.Equal(got.head, w.head) {
			t.Errorf("%s framing %v, recorded %v", got.subclass, got.head, w.head)
		}
		if got.hasBody != w.hasBody {
			t.Errorf("%s has body %v, recorded %v", got.subclass, got.hasBody, w.hasBody)
		}
		if !vars {
			return
		}
		// The channel variables at that moment: the recorded caller had no
		// RFC 2833 in its SDP.
		g := without(varOrder(got.evNames), "variable_rtp_2833_send_payload", "variable_rtp_2833_recv_payload")
		compareSets(t, got.subclass+" variables", g, varOrder(w.evNames))
		return
	}
	t.Errorf("%s: no such event in %s", got.subclass, rec.name)
}

func TestForkEventsMatchTheRecordings(t *testing.T) {
	t.Parallel()
	srv := startWS(t, nil)
	c := streamCall(t, &Switch{Scale: 1}, Call{}, false)
	c.api("uuid_audio_fork " + c.uuid + " start " + srv.URL + "/x mono 16k {}")
	sameHeaders(t, c.custom("mod_audio_fork::connect"), loadWSRecording(t, "a-fork-16k"))
	hangupAndResult(c)
}

// Transcript b: nothing listens. +OK Success at once, connect_failed with
// {"reason":"Unable to connect"} about 20 ms later, the call stays up and
// stop still answers +OK Success (the bug stayed attached).
func TestForkConnectFailed(t *testing.T) {
	t.Parallel()
	rec := loadWSRecording(t, "b-fork-connect-failed")
	c := streamCall(t, &Switch{Scale: 1}, Call{}, false)
	url := closedURL(t) + "/nothing-here"
	at := time.Now()
	if r := c.api("uuid_audio_fork " + c.uuid + " start " + url + " mono 16k {}"); r != "+OK Success\n" {
		t.Fatalf("start: %q", r)
	}
	ev := c.custom("mod_audio_fork::connect_failed")
	if d := time.Since(at); d < 15*time.Millisecond || d > time.Second {
		t.Errorf("connect_failed after %v, recorded ~20 ms", d)
	}
	if !ev.hasBody || ev.body != `{"reason":"Unable to connect"}` || ev.ev["Content-Length"] != "30" {
		t.Errorf("body %q (Content-Length %q)", ev.body, ev.ev["Content-Length"])
	}
	if want := rec.customs()[0].body; ev.body != want {
		t.Errorf("body %q, recorded %q", ev.body, want)
	}
	sameHeaders(t, ev, rec)
	if r := c.api("uuid_exists " + c.uuid); r != "true" {
		t.Errorf("uuid_exists %q", r)
	}
	if r := c.api("uuid_audio_fork " + c.uuid + ` stop {"reason":"probe-stop"}`); r != rec.apiBodies()[2] {
		t.Errorf("stop after connect_failed: %q, recorded %q", r, rec.apiBodies()[2])
	}
	res := hangupAndResult(c)
	st := res.Streams[0]
	if st.End != "connect-failed" || st.ConnectError == "" || st.AudioFrames != 0 || len(st.Events) != 1 {
		t.Errorf("stream %+v", st)
	}
}

// closedURL is a ws:// URL where nothing listens.
func closedURL(t *testing.T) string {
	ln := listenLocal(t)
	addr := ln.Addr().String()
	ln.Close()
	return "ws://" + addr
}

// Transcripts c and c2: the server closes (Close 1000 "wsprobe closing",
// echoed with the same body) or drops TCP mid-stream: ::disconnect with no
// body, the call stays up, stop still answers +OK Success and sends nothing.
func TestForkServerEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		drop bool
	}{
		{"c-fork-server-close", false},
		{"c2-fork-server-drop", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := loadWSRecording(t, tc.name)
			srv := startWS(t, func(p *wsPeer) {
				if !p.sleep(300 * time.Millisecond) {
					return
				}
				if tc.drop {
					p.drop()
					return
				}
				_ = p.closeWith(1000, "wsprobe closing")
			})
			c := streamCall(t, &Switch{Scale: 1}, Call{}, false)
			c.api("uuid_audio_fork " + c.uuid + " start " + srv.URL + rec.path() + " mono 16k " + rec.metadata(t, c.uuid))
			c.custom("mod_audio_fork::connect")
			p := srv.peer()
			ev := c.custom("mod_audio_fork::disconnect")
			if ev.hasBody {
				t.Errorf("disconnect body %q", ev.body)
			}
			sameHeaders(t, ev, rec)
			p.ended(t)
			time.Sleep(60 * time.Millisecond) // no audio after the end
			if r := c.api("uuid_exists " + c.uuid); r != "true" {
				t.Errorf("call gone: %q", r)
			}
			if r := c.api("uuid_audio_fork " + c.uuid + ` stop {"reason":"probe-stop"}`); r != "+OK Success\n" {
				t.Errorf("stop: %q", r)
			}
			res := hangupAndResult(c)
			_, frames := clientWire(t, p.raw.bytes())
			checkFrames(t, frames)
			sameFrames(t, frames, rec, c.uuid)
			sameSubclasses(t, c.messages(), rec)
			st := res.Streams[0]
			want := map[bool]string{false: "server-close", true: "dropped"}[tc.drop]
			if st.End != want || len(st.Events) != 2 {
				t.Errorf("stream end %q events %+v", st.End, st.Events)
			}
			if !tc.drop && (st.CloseRecv != 1000 || st.CloseSent != 1000 || st.Sent[len(st.Sent)-1].Data != "wsprobe closing") {
				t.Errorf("close codes %d/%d sent %+v", st.CloseRecv, st.CloseSent, st.Sent)
			}
		})
	}
}

// Transcripts d / d2: bidirectional (all ten arguments) with
// send_silence_when_idle set before answer. The server's L16 frames are
// what the caller hears, in real time; a mark sent after the first frame
// comes back as {"type": "mark", "data": {"name":"m1", "event": "playout"}}
// once that frame has played.
func TestForkBidirectional(t *testing.T) {
	for _, tc := range []struct {
		name string
		rate int
	}{
		{"d-fork-bidi-binary-16k", 16000},
		{"d2-fork-bidi-binary-8k", 8000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := loadWSRecording(t, tc.name)
			n := tc.rate / 50
			const frames = 25
			var sent []byte
			srv := startWS(t, func(p *wsPeer) {
				if !p.sleep(100 * time.Millisecond) {
					return
				}
				for i := range frames {
					f := tone440(tc.rate, i*n, n)
					sent = append(sent, f...)
					_ = p.send(2, f)
					if i == 0 {
						_ = p.sendText(`{"type":"mark","data":{"name":"m1"}}`)
					}
					if !p.sleep(20 * time.Millisecond) {
						return
					}
				}
			})
			c := streamCall(t, &Switch{Scale: 1}, Call{}, true)
			rate := map[int]string{16000: "16k", 8000: "8k"}[tc.rate]
			meta := rec.metadata(t, c.uuid)
			args := c.uuid + " start " + srv.URL + rec.path() + " mono " + rate + " audio_fork " + meta + " true true " + strconv.Itoa(tc.rate)
			if r := c.api("uuid_audio_fork " + args); r != "+OK Success\n" {
				t.Fatalf("start: %q", r)
			}
			c.custom("mod_audio_fork::connect")
			p := srv.peer()
			want := `{"type": "mark", "data": {"name":"m1", "event": "playout"}}`
			if !strings.Contains(rec.text, "payload='"+want+"'") {
				t.Fatalf("the recording has no %s", want)
			}
			p.waitFor(t, "the mark report", func(m []peerMsg, _ bool) bool {
				return slices.Contains(textsOf(m), want)
			})
			time.Sleep(frames*20*time.Millisecond + 200*time.Millisecond)
			c.api("uuid_audio_fork " + c.uuid + ` stop {"reason":"probe-stop"}`)
			p.ended(t)
			res := hangupAndResult(c)
			_, wire := clientWire(t, p.raw.bytes())
			checkFrames(t, wire)
			sameFrames(t, wire, rec, c.uuid)
			st := res.Streams[0]
			if !st.Bidirectional || !st.BidiStream || st.BidiRate != tc.rate || st.Bug != "audio_fork" || st.Metadata != meta {
				t.Errorf("stream %+v", st)
			}
			if st.BinaryFrames != frames || int(st.HeardSamples) != frames*n || !slices.Equal(st.Heard, samples(sent)) {
				t.Fatalf("heard %d samples (%d frames received), want the %d sent", st.HeardSamples, st.BinaryFrames, frames*n)
			}
			// The report came when the first frame was played, at the next
			// 20 ms write of the channel (recorded 15 ms and 11 ms after).
			var report WSFrame
			for _, f := range st.Sent {
				if f.Data == want {
					report = f
				}
			}
			first := st.Received[0].At // the mark arrived right after frame 1
			if d := report.At.Sub(first); d < 0 || d > 60*time.Millisecond || report.Audio == 0 {
				t.Errorf("mark reported %v after it arrived, after %d audio frames; recorded 15 ms", d, report.Audio)
			}
		})
	}
}

// Transcripts d3 and d8: the server's binary frames are not played without
// the bidirectional arguments (d3), nor with them when nothing writes to the
// parked channel (d8: no send_silence_when_idle); no mark report either. A
// playback writes frames, so it lets the fork play meanwhile (the module's
// write-replace bug, lws_glue.cpp).
func TestForkServerAudioNotPlayed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rec      string // start's metadata from it; the frames and events too, unless playback
		bidiArgs bool
		silence  bool
		playback bool
		heard    bool
	}{
		{"d3-fork-binary-without-bidi-args", "d3-fork-binary-without-bidi-args", false, true, false, false},
		{"d8-fork-bidi-without-send_silence", "d8-fork-bidi-without-send_silence", true, false, false, false},
		{"d8 with a playback running", "d8-fork-bidi-without-send_silence", true, false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := loadWSRecording(t, tc.rec)
			srv := startWS(t, func(p *wsPeer) {
				for i := range 10 {
					_ = p.send(2, tone440(16000, i*320, 320))
					if i == 0 {
						_ = p.sendText(`{"type":"mark","data":{"name":"m1"}}`)
					}
				}
			})
			c := streamCall(t, &Switch{Scale: 1}, Call{}, tc.silence)
			var play string
			if tc.playback {
				play = c.execute("playback", "silence_stream://-1")
			}
			args := rec.metadata(t, c.uuid)
			if tc.bidiArgs {
				args = "audio_fork " + args + " true true 16000"
			}
			c.api("uuid_audio_fork " + c.uuid + " start " + srv.URL + rec.path() + " mono 16k " + args)
			p := srv.peer()
			p.waitFor(t, "some audio", func(m []peerMsg, _ bool) bool { return len(m) > 15 })
			time.Sleep(300 * time.Millisecond)
			c.api("uuid_audio_fork " + c.uuid + ` stop {"reason":"probe-stop"}`)
			p.ended(t)
			if tc.playback {
				c.api("uuid_break " + c.uuid)
				c.complete(play)
			}
			res := hangupAndResult(c)
			if !tc.playback {
				_, frames := clientWire(t, p.raw.bytes())
				checkFrames(t, frames)
				sameFrames(t, frames, rec, c.uuid)
				sameSubclasses(t, c.messages(), rec)
			}
			st := res.Streams[0]
			if st.BinaryFrames != 10 {
				t.Errorf("received %d binary frames", st.BinaryFrames)
			}
			reported := slices.ContainsFunc(p.texts(), func(s string) bool { return strings.Contains(s, "playout") })
			if (st.HeardSamples > 0) != tc.heard || reported != tc.heard {
				t.Errorf("heard %d samples, mark reported %v; want heard=%v", st.HeardSamples, reported, tc.heard)
			}
			if tc.heard && st.HeardSamples != 3200 {
				t.Errorf("heard %d samples, want all 3200", st.HeardSamples)
			}
		})
	}
}

// Transcript d4: playAudio writes a temp file and fires play_audio with
// the data minus the audio, plus "file"; the controller plays it, for as
// long as the audio lasts.
func TestForkPlayAudio(t *testing.T) {
	t.Parallel()
	rec := loadWSRecording(t, "d4-fork-playAudio-json")
	audio := tone440(8000, 0, 4000) // 0.5 s
	msg := `{"type":"playAudio","data":{"audioContentType":"raw","sampleRate":8000,"audioContent":"` +
		base64.StdEncoding.EncodeToString(audio) + `","textContent":"440 Hz for 1 s"}}`
	srv := startWS(t, func(p *wsPeer) {
		if p.sleep(100 * time.Millisecond) {
			_ = p.sendText(msg)
		}
	})
	c := streamCall(t, &Switch{Scale: 0.2}, Call{}, false)
	c.api("uuid_audio_fork " + c.uuid + " start " + srv.URL + rec.path() + " mono 8k " + rec.metadata(t, c.uuid))
	ev := c.custom("mod_audio_fork::play_audio")
	sameHeaders(t, ev, rec)
	re := regexp.MustCompile(`^\{"audioContentType":"raw","sampleRate":8000,"textContent":"440 Hz for 1 s","file":"/usr/local/fs/tmp/` +
		c.uuid + `_[0-9]+\.tmp\.r8"\}$`)
	if !re.MatchString(ev.body) {
		t.Fatalf("play_audio body %q", ev.body)
	}
	if recBody := rec.customs()[1].body; !regexp.MustCompile(`^\{"audioContentType":"raw","sampleRate":8000,"textContent":"440 Hz for 1 s","file":"/usr/local/fs/tmp/` +
		uuidRE.String() + `_0\.tmp\.r8"\}$`).MatchString(recBody) {
		t.Fatalf("recorded body %q", recBody)
	}
	file := ev.body[strings.Index(ev.body, `"file":"`)+8 : len(ev.body)-2]
	at := time.Now()
	done := c.run("playback", file)
	if d := time.Since(at); d < 80*time.Millisecond || d > 400*time.Millisecond {
		t.Errorf("playback of 0.5 s at scale 0.2 took %v", d)
	}
	if done.ev["Application-Response"] != "FILE PLAYED" {
		t.Errorf("playback %q", done.ev["Application-Response"])
	}
	if r := c.api("uuid_audio_fork " + c.uuid + " stop"); r != "+OK Success\n" {
		t.Fatalf("stop: %q", r)
	}
	p := srv.peer()
	p.ended(t)
	hangupAndResult(c)
	_, frames := clientWire(t, p.raw.bytes())
	checkFrames(t, frames)
	sameFrames(t, frames, rec, c.uuid)
	sameSubclasses(t, c.messages(), rec)
}

// Two playAudio files joined with file_string:// play for their audio's
// length, not 1 s each.
func TestForkPlayAudioFileString(t *testing.T) {
	t.Parallel()
	msg := `{"type":"playAudio","data":{"audioContentType":"raw","sampleRate":8000,"audioContent":"` +
		base64.StdEncoding.EncodeToString(tone440(8000, 0, 800)) + `"}}` // 0.1 s
	srv := startWS(t, func(p *wsPeer) {
		_ = p.sendText(msg)
		_ = p.sendText(msg)
	})
	c := streamCall(t, &Switch{Scale: 1}, Call{}, false)
	c.api("uuid_audio_fork " + c.uuid + " start " + srv.URL + "/x mono 8k {}")
	var files []string
	for range 2 {
		body := c.custom("mod_audio_fork::play_audio").body
		files = append(files, body[strings.Index(body, `"file":"`)+8:len(body)-2])
	}
	at := time.Now()
	c.run("playback", "file_string://"+strings.Join(files, "!"))
	if d := time.Since(at); d < 150*time.Millisecond || d > time.Second {
		t.Errorf("playback of two 0.1 s files took %v", d)
	}
	c.api("uuid_audio_fork " + c.uuid + " stop")
	srv.peer().ended(t)
	hangupAndResult(c)
}

// Transcript d5: 3 s of audio in one burst is buffered and played in real
// time; killAudio fires kill_audio (no body), cuts what is buffered and
// breaks the running playback (CF_BREAK); send_text is a text frame;
// pause/resume leave a gap in the audio; stop without text is Close only.
func TestForkBurstKillAudioSendTextPause(t *testing.T) {
	t.Parallel()
	rec := loadWSRecording(t, "d5-fork-bidi-burst-killAudio-sendtext-pause")
	var burst []byte
	for i := range 150 {
		burst = append(burst, tone440(16000, i*320, 320)...)
	}
	killed := make(chan time.Time, 1)
	srv := startWS(t, func(p *wsPeer) {
		for i := range 150 {
			_ = p.send(2, burst[i*640:(i+1)*640])
		}
		if p.sleep(600 * time.Millisecond) {
			killed <- time.Now()
			_ = p.sendText(`{"type":"killAudio"}`)
		}
	})
	c := streamCall(t, &Switch{Scale: 1}, Call{}, true)
	play := c.execute("playback", "tone_stream://%(2000,4000,440,480);loops=-1")
	c.api("uuid_audio_fork " + c.uuid + " start " + srv.URL + rec.path() + " mono 16k audio_fork " + rec.metadata(t, c.uuid) + " true true 16000")
	c.custom("mod_audio_fork::connect")
	p := srv.peer()
	p.waitFor(t, "audio", func(m []peerMsg, _ bool) bool { return len(m) > 5 }) // send_text came 0.5 s in
	if r := c.api("uuid_audio_fork " + c.uuid + ` send_text {"type":"dtmf","digit":"5"}`); r != "+OK Success\n" {
		t.Fatalf("send_text: %q", r)
	}
	ev := c.custom("mod_audio_fork::kill_audio")
	if ev.hasBody {
		t.Errorf("kill_audio body %q", ev.body)
	}
	sameHeadersVars(t, ev, rec, false) // a playback runs here
	if got := c.complete(play); got.ev["Application"] != "playback" {
		t.Errorf("playback not broken by killAudio")
	}
	killAt := <-killed
	time.Sleep(100 * time.Millisecond)
	if r := c.api("uuid_audio_fork " + c.uuid + " pause"); r != "+OK Success\n" {
		t.Fatalf("pause: %q", r)
	}
	pausedAt := time.Now()
	time.Sleep(300 * time.Millisecond)
	c.api("uuid_audio_fork " + c.uuid + " resume")
	resumedAt := time.Now()
	time.Sleep(200 * time.Millisecond)
	c.api("uuid_audio_fork " + c.uuid + " stop")
	p.ended(t)
	res := hangupAndResult(c)
	st := res.Streams[0]
	// About 0.6 s played before the kill (not the 3 s buffered).
	played := time.Duration(st.HeardSamples) * time.Second / 16000
	if played < 400*time.Millisecond || played > 800*time.Millisecond || !slices.Equal(st.Heard, samples(burst)[:st.HeardSamples]) {
		t.Errorf("heard %v of the burst before killAudio at +%v", played, killAt.Sub(st.ConnectedAt))
	}
	if !slices.Contains(p.texts(), `{"type":"dtmf","digit":"5"}`) {
		t.Errorf("send_text not received: %q", p.texts())
	}
	msgs := p.messages()
	var inPause, after int
	for _, m := range msgs {
		if m.typ != 2 {
			continue
		}
		switch {
		case m.at.After(pausedAt.Add(30*time.Millisecond)) && m.at.Before(resumedAt):
			inPause++
		case m.at.After(resumedAt.Add(30 * time.Millisecond)):
			after++
		}
	}
	if inPause != 0 || after < 5 {
		t.Errorf("%d audio frames while paused, %d after resume", inPause, after)
	}
	_, frames := clientWire(t, p.raw.bytes())
	checkFrames(t, frames)
	sameFrames(t, frames, rec, c.uuid)
	sameSubclasses(t, c.messages(), rec)
}

// Transcripts d6 and d7: graceful-shutdown sends one empty binary frame and
// no more audio. A server that closes then ("flushed") gets its Close
// echoed and ::disconnect fires; one that never closes keeps the socket:
// stop sends another empty frame, the hang-up nothing, and the TCP
// connection outlives the call (until Run ends here).
func TestForkGracefulShutdown(t *testing.T) {
	t.Run("d6-fork-graceful-shutdown", func(t *testing.T) {
		t.Parallel()
		rec := loadWSRecording(t, "d6-fork-graceful-shutdown")
		srv := startWS(t, func(p *wsPeer) {
			for p.sleep(5 * time.Millisecond) {
				for _, m := range p.messages() {
					if m.typ == 2 && len(m.data) == 0 {
						if p.sleep(100 * time.Millisecond) {
							_ = p.closeWith(1000, "flushed")
						}
						return
					}
				}
			}
		})
		c := streamCall(t, &Switch{Scale: 1}, Call{}, false)
		c.api("uuid_audio_fork " + c.uuid + " start " + srv.URL + rec.path() + " mono 16k " + rec.metadata(t, c.uuid))
		c.custom("mod_audio_fork::connect")
		p := srv.peer()
		p.waitFor(t, "audio", func(m []peerMsg, _ bool) bool { return len(m) > 10 })
		if r := c.api("uuid_audio_fork " + c.uuid + " graceful-shutdown"); r != rec.apiBodies()[1] {
			t.Fatalf("graceful-shutdown: %q", r)
		}
		ev := c.custom("mod_audio_fork::disconnect")
		sameHeaders(t, ev, rec)
		p.ended(t)
		if r := c.api("uuid_audio_fork " + c.uuid + " stop"); r != rec.apiBodies()[2] {
			t.Fatalf("stop: %q", r)
		}
		hangupAndResult(c)
		_, frames := clientWire(t, p.raw.bytes())
		checkFrames(t, frames)
		sameFrames(t, frames, rec, c.uuid)
		sameSubclasses(t, c.messages(), rec)
	})
	t.Run("d7-fork-graceful-shutdown-server-never-closes", func(t *testing.T) {
		t.Parallel()
		rec := loadWSRecording(t, "d7-fork-graceful-shutdown-server-never-closes")
		srv := startWS(t, nil)
		c := streamCall(t, &Switch{Scale: 1}, Call{}, false)
		c.api("uuid_audio_fork " + c.uuid + " start " + srv.URL + rec.path() + " mono 16k " + rec.metadata(t, c.uuid))
		c.custom("mod_audio_fork::connect")
		p := srv.peer()
		p.waitFor(t, "audio", func(m []peerMsg, _ bool) bool { return len(m) > 10 })
		if r := c.api("uuid_audio_fork " + c.uuid + " graceful-shutdown"); r != rec.apiBodies()[1] {
			t.Fatalf("graceful-shutdown: %q", r)
		}
		time.Sleep(100 * time.Millisecond)
		if r := c.api("uuid_audio_fork " + c.uuid + " stop"); r != rec.apiBodies()[2] {
			t.Fatalf("stop: %q", r)
		}
		if r := c.api("uuid_audio_fork " + c.uuid + " stop"); r != "-ERR Operation Failed\n" {
			t.Fatalf("second stop: %q", r)
		}
		c.run("hangup", "NORMAL_CLEARING")
		time.Sleep(100 * time.Millisecond)
		select {
		case <-p.done:
			t.Fatal("the socket was closed with the call")
		default:
		}
		res := c.exit()
		code, _ := p.ended(t)
		if code != -1 && code != 1006 {
			t.Errorf("socket ended with code %d, want a cut TCP connection", code)
		}
		_, frames := clientWire(t, p.raw.bytes())
		checkFrames(t, frames)
		sameFrames(t, frames, rec, c.uuid) // two empty binary frames, no Close
		sameSubclasses(t, c.messages(), rec)
		if st := res.Streams[0]; st.End != "left-open" || st.CloseSent != 0 {
			t.Errorf("stream end %q close %d", st.End, st.CloseSent)
		}
	})
}

// Transcripts e, x2 (drachtio's module) and as-e: which server messages
// become which CUSTOM events, with which bodies, in order. mod_audio_fork:
// mark, clearMarks, unknown types and non-JSON text fire nothing, and a
// "disconnect" message does not close the socket; mod_audio_stream: every
// text is ::json verbatim.
func TestServerJSONMessages(t *testing.T) {
	for _, tc := range []struct{ api, rec string }{
		{"uuid_audio_fork", "e-fork-json-messages"},
		{"uuid_audio_fork", "x2-drachtio-fork-json-messages"},
		{"uuid_audio_stream", "as-e-stream-json-messages"},
	} {
		t.Run(tc.rec, func(t *testing.T) {
			t.Parallel()
			rec := loadWSRecording(t, tc.rec)
			sent := rec.serverTexts()
			if want := []string{`{"type":"json","data":{"hello":"world","n":1}}`,
				`{"type":"transcription","data":{"text":"hello world","confidence":0.9}}`,
				`{"type":"transfer","data":{"to":"1000"}}`, `{"type":"error","data":{"code":42,"message":"test error"}}`,
				`{"type":"killAudio"}`, `{"type":"mark","data":{"name":"m1"}}`, `{"type":"clearMarks"}`,
				`{"type":"somethingUnknown","data":{"x":1}}`, `{"event":"no type field","x":1}`, `this is not json`,
				`{"type":"disconnect","data":{"reason":"bye"}}`}; !slices.Equal(sent, want) {
				t.Fatalf("the recording sent %q", sent)
			}
			srv := startWS(t, func(p *wsPeer) {
				for _, s := range sent {
					if !p.sleep(20 * time.Millisecond) {
						return
					}
					_ = p.sendText(s)
				}
			})
			c := streamCall(t, &Switch{Scale: 1}, Call{}, false)
			c.api(tc.api + " " + c.uuid + " start " + srv.URL + rec.path() + " mono 16k " + rec.metadata(t, c.uuid))
			p := srv.peer()
			c.log.waitFor(t, "the recorded events", func(msgs []wireMsg, _ bool) bool {
				return len(customs(msgs)) >= len(rec.customs())
			})
			time.Sleep(100 * time.Millisecond) // and no more
			apis := rec.apiBodies()
			if r := c.api(tc.api + " " + c.uuid + ` stop {"reason":"probe-stop"}`); r != apis[len(apis)-1] {
				t.Fatalf("stop after a disconnect message: %q", r)
			}
			if code, _ := p.ended(t); code != 1000 {
				t.Errorf("close %d", code)
			}
			res := hangupAndResult(c)
			var got, want []string
			for _, e := range customs(c.messages()) {
				got = append(got, e.subclass+" "+e.body)
				for _, w := range rec.customs() {
					if w.subclass == e.subclass {
						sameHeaders(t, e, rec)
						break
					}
				}
			}
			for _, e := range rec.customs() {
				want = append(want, e.subclass+" "+e.body)
			}
			if !slices.Equal(got, want) {
				t.Errorf("events\n got %q\nwant %q", got, want)
			}
			_, frames := clientWire(t, p.raw.bytes())
			checkFrames(t, frames)
			sameFrames(t, frames, rec, c.uuid)
			st := res.Streams[0]
			var texts []string
			for _, f := range st.Received {
				if f.Opcode == opText {
					texts = append(texts, f.Data)
				}
			}
			if !slices.Equal(texts, sent) || st.End != "stop" {
				t.Errorf("received %q, end %q", texts, st.End)
			}
		})
	}
}

// Transcript f: the caller hangs up while streaming: Close 1000 with no
// reason, and no CUSTOM event.
func TestForkHangupWhileStreaming(t *testing.T) {
	t.Parallel()
	rec := loadWSRecording(t, "f-fork-hangup-while-streaming")
	srv := startWS(t, nil)
	c := streamCall(t, &Switch{Scale: 1}, Call{HangupAfter: 500 * time.Millisecond}, false)
	c.api("uuid_audio_fork " + c.uuid + " start " + srv.URL + rec.path() + " mono 16k " + rec.metadata(t, c.uuid))
	c.named("CHANNEL_HANGUP_COMPLETE")
	p := srv.peer()
	if code, reason := p.ended(t); code != 1000 || reason != "" {
		t.Errorf("close %d %q, recorded 1000 ''", code, reason)
	}
	res := c.exit()
	sameSubclasses(t, c.messages(), rec) // connect only
	if st := res.Streams[0]; st.End != "hangup" || st.CloseSent != 1000 || st.CloseRecv != 1000 {
		t.Errorf("stream end %q close %d/%d", st.End, st.CloseSent, st.CloseRecv)
	}
	_, frames := clientWire(t, p.raw.bytes())
	checkFrames(t, frames)
	sameFrames(t, frames, rec, c.uuid)
}

// Transcripts as-a / as-a2: mod_audio_stream's upgrade (no spaces after
// the colons, Host and Origin with the port, no subprotocol), the connect
// event's {"status":"connected"}, 20 ms frames (the first two together)
// and stop's text then Close 1000 "Normal closure". as-d2: the same with
// the server's binary frames coming back, which the module ignores, with
// send_silence_when_idle set too.
func TestStreamModuleStreams(t *testing.T) {
	for _, tc := range []struct {
		name        string
		rate        string
		size        int
		serverAudio int // binary frames the server sends back
	}{
		{"as-a-stream-16k", "16k", 640, 0},
		{"as-a2-stream-8k", "8k", 320, 0},
		{"as-d2-stream-binary-back", "8k", 320, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := loadWSRecording(t, tc.name)
			srv := startWS(t, func(p *wsPeer) {
				for i := range tc.serverAudio {
					_ = p.send(2, tone440(8000, i*160, 160))
				}
			})
			c := streamCall(t, &Switch{Scale: 1}, Call{}, tc.serverAudio > 0)
			meta := rec.metadata(t, c.uuid)
			path := rec.path()
			if r := c.api("uuid_audio_stream " + c.uuid + " start " + srv.URL + path + " mono " + tc.rate + " " + meta); r != "+OK Success\n" {
				t.Fatalf("start: %q", r)
			}
			ev := c.custom("mod_audio_stream::connect")
			if ev.body != `{"status":"connected"}` || ev.ev["Event-Calling-File"] != "mod_audio_stream.c" || ev.ev["Event-Calling-Line-Number"] != "16" {
				t.Errorf("connect %q %v", ev.body, ev.ev)
			}
			sameHeaders(t, ev, rec)
			if ev.body != rec.customs()[0].body {
				t.Errorf("body %q, recorded %q", ev.body, rec.customs()[0].body)
			}
			p := srv.peer()
			p.waitFor(t, "audio", func(m []peerMsg, _ bool) bool { return len(m) > 20 })
			c.api("uuid_audio_stream " + c.uuid + ` stop {"reason":"probe-stop"}`)
			if code, reason := p.ended(t); code != 1000 || reason != "Normal closure" {
				t.Errorf("close %d %q", code, reason)
			}
			res := hangupAndResult(c)
			req, frames := clientWire(t, p.raw.bytes())
			host := strings.TrimPrefix(srv.URL, "ws://")
			key := p.req.Header.Get("Sec-Websocket-Key")
			want := "GET " + path + " HTTP/1.1\r\nHost:" + host + "\r\nUpgrade:websocket\r\nConnection:upgrade\r\n" +
				"Sec-WebSocket-Key:" + key + "\r\nSec-WebSocket-Version:13\r\nOrigin:http://" + host + "\r\n\r\n"
			if req != want {
				t.Errorf("upgrade\n got %q\nwant %q", req, want)
			}
			if recReq := rec.requestFor(key, host); req != recReq {
				t.Errorf("upgrade differs from the recording\n got %q\nrecorded %q", req, recReq)
			}
			checkFrames(t, frames)
			sameFrames(t, frames, rec, c.uuid)
			sameSubclasses(t, c.messages(), rec)
			for _, f := range frames[1 : len(frames)-2] {
				if len(f.payload) != tc.size {
					t.Fatalf("audio frame of %d bytes, want %d", len(f.payload), tc.size)
				}
			}
			bins := p.binaries()
			msgs := p.messages()
			if len(bins) < 3 || msgs[2].at.Sub(msgs[1].at) > 5*time.Millisecond {
				t.Errorf("the first two frames came %v apart; recorded together", msgs[2].at.Sub(msgs[1].at))
			}
			st := res.Streams[0]
			if st.Subprotocol != "" || st.Accepted != "" || st.Bug != "audio_stream" || st.Module != "mod_audio_stream" {
				t.Errorf("stream %+v", st)
			}
			if st.BinaryFrames != tc.serverAudio || st.HeardSamples != 0 {
				t.Errorf("%d binary frames received (%d sent), %d samples heard", st.BinaryFrames, tc.serverAudio, st.HeardSamples)
			}
		})
	}
}

// Transcript as-b: connect failure is ::error with code 6, and the bug is
// gone: stop answers -ERR Operation Failed.
func TestStreamModuleConnectFailed(t *testing.T) {
	t.Parallel()
	rec := loadWSRecording(t, "as-b-stream-connect-failed")
	c := streamCall(t, &Switch{Scale: 1}, Call{}, false)
	c.api("uuid_audio_stream " + c.uuid + " start " + closedURL(t) + "/nothing-here mono 16k {}")
	ev := c.custom("mod_audio_stream::error")
	if want := rec.customs()[0].body; ev.body != want {
		t.Errorf("error body %q, recorded %q", ev.body, want)
	}
	sameHeaders(t, ev, rec)
	if r := c.api("uuid_audio_stream " + c.uuid + ` stop {"reason":"probe-stop"}`); r != "-ERR Operation Failed\n" || !slices.Contains(rec.apiBodies(), r) {
		t.Errorf("stop: %q, recorded %q", r, rec.apiBodies())
	}
	hangupAndResult(c)
}

// Transcripts as-c, as-d, as-d2, as-e together: the server's Close gives
// ::disconnect with its code and reason (the bug stays: stop +OK);
// streamAudio gives ::play with the file; any other text is ::json
// verbatim; binary frames are not played even with send_silence_when_idle.
func TestStreamModuleServerMessages(t *testing.T) {
	t.Parallel()
	audio := tone440(8000, 0, 800)
	stream := `{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":8000,"audioData":"` +
		base64.StdEncoding.EncodeToString(audio) + `"}}`
	recE := loadWSRecording(t, "as-e-stream-json-messages")
	texts := recE.serverTexts()
	srv := startWS(t, func(p *wsPeer) {
		for i := range 10 {
			_ = p.send(2, tone440(8000, i*160, 160))
		}
		_ = p.sendText(stream)
		for _, s := range texts {
			_ = p.sendText(s)
		}
		if p.sleep(200 * time.Millisecond) {
			_ = p.closeWith(1000, "wsprobe closing")
		}
	})
	c := streamCall(t, &Switch{Scale: 1}, Call{}, true)
	c.api("uuid_audio_stream " + c.uuid + " start " + srv.URL + "/d-stream mono 8k {}")
	play := c.custom("mod_audio_stream::play")
	re := regexp.MustCompile(`^\{"audioDataType":"raw","sampleRate":8000,"file":"/usr/local/fs/tmp/` + c.uuid + `_\d+\.tmp\.r8"\}$`)
	if !re.MatchString(play.body) {
		t.Errorf("play body %q", play.body)
	}
	sameHeaders(t, play, loadWSRecording(t, "as-d-stream-streamAudio-json"))
	var jsons int
	for _, w := range recE.customs() {
		if w.subclass != "mod_audio_stream::json" {
			continue
		}
		jsons++
		if ev := c.custom(w.subclass); ev.body != w.body {
			t.Errorf("json body %q, recorded %q", ev.body, w.body)
		}
	}
	if jsons != len(texts) {
		t.Errorf("%d json events recorded for %d texts", jsons, len(texts))
	}
	disc := c.custom("mod_audio_stream::disconnect")
	recC := loadWSRecording(t, "as-c-stream-server-close")
	if want := recC.customs()[1].body; disc.body != want {
		t.Errorf("disconnect body %q, recorded %q", disc.body, want)
	}
	sameHeadersVars(t, disc, recC, false) // send_silence_when_idle is set here
	if r := c.api("uuid_audio_stream " + c.uuid + " stop"); r != "+OK Success\n" {
		t.Errorf("stop after the server closed: %q", r)
	}
	res := hangupAndResult(c)
	st := res.Streams[0]
	if st.BinaryFrames != 10 || st.HeardSamples != 0 || st.End != "server-close" || st.CloseRecv != 1000 {
		t.Errorf("stream: %d binary frames, heard %d, end %q", st.BinaryFrames, st.HeardSamples, st.End)
	}
}

// Transcripts as-f and as-g: send_text, a pause leaves a gap, stop
// without text is Close 1000 "Normal closure" only; a hang-up closes the
// same way with no CUSTOM event.
func TestStreamModuleSendTextPauseHangup(t *testing.T) {
	t.Parallel()
	recF := loadWSRecording(t, "as-f-stream-sendtext-pause")
	recG := loadWSRecording(t, "as-g-stream-hangup-while-streaming")
	srv := startWS(t, nil)
	c := streamCall(t, &Switch{Scale: 1}, Call{}, false)
	c.api("uuid_audio_stream " + c.uuid + " start " + srv.URL + recF.path() + " mono 8k " + recF.metadata(t, c.uuid))
	c.custom("mod_audio_stream::connect")
	p := srv.peer()
	p.waitFor(t, "audio", func(m []peerMsg, _ bool) bool { return len(m) > 5 })
	if r := c.api("uuid_audio_stream " + c.uuid + ` send_text {"type":"dtmf","digit":"5"}`); r != "+OK Success\n" {
		t.Fatalf("send_text %q", r)
	}
	p.waitFor(t, "the text", func(m []peerMsg, _ bool) bool { return slices.Contains(textsOf(m), `{"type":"dtmf","digit":"5"}`) })
	c.api("uuid_audio_stream " + c.uuid + " pause")
	n := len(p.binaries())
	time.Sleep(200 * time.Millisecond)
	if m := len(p.binaries()); m > n+2 {
		t.Errorf("%d frames while paused", m-n)
	}
	c.api("uuid_audio_stream " + c.uuid + " resume")
	time.Sleep(100 * time.Millisecond)
	if r := c.api("uuid_audio_stream " + c.uuid + " graceful-shutdown"); r != "-ERR Operation Failed\n" {
		t.Errorf("graceful-shutdown (refused by mod_audio_stream): %q", r)
	}
	c.api("uuid_audio_stream " + c.uuid + " stop")
	if code, reason := p.ended(t); code != 1000 || reason != "Normal closure" {
		t.Errorf("close %d %q", code, reason)
	}
	_, frames := clientWire(t, p.raw.bytes())
	checkFrames(t, frames)
	sameFrames(t, frames, recF, c.uuid)

	// as-g: a second stream, then the hang-up.
	c.api("uuid_audio_stream " + c.uuid + " start " + srv.URL + recG.path() + " mono 16k " + recG.metadata(t, c.uuid))
	c.custom("mod_audio_stream::connect")
	p2 := srv.peer()
	p2.waitFor(t, "audio", func(m []peerMsg, _ bool) bool { return len(m) > 5 })
	c.run("hangup", "NORMAL_CLEARING")
	if code, reason := p2.ended(t); code != 1000 || reason != "Normal closure" {
		t.Errorf("hang-up close %d %q, recorded 1000 'Normal closure'", code, reason)
	}
	res := c.exit()
	sameSubclasses(t, c.messages(), recF, recG) // the two connects only
	if len(res.Streams) != 2 || res.Streams[1].End != "hangup" {
		t.Errorf("streams %+v", res.Streams)
	}
	_, frames = clientWire(t, p2.raw.bytes())
	checkFrames(t, frames)
	sameFrames(t, frames, recG, c.uuid)
}

// The module's answers to bad usage. Recorded: +OK Success, and -ERR
// Operation Failed for stop without a stream (as-b); the rest follows the
// module sources (fork_function, start_capture): -USAGE for missing
// arguments, -ERR Operation Failed for an unknown uuid, a second start of
// the same bug, a bad mix, rate or URL, and commands without a stream.
func TestAudioAPIAnswers(t *testing.T) {
	t.Parallel()
	srv := startWS(t, nil)
	c := streamCall(t, &Switch{Scale: 1}, Call{}, false)
	u := c.uuid
	usage := "-USAGE: " + forkMod.syntax + "\n"
	for _, tt := range []struct{ cmd, want string }{
		{"uuid_audio_fork", usage},
		{"uuid_audio_fork " + u, usage},
		{"uuid_audio_fork " + u + " start " + srv.URL, usage},
		{"uuid_audio_fork " + u + " start " + srv.URL + " mono", usage},
		{"uuid_audio_stream " + u + " start " + srv.URL + " mono", "-USAGE: " + streamMod.syntax + "\n"},
		{"uuid_audio_fork 00000000-0000-4000-8000-000000000000 start " + srv.URL + " mono 16k", "-ERR Operation Failed\n"},
		{"uuid_audio_fork " + u + " stop", "-ERR Operation Failed\n"},
		{"uuid_audio_fork " + u + " send_text {}", "-ERR Operation Failed\n"},
		{"uuid_audio_fork " + u + " pause", "-ERR Operation Failed\n"},
		{"uuid_audio_fork " + u + " graceful-shutdown", "-ERR Operation Failed\n"},
		{"uuid_audio_fork " + u + " dance", "-ERR Operation Failed\n"},
		{"uuid_audio_fork " + u + " start " + srv.URL + " quad 16k", "-ERR Operation Failed\n"},
		{"uuid_audio_fork " + u + " start " + srv.URL + " mono 11k", "-ERR Operation Failed\n"},
		{"uuid_audio_fork " + u + " start ftp://x/y mono 16k", "-ERR Operation Failed\n"},
		{"uuid_audio_stream " + u + " stop", "-ERR Operation Failed\n"},
		{"uuid_audio_fork " + u + " start " + srv.URL + "/one mono 16k {}", "+OK Success\n"},
		{"uuid_audio_fork " + u + " start " + srv.URL + "/two mono 16k {}", "-ERR Operation Failed\n"},   // same bug
		{"uuid_audio_fork " + u + " start " + srv.URL + "/three mono 8k other {}", "+OK Success\n"},      // another bug
		{"uuid_audio_stream " + u + " start " + srv.URL + "/four mono 8k {}", "+OK Success\n"},           // another module
		{"uuid_audio_stream " + u + " start " + srv.URL + "/five mono 8k {}", "-ERR Operation Failed\n"}, // one per channel
		{"uuid_audio_fork " + u + " stop other", "+OK Success\n"},
		{"uuid_audio_fork " + u + " stop other", "-ERR Operation Failed\n"},
	} {
		if got := c.api(tt.cmd); got != tt.want {
			t.Errorf("%s\n got %q\nwant %q", tt.cmd, got, tt.want)
		}
	}
	res := hangupAndResult(c)
	var ends []string
	for _, st := range res.Streams {
		ends = append(ends, st.Bug+":"+st.End)
	}
	if want := []string{"audio_fork:hangup", "other:stop", "audio_stream:hangup"}; !slices.Equal(ends, want) {
		t.Errorf("streams %v, want %v", ends, want)
	}
}

// start pre-answers a ringing channel (start_capture), and the CUSTOM
// events reach only a socket subscribed to them.
func TestAudioStartPreAnswersAndEventsNeedSubscription(t *testing.T) {
	t.Parallel()
	srv := startWS(t, nil)
	c := dialCall(t, &Switch{Scale: 1}, Call{})
	c.setup("linger 5")
	c.api("uuid_audio_fork " + c.uuid + " start " + srv.URL + "/x mono 8k {}")
	c.named("CHANNEL_PROGRESS_MEDIA")
	srv.peer().waitFor(t, "audio", func(m []peerMsg, _ bool) bool { return len(m) > 3 })
	c.cmd("event plain CUSTOM mod_audio_fork::disconnect")
	c.api("uuid_audio_fork " + c.uuid + " stop")
	res := hangupAndResult(c)
	if n := len(customs(c.messages())); n != 0 {
		t.Errorf("%d CUSTOM events without a subscription to them", n)
	}
	if ev := res.Streams[0].Events; len(ev) != 1 || ev[0].Delivered || ev[0].Subclass != "mod_audio_fork::connect" {
		t.Errorf("events %+v", ev)
	}
}

// Call.Audio is what the caller says: frame k carries samples from k*n on,
// frames skipped during a pause included.
func TestCallAudioSource(t *testing.T) {
	t.Parallel()
	srv := startWS(t, nil)
	ramp := func(rate, offset int, dst []int16) {
		for i := range dst {
			dst[i] = int16(offset + i)
		}
	}
	c := streamCall(t, &Switch{Scale: 1}, Call{Audio: ramp}, false)
	c.api("uuid_audio_fork " + c.uuid + " start " + srv.URL + "/x stereo 8k")
	p := srv.peer()
	p.waitFor(t, "audio", func(m []peerMsg, _ bool) bool { return len(m) > 5 })
	if m := p.messages(); m[0].typ != 2 {
		t.Errorf("a text frame first although start had no metadata: %q", m[0].data)
	}
	c.api("uuid_audio_fork " + c.uuid + " pause")
	time.Sleep(100 * time.Millisecond)
	c.api("uuid_audio_fork " + c.uuid + " resume")
	p.waitFor(t, "more audio", func(m []peerMsg, _ bool) bool { return len(m) > 12 })
	c.api("uuid_audio_fork " + c.uuid + " stop")
	p.ended(t)
	hangupAndResult(c)
	prev := -1
	skipped := false
	for _, b := range p.binaries() {
		s := samples(b)
		if len(s) != 320 {
			t.Fatalf("stereo 8k frame of %d samples", len(s))
		}
		first := int(s[0])
		for i := 0; i < 160; i++ {
			if int(s[2*i]) != first+i || s[2*i+1] != 0 {
				t.Fatalf("frame %v: not the ramp in channel 0 and silence in 1", s[:8])
			}
		}
		if first%160 != 0 || first <= prev {
			t.Fatalf("frame starts at sample %d after %d", first, prev)
		}
		if prev >= 0 && first != prev+160 {
			skipped = true
		}
		prev = first
	}
	if !skipped {
		t.Error("no samples skipped across the pause")
	}
	got := make([]int16, 16)
	RecordedTone(16000, 0, got)
	if hex.EncodeToString(l16(got[:8])) != "0000ed0bfb15a81cfa1ea81cfb15ed0b" {
		t.Errorf("RecordedTone 16k %v", got)
	}
	RecordedTone(8000, 3, got[:4])
	if hex.EncodeToString(l16(got[:4])) != "fc15000004ea04e1" {
		t.Errorf("RecordedTone 8k at offset 3: %v", got[:4])
	}
}

// The upgrade is checked as libwebsockets does: an answer other than 101,
// a wrong accept hash or another subprotocol fail the connection; a
// missing subprotocol is accepted.
func TestForkHandshakeChecks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		answer   func(key string) string
		ok       bool
		status   int
		accepted string // Stream.Accepted: the answer's subprotocol
	}{
		{"no subprotocol", func(k string) string { return switching(k) }, true, 101, ""},
		{"another subprotocol", func(k string) string { return switching(k, "Sec-WebSocket-Protocol: other") }, false, 101, "other"},
		{"bad accept", func(k string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n"
		}, false, 101, ""},
		{"401", func(string) string { return "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n" }, false, 401, ""},
	} {
		ln := listenLocal(t)
		served := make(chan struct{})
		go func() {
			defer close(served)
			if conn := acceptUpgrade(ln, tc.answer); conn != nil {
				_, _ = io.Copy(io.Discard, conn) // until the client leaves
				conn.Close()
			}
		}()
		c := streamCall(t, &Switch{Scale: 1}, Call{}, false)
		c.api("uuid_audio_fork " + c.uuid + " start ws://" + ln.Addr().String() + "/x mono 16k {}")
		want := "mod_audio_fork::connect_failed"
		if tc.ok {
			want = "mod_audio_fork::connect"
		}
		c.custom(want)
		c.api("uuid_audio_fork " + c.uuid + " stop")
		res := hangupAndResult(c)
		ln.Close()
		<-served
		if st := res.Streams[0]; (st.ConnectError == "") != tc.ok || st.Accepted != tc.accepted || st.Status != tc.status {
			t.Errorf("%s: stream %+v", tc.name, st)
		}
	}
}

// After the server closed, the bug stays attached and what it buffered
// still plays (dub_speech_frame keeps running on the write path); stop
// ends it.
func TestForkPlaysBufferedAudioAfterTheServerLeft(t *testing.T) {
	t.Parallel()
	var burst []byte
	for i := range 50 {
		burst = append(burst, tone440(8000, i*160, 160)...)
	}
	srv := startWS(t, func(p *wsPeer) {
		for i := range 50 {
			_ = p.send(2, burst[i*320:(i+1)*320])
		}
		_ = p.closeWith(1000, "done")
	})
	c := streamCall(t, &Switch{Scale: 0.5}, Call{}, true)
	c.api("uuid_audio_fork " + c.uuid + ` start ` + srv.URL + `/x mono 8k audio_fork {} true true 8000`)
	c.custom("mod_audio_fork::disconnect")
	time.Sleep(700 * time.Millisecond) // 1 s of audio at scale 0.5
	c.api("uuid_audio_fork " + c.uuid + " stop")
	res := hangupAndResult(c)
	st := res.Streams[0]
	if !slices.Equal(st.Heard, samples(burst)) || st.End != "server-close" {
		t.Errorf("heard %d of %d samples after the server left; end %q", st.HeardSamples, len(burst)/2, st.End)
	}
}

// A server that stops reading does not hold Run past its end.
func TestStalledServerDoesNotHoldRun(t *testing.T) {
	t.Parallel()
	ln := listenLocal(t)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if conn := acceptUpgrade(ln, func(k string) string { return switching(k) }); conn != nil {
			accepted <- conn // and never read again
		}
	}()
	c := streamCall(t, &Switch{Scale: 0.05}, Call{}, false)
	c.api("uuid_audio_fork " + c.uuid + " start ws://" + ln.Addr().String() + "/x mono 16k")
	conn := <-accepted
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	time.Sleep(500 * time.Millisecond) // 10 s of audio: the socket backs up
	start := time.Now()
	res := c.exit()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run took %v to end", d)
	}
	if st := res.Streams[0]; st.AudioFrames == 0 {
		t.Errorf("stream %+v", st)
	}
}

// A stop queued behind a send_text before the writer starts connecting
// abandons the attempt: nothing is dialled.
func TestStopQueuedBehindTextAbandonsTheConnect(t *testing.T) {
	t.Parallel()
	ln := listenLocal(t)
	defer ln.Close()
	cfg := streamCfg{mod: forkMod, bug: forkMod.bug, mix: "mono", rate: 8000, bidiRate: 8000}
	if !cfg.parseURL("ws://" + ln.Addr().String() + "/x") {
		t.Fatal("parseURL")
	}
	st := newWSStream(&Switch{WSConnectTimeout: 200 * time.Millisecond}, &channel{}, cfg, &Call{})
	st.push(ctlMsg{kind: ctlText, text: "{}"})
	st.push(ctlMsg{kind: ctlStop})
	if _, err := st.connect(context.Background()); !errors.Is(err, context.Canceled) {
		t.Errorf("connect: %v, want it abandoned", err)
	}
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(50 * time.Millisecond))
	if conn, err := ln.Accept(); err == nil {
		conn.Close()
		t.Error("dialled although a stop was queued")
	}
}

// acceptUpgrade is a hand-written WebSocket server: it accepts one
// connection, reads the upgrade request and writes answer(its key). It
// returns the connection, nil if ln was closed.
func acceptUpgrade(ln net.Listener, answer func(key string) string) net.Conn {
	conn, err := ln.Accept()
	if err != nil {
		return nil
	}
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf)
	_, _ = conn.Write([]byte(answer(httpHeader(string(buf[:n]), "Sec-WebSocket-Key"))))
	return conn
}

// switching is a 101 answer with the accept hash of key (checked against
// the recordings in TestWSAcceptMatchesTheRecordings) and extra header lines.
func switching(key string, extra ...string) string {
	var b strings.Builder
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + WSAccept(key) + "\r\n")
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}
