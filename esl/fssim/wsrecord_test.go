package fssim

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The WebSocket transcripts (testdata/ws, copied from the shared fixtures)
// carry the ESL capture as text: every TCP read under a "### +T DIR (N
// bytes)" line. wsRecording rebuilds the FS->APP byte stream from it
// (checking each read's length) and parses it with the test parser.
type wsRecording struct {
	name string
	msgs []wireMsg // FS->APP
	text string    // the whole file
}

var chunkRE = regexp.MustCompile(`^### \+[0-9.]+s (FS->APP|APP->FS) \((\d+) bytes\)$`)

func loadWSRecording(t *testing.T, name string) *wsRecording {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "ws", name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	_, capture, ok := strings.Cut(text, "# VERBATIM ESL CAPTURE\n")
	if !ok {
		t.Fatalf("%s: no verbatim capture", name)
	}
	var fs2app strings.Builder
	sc := bufio.NewScanner(strings.NewReader(capture))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var cur *strings.Builder
	var want int
	var lines []string
	flush := func(noLF bool) {
		if cur == nil {
			return
		}
		s := strings.Join(lines, "\n") + "\n"
		if noLF {
			s = strings.TrimSuffix(s, "\n")
		}
		if len(s) != want {
			t.Fatalf("%s: a read of %d bytes rebuilt as %d", name, want, len(s))
		}
		cur.WriteString(s)
		cur, lines = nil, nil
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "### ") {
			flush(line == "### (chunk did not end with LF)")
			if m := chunkRE.FindStringSubmatch(line); m != nil && m[1] == "FS->APP" {
				cur = &fs2app
				want, _ = strconv.Atoi(m[2])
			}
			continue
		}
		if cur != nil {
			lines = append(lines, line)
		}
	}
	flush(false)
	msgs, err := readAllWire([]byte(fs2app.String()))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &wsRecording{name: name, msgs: msgs, text: text}
}

// customs are the recording's CUSTOM events.
func (r *wsRecording) customs() []customMsg { return customs(r.msgs) }

// apiBodies are the recording's api responses in order.
func (r *wsRecording) apiBodies() []string {
	var out []string
	for _, m := range r.msgs {
		if m.kind == "api" {
			out = append(out, string(m.body))
		}
	}
	return out
}

// headerNames are an event's header names up to its own body, without the
// channel variables.
func headerNames(m wireMsg) []string {
	head, _, _ := strings.Cut(string(m.body), "\n\n")
	var out []string
	for _, line := range strings.Split(head, "\n") {
		k, _, _ := strings.Cut(line, ": ")
		if k == "" || strings.HasPrefix(k, "variable_") {
			continue
		}
		out = append(out, k)
	}
	return out
}

// clientFrames is the transcript's list of frames FreeSWITCH sent, e.g.
// "#1  FIN=1 RSV1=0 TEXT   MASK=1 len=74 ..." and "#2-#151  150 x  ... BINARY ... len=640".
func (r *wsRecording) clientFrames() []string {
	_, after, _ := strings.Cut(r.text, "CLIENT(FreeSWITCH)->SERVER frames")
	section, _, _ := strings.Cut(after, "SERVER(wsprobe)->CLIENT")
	var out []string
	for _, line := range strings.Split(section, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(line, "#"))
		if strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// request is the verbatim upgrade request of the transcript, with real CRLFs.
func (r *wsRecording) request() string {
	return r.verbatimHTTP("CLIENT(FreeSWITCH)->SERVER")
}

// response is the server's verbatim answer to the upgrade.
func (r *wsRecording) response() string {
	return r.verbatimHTTP("SERVER(wsprobe)->CLIENT")
}

func (r *wsRecording) verbatimHTTP(dir string) string {
	_, after, ok := strings.Cut(r.text, dir+" HTTP (verbatim, CRLF shown as \\r\\n):\n")
	if !ok {
		return ""
	}
	var b strings.Builder
	for _, line := range strings.Split(after, "\n") {
		line = strings.TrimPrefix(line, "#")
		line = strings.TrimLeft(line, " ")
		if !strings.HasSuffix(line, `\r\n`) {
			break
		}
		b.WriteString(strings.TrimSuffix(line, `\r\n`) + "\r\n")
		if line == `\r\n` {
			break
		}
	}
	return b.String()
}

// httpHeader is a header's value in an HTTP head (with or without a
// space after the colon, as mod_audio_stream writes it).
func httpHeader(head, name string) string {
	for _, line := range strings.Split(head, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// The accept hash the simulator checks (and the raw test servers answer)
// is the one the recorded server computed for FreeSWITCH's key.
func TestWSAcceptMatchesTheRecordings(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "ws"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".txt")
		if !ok {
			continue
		}
		r := loadWSRecording(t, name)
		key, accept := httpHeader(r.request(), "Sec-WebSocket-Key"), httpHeader(r.response(), "Sec-WebSocket-Accept")
		if key == "" && accept == "" {
			continue // nothing listened
		}
		n++
		if got := wsAccept(key); got != accept {
			t.Errorf("%s: accept of %q is %q, recorded %q", name, key, got, accept)
		}
		if name == "a-fork-16k" && (key != "3nLWFfu6sGbld6TL4mePKg==" || accept != "B2zOnvRaNm1T3sEuzUHCD504j1M=") {
			t.Errorf("a-fork-16k read as key %q accept %q", key, accept)
		}
	}
	if n != 24 {
		t.Errorf("%d transcripts with a handshake, want 24", n)
	}
}

func TestWSRecordingsParse(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "ws"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".txt")
		if !ok {
			continue
		}
		n++
		r := loadWSRecording(t, name)
		if len(r.msgs) < 10 || r.msgs[0].headRaw["Event-Name"] != "CHANNEL_DATA" {
			t.Errorf("%s: %d messages", name, len(r.msgs))
		}
	}
	if n != 26 {
		t.Errorf("%d transcripts, want 26", n)
	}
}
