package fssim

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The audio-streaming modules: jambonz mod_audio_fork (uuid_audio_fork,
// with bidirectional audio) and amigniter mod_audio_stream
// (uuid_audio_stream), as the WebSocket transcripts recorded them
// (testdata/ws). Their api answers, their WebSocket client (upgrade,
// frames, pacing) and their CUSTOM events follow the transcripts; where
// the transcripts show nothing the module sources (jambonz lws_glue.cpp,
// mod_audio_fork.c) decide, and the rest is marked as a guess.

// Stream is one uuid_audio_fork / uuid_audio_stream WebSocket as the
// simulated module drove it: what it offered, sent, received, played to
// the caller and reported on the ESL socket.
type Stream struct {
	Module   string // "mod_audio_fork" or "mod_audio_stream"
	Bug      string // media bug name ("audio_fork" unless given; "audio_stream")
	Args     string // the start command's arguments after the uuid
	URL      string
	Mix      string // mono, mixed or stereo
	Rate     int    // sample rate of the audio sent to the server
	Metadata string // the metadata argument, sent as the first text frame ("" none)
	// Bidirectional audio (mod_audio_fork's last three arguments): the
	// server's binary frames are played to the caller at BidiRate.
	Bidirectional, BidiStream bool
	BidiRate                  int
	Started                   time.Time

	// The upgrade.
	Request      []byte // as written, byte for byte
	Subprotocol  string // offered ("" for mod_audio_stream)
	Accepted     string // Sec-WebSocket-Protocol of the 101 ("" none)
	Status       int    // HTTP status of the answer (0: none)
	ConnectedAt  time.Time
	ConnectError string // why connecting failed, as the module reports it

	// FreeSWITCH to the server. Audio frames are counted; every other
	// frame (text, empty binary, close) is listed in order.
	Sent         []WSFrame
	AudioFrames  int
	AudioBytes   int64
	FirstAudioAt time.Time
	LastAudioAt  time.Time
	CloseSent    int // code of the Close frame sent (0: none)

	// The server to FreeSWITCH: text and close frames in order, binary
	// frames counted.
	Received     []WSFrame
	BinaryFrames int
	BinaryBytes  int64
	CloseRecv    int // code of the server's Close frame (0: none)

	// Heard is the server's audio the caller heard (bidirectional
	// mod_audio_fork), L16 at BidiRate in playout order, up to
	// Switch.MaxHeard; HeardSamples counts all of it.
	Heard        []int16
	HeardSamples int64

	// Events are the CUSTOM events the module fired for this stream.
	Events []CustomEvent

	// End: "stop", "hangup", "server-close", "dropped", "connect-failed",
	// "left-open" (graceful-shutdown: the module never closes; the TCP
	// connection is cut when Run ends) or "run-end" (still streaming when
	// Run returned: Close 1000 then).
	End string
}

// WSFrame is one WebSocket frame.
type WSFrame struct {
	At     time.Time
	Opcode int    // 1 text, 2 binary, 8 close
	Data   string // text payload; the reason of a Close
	Code   int    // Close code
	Len    int    // payload length
	Audio  int    // audio (non-empty binary) frames before it, same direction
}

// CustomEvent is one CUSTOM event a module fired.
type CustomEvent struct {
	At        time.Time
	Subclass  string
	Body      string
	Delivered bool // written to the ESL socket (subscribed; channel up)
}

// modInfo is what differs between the two modules.
type modInfo struct {
	name, file, line string
	syntax           string
	maxArgs          int
	closeReason      string // of the Close frame on stop and hang-up
	bug              string // default bug name
}

var (
	forkMod = &modInfo{name: "mod_audio_fork", file: "mod_audio_fork.c", line: "22", maxArgs: 10, bug: "audio_fork",
		syntax: "<uuid> [start | stop | send_text | pause | resume | graceful-shutdown | stop_play ] [wss-url | path] [mono | mixed | stereo] [8000 | 16000 | 24000 | 32000 | 64000] [bugname] [metadata] [bidirectionalAudio_enabled] [bidirectionalAudio_stream_enabled] [bidirectionalAudio_stream_samplerate]"}
	streamMod = &modInfo{name: "mod_audio_stream", file: "mod_audio_stream.c", line: "16", maxArgs: 6, bug: "audio_stream",
		closeReason: "Normal closure",
		syntax:      "<uuid> [start | stop | send_text | pause | resume | graceful-shutdown ] [wss-url | path] [mono | mixed | stereo] [8000 | 16000] [metadata]"}
)

const (
	apiOK     = "+OK Success\n"
	apiFailed = "-ERR Operation Failed\n"
)

// maxForkPath is mod_audio_fork's path buffer: a longer path is cut
// (strncpy into MAX_PATH_LEN).
const maxForkPath = 127

// audioAPI runs uuid_audio_fork (m = forkMod) or uuid_audio_stream. It
// answers like the module: "+OK Success" once the bug is attached (the
// connection is tried afterwards), "-ERR Operation Failed" for anything
// the module refuses, "-USAGE: ..." for missing arguments.
func (l *listener) audioAPI(m *modInfo, arg string) string {
	argv := separateString(arg, ' ', m.maxArgs)
	if arg == "" || len(argv) < 2 || (strings.EqualFold(argv[1], "start") && len(argv) < 5) {
		// The module checks for 4 and reads the fifth: with 4 it crashes.
		return "-USAGE: " + m.syntax + "\n"
	}
	c := l.c
	c.mu.Lock()
	found := argv[0] == c.id.uuid && c.up
	c.mu.Unlock()
	if !found {
		// "Error locating session": B-legs are not simulated either.
		return apiFailed
	}
	cmd := strings.ToLower(argv[1])
	if cmd == "start" {
		return l.audioStart(m, arg, argv)
	}
	bug, text := m.bug, ""
	hasText := false
	switch cmd {
	case "stop", "send_text":
		if cmd == "send_text" && len(argv) < 3 {
			return apiFailed
		}
		if m == streamMod {
			// mod_audio_stream: one stream per channel; the rest is the text.
			if len(argv) > 2 {
				text, hasText = strings.Join(argv[2:], " "), true
			}
			break
		}
		switch {
		case len(argv) > 3:
			bug, text, hasText = argv[2], argv[3], true
		case len(argv) > 2 && (strings.HasPrefix(argv[2], "{") || strings.HasPrefix(argv[2], "[")):
			text, hasText = argv[2], true
		case len(argv) > 2:
			bug = argv[2]
		}
	case "pause", "resume", "graceful-shutdown":
		if m == streamMod && cmd == "graceful-shutdown" {
			// Listed in its syntax, refused by the module (reference 5.1).
			return apiFailed
		}
		if m == forkMod && len(argv) > 2 {
			bug = argv[2]
		}
	default:
		// stop_play and anything else: "unsupported cmd".
		return apiFailed
	}
	key := m.name + ":" + bug
	c.mu.Lock()
	st := c.streams[key]
	if st == nil {
		c.mu.Unlock()
		return apiFailed
	}
	switch cmd {
	case "stop":
		delete(c.streams, key)
		st.push(ctlMsg{kind: ctlStop, text: text, hasText: hasText})
	case "send_text":
		if !hasText {
			// A lone bug name: nothing to send (fork_session_send_text with NULL).
			break
		}
		st.push(ctlMsg{kind: ctlText, text: text})
	case "pause":
		st.push(ctlMsg{kind: ctlPause})
	case "resume":
		st.push(ctlMsg{kind: ctlResume})
	case "graceful-shutdown":
		st.push(ctlMsg{kind: ctlGraceful})
	}
	c.mu.Unlock()
	return apiOK
}

// audioStart attaches a bug and starts connecting: start <url> <mix>
// <rate> [bugname] [metadata] [bidi_enabled bidi_stream_enabled bidi_rate].
func (l *listener) audioStart(m *modInfo, arg string, argv []string) string {
	cfg := streamCfg{mod: m, bug: m.bug, mix: argv[3]}
	if m == forkMod {
		// The layered argument shapes of fork_function.
		switch n := len(argv); {
		case n > 9:
			if argv[5] != "" {
				cfg.bug = argv[5]
			}
			cfg.meta = argv[6]
			cfg.bidi, cfg.bidiStream = argv[7] == "true", argv[8] == "true"
			cfg.bidiRate = atoi(argv[9])
		case n > 7:
			if argv[5] != "" {
				cfg.bug = argv[5]
			}
			cfg.meta = argv[6]
			cfg.bidi = argv[7] == "true"
		case n > 6:
			cfg.bug, cfg.meta = argv[5], argv[6]
		case n > 5:
			if strings.HasPrefix(argv[5], "{") || strings.HasPrefix(argv[5], "[") {
				cfg.meta = argv[5]
			} else {
				cfg.bug = argv[5]
			}
		}
	} else if len(argv) > 5 {
		cfg.meta = argv[5]
	}
	switch cfg.mix {
	case "mono", "mixed", "stereo":
	default:
		return apiFailed
	}
	switch argv[4] {
	case "16k":
		cfg.rate = 16000
	case "8k":
		cfg.rate = 8000
	default:
		cfg.rate = atoi(argv[4])
	}
	if cfg.rate <= 0 || cfg.rate%8000 != 0 {
		return apiFailed
	}
	if cfg.bidiRate <= 0 {
		cfg.bidiRate = cfg.rate
	}
	if !cfg.parseURL(argv[2]) {
		return apiFailed
	}
	c := l.c
	key := m.name + ":" + cfg.bug
	c.mu.Lock()
	if c.streams[key] != nil {
		// "bug already attached"
		c.mu.Unlock()
		return apiFailed
	}
	if l.s.preAnswerMedia() {
		// start_capture pre-answers the channel.
		c.armPending = true
		c.poke()
	}
	_, rest, _ := strings.Cut(arg, " ")
	st := newWSStream(l.sw, c, cfg, &l.call)
	st.rec.Args = rest
	st.key = key
	if c.streams == nil {
		c.streams = map[string]*wsStream{}
	}
	c.streams[key] = st
	c.allStreams = append(c.allStreams, st)
	c.mu.Unlock()
	l.wg.Go(func() { st.run(l.ctx) })
	return apiOK
}

// streamCfg is what start fixed for a stream.
type streamCfg struct {
	mod        *modInfo
	bug        string
	url        string
	mix        string
	rate       int
	meta       string
	bidi       bool // write-replace bug: the server's audio can be played
	bidiStream bool // binary frames from the server are taken
	bidiRate   int

	tls      bool
	host     string // without the port (mod_audio_fork's Host header)
	hostport string // as written in the URL (mod_audio_stream's Host)
	addr     string // to dial
	path     string
}

// parseURL is parse_ws_uri: ws://, wss://, http:// or https://, a host,
// an optional port, the rest (query included) is the path.
func (cfg *streamCfg) parseURL(raw string) bool {
	cfg.url = raw
	lower := strings.ToLower(raw)
	var rest string
	port := "80"
	switch {
	case strings.HasPrefix(lower, "wss://"), strings.HasPrefix(lower, "https://"):
		cfg.tls, port = true, "443"
		_, rest, _ = strings.Cut(raw, "://")
	case strings.HasPrefix(lower, "ws://"), strings.HasPrefix(lower, "http://"):
		_, rest, _ = strings.Cut(raw, "://")
	default:
		return false
	}
	hostport, path, hasPath := strings.Cut(rest, "/")
	if i := strings.IndexAny(hostport, "?#"); i >= 0 {
		hostport, path, hasPath = hostport[:i], hostport[i:], true
		path = strings.TrimPrefix(path, "/")
	}
	host, p, hasPort := strings.Cut(hostport, ":")
	if strings.HasPrefix(hostport, "[") {
		if h, pp, err := net.SplitHostPort(hostport); err == nil {
			host, p, hasPort = h, pp, true
		} else {
			host, hasPort = strings.Trim(hostport, "[]"), false
		}
	}
	if host == "" {
		return false
	}
	if hasPort {
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return false
		}
		port = p
	}
	cfg.host, cfg.hostport = host, hostport
	cfg.addr = net.JoinHostPort(host, port)
	cfg.path = "/"
	if hasPath {
		cfg.path = "/" + path
	}
	if cfg.mod == forkMod && len(cfg.path) > maxForkPath {
		cfg.path = cfg.path[:maxForkPath]
	}
	if _, err := url.Parse("ws://" + hostport + cfg.path); err != nil {
		return false
	}
	return true
}

