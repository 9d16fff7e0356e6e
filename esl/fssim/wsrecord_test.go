package fssim

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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

// frameRun is a client frame, or a run of binary frames of one length.
type frameRun struct {
	n              int // frames
	op             string
	fin, rsv, mask bool
	size           int    // payload length of each
	text           string // TEXT payload
	code           int    // CLOSE
	reason         string
}

// key describes the run for comparison; audio runs (binary, not empty)
// leave out their length, which depends on timing.
func (f frameRun) key() string {
	bit := map[bool]int{false: 0, true: 1}
	s := fmt.Sprintf("%s FIN=%d RSV=%d MASK=%d len=%d", f.op, bit[f.fin], bit[f.rsv], bit[f.mask], f.size)
	switch f.op {
	case "TEXT":
		s += " " + strconv.Quote(f.text)
	case "CLOSE":
		s += fmt.Sprintf(" code=%d reason=%q", f.code, f.reason)
	}
	if f.op == "BINARY" && f.size > 0 {
		return "audio x " + s
	}
	return strconv.Itoa(f.n) + " x " + s
}

var frameLineRE = regexp.MustCompile(`^#(\d+)(?:-#(\d+)\s+(\d+) x)?\s+FIN=([01]) RSV1=([01]) (\w+)\s+MASK=([01]) len=(\d+) hdr=[0-9a-f]+(?: payload='(.*)'| code=(\d+) reason='(.*)'| first=[0-9a-f]*)$`)

// frameRuns parses clientFrames, with the recorded call's uuid replaced
// by uuid in the text payloads.
func (r *wsRecording) frameRuns(t *testing.T, uuid string) []frameRun {
	t.Helper()
	var out []frameRun
	for _, line := range r.clientFrames() {
		m := frameLineRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s: frame line %q", r.name, line)
		}
		f := frameRun{n: 1, fin: m[4] == "1", rsv: m[5] == "1", op: m[6], mask: m[7] == "1",
			text: strings.ReplaceAll(m[9], r.uuid(), uuid), reason: m[11]}
		f.size, _ = strconv.Atoi(m[8])
		f.code, _ = strconv.Atoi(m[10])
		if m[2] != "" {
			first, _ := strconv.Atoi(m[1])
			last, _ := strconv.Atoi(m[2])
			f.n, _ = strconv.Atoi(m[3])
			if f.n != last-first+1 {
				t.Fatalf("%s: %q", r.name, line)
			}
		}
		if f.op == "TEXT" && len(f.text) != f.size {
			t.Fatalf("%s: %q: payload of %d bytes", r.name, line, len(f.text))
		}
		out = mergeRun(out, f)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no client frames", r.name)
	}
	return out
}

// mergeRun appends f, joining it to a run of binary frames of its length.
func mergeRun(runs []frameRun, f frameRun) []frameRun {
	if n := len(runs); n > 0 && f.op == "BINARY" {
		last := &runs[n-1]
		if last.op == f.op && last.size == f.size && last.fin == f.fin && last.rsv == f.rsv && last.mask == f.mask {
			last.n += f.n
			return runs
		}
	}
	return append(runs, f)
}

// runsOf summarises the frames the simulator wrote the same way.
func runsOf(frames []clientFrame) []frameRun {
	var out []frameRun
	for _, c := range frames {
		f := frameRun{n: 1, fin: c.fin, rsv: c.rsv, mask: c.masked, size: len(c.payload)}
		switch c.op {
		case opText:
			f.op, f.text = "TEXT", string(c.payload)
		case opBinary:
			f.op = "BINARY"
		case opClose:
			f.op = "CLOSE"
			f.code, f.reason = ParseClose(c.payload)
		default:
			f.op = fmt.Sprintf("OP%d", c.op)
		}
		out = mergeRun(out, f)
	}
	return out
}

// sameFrames compares the frames the simulator wrote with the
// transcript's: the same frames in the same order (FIN, RSV, MASK,
// lengths, text payloads, Close code and reason), runs of audio frames of
// any length.
func sameFrames(t *testing.T, frames []clientFrame, rec *wsRecording, uuid string) {
	t.Helper()
	var got, want []string
	for _, f := range runsOf(frames) {
		got = append(got, f.key())
	}
	for _, f := range rec.frameRuns(t, uuid) {
		want = append(want, f.key())
	}
	if !slices.Equal(got, want) {
		t.Errorf("frames differ from %s\n got %s\nwant %s", rec.name, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// uuid is the recorded call's Unique-ID.
func (r *wsRecording) uuid() string { return r.msgs[0].headRaw["Unique-ID"] }

// metadata is the recorded first text frame (start's metadata) for the call uuid.
func (r *wsRecording) metadata(t *testing.T, uuid string) string {
	t.Helper()
	f := r.frameRuns(t, uuid)[0]
	if f.op != "TEXT" {
		t.Fatalf("%s: no metadata frame", r.name)
	}
	return f.text
}

// path is the recorded upgrade's request path.
func (r *wsRecording) path() string {
	line, _, _ := strings.Cut(r.request(), "\r\n")
	_, rest, _ := strings.Cut(line, " ")
	p, _, _ := strings.Cut(rest, " ")
	return p
}

// requestFor is the recorded upgrade request with another key and host:port.
func (r *wsRecording) requestFor(key, hostport string) string {
	req := r.request()
	recKey := httpHeader(req, "Sec-WebSocket-Key")
	return strings.NewReplacer(recKey, key, "127.0.0.1:8090", hostport).Replace(req)
}

// serverTexts are the text frames the recorded server sent, in order.
func (r *wsRecording) serverTexts() []string {
	var out []string
	for _, m := range sendTextRE.FindAllStringSubmatch(r.text, -1) {
		out = append(out, m[1])
	}
	return out
}

var sendTextRE = regexp.MustCompile(`(?m)\] SEND TEXT (.*) err=<nil>$`)

// subclasses lists the events' subclasses in order.
func subclasses(cs []customMsg) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.subclass)
	}
	return out
}

// sameSubclasses compares the CUSTOM events read on the socket with the
// recordings' (one after the other), by subclass and order.
func sameSubclasses(t *testing.T, msgs []wireMsg, recs ...*wsRecording) {
	t.Helper()
	var want []string
	for _, r := range recs {
		want = append(want, subclasses(r.customs())...)
	}
	if got := subclasses(customs(msgs)); !slices.Equal(got, want) {
		t.Errorf("CUSTOM events %v, recorded %v", got, want)
	}
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
		if got := WSAccept(key); got != accept {
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
		if r.request() != "" {
			r.frameRuns(t, r.uuid())
		}
	}
	if n != 26 {
		t.Errorf("%d transcripts, want 26", n)
	}
}

// UpgradeRequest, as other packages' tests use it, writes the recorded
// requests byte for byte.
func TestUpgradeRequestMatchesTheRecordings(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "ws"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".txt")
		if !ok {
			continue
		}
		r := loadWSRecording(t, name)
		if r.request() == "" {
			continue
		}
		module := "mod_audio_fork"
		if strings.HasPrefix(name, "as-") {
			module = "mod_audio_stream"
		}
		key := httpHeader(r.request(), "Sec-WebSocket-Key")
		if got := string(UpgradeRequest(module, "127.0.0.1:8090", r.path(), key, false)); got != r.request() {
			t.Errorf("%s\n got %q\nrecorded %q", name, got, r.request())
		}
	}
}

// ReadServerFrame reads the recorded server Close (hdr=8802, code 1000)
// and what AppendClientFrame writes, reporting the mask.
func TestReadServerFrame(t *testing.T) {
	raw := append([]byte{0x88, 0x02}, ClosePayload(1000, "")...)
	raw = AppendClientFrame(raw, opText, []byte(`{"reason":"probe-stop"}`))
	br := bufio.NewReader(bytes.NewReader(raw))
	fin, op, p, masked, err := ReadServerFrame(br)
	if code, reason := ParseClose(p); err != nil || !fin || op != opClose || masked || code != 1000 || reason != "" {
		t.Errorf("close: fin %v op %d masked %v %d %q %v", fin, op, masked, code, reason, err)
	}
	fin, op, p, masked, err = ReadServerFrame(br)
	if err != nil || !fin || op != opText || !masked || string(p) != `{"reason":"probe-stop"}` {
		t.Errorf("text: fin %v op %d masked %v %q %v", fin, op, masked, p, err)
	}
	if _, _, _, _, err := ReadServerFrame(br); err != io.EOF {
		t.Errorf("after the frames: %v", err)
	}
}