// mediaReadyLocked is the park loop seeing media for the first time: it
// reads send_silence_when_idle once (switch_ivr.c:1014). With it the
// parked channel writes silence frames, which is what lets a
// bidirectional mod_audio_fork play the server's audio (transcripts d and
// d8). c.mu held.
func (c *channel) mediaReadyLocked() {
	if c.silenceChecked {
		return
	}
	c.silenceChecked = true
	if v, ok := c.vars.get("send_silence_when_idle"); ok && atoi(v) != 0 {
		c.writers.Add(1)
	}
}

// stopStreamsLocked is the channel going down: every attached bug is
// closed (SWITCH_ABC_TYPE_CLOSE), without CUSTOM events. c.mu held.
func (c *channel) stopStreamsLocked() {
	for k, st := range c.streams {
		st.push(ctlMsg{kind: ctlHangup})
		delete(c.streams, k)
	}
}

// fireCustom fires a module's CUSTOM event for st if its bug is still
// attached and the channel up; it reports whether the event was
// delivered to the socket. detach removes the bug in the same step, so a
// command sent on seeing the event finds it gone.
func (c *channel) fireCustom(st *wsStream, subclass, body string, detach bool) (fired, delivered bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.streams[st.key] != st {
		return false, false
	}
	if detach {
		delete(c.streams, st.key)
	}
	if !c.up {
		return false, false
	}
	return true, c.fire(evCustom, &evArgs{subclass: subclass, file: st.cfg.mod.file, line: st.cfg.mod.line, body: body})
}
