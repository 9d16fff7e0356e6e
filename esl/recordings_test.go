package esl

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The recordings are real FreeSWITCH byte streams (see
// fssim/recordings/README.md). The decoded sequence in each .txt header was
// produced by the recording tool, not by this package, so it is an
// independent account of what the bytes contain.

const recordings = "fssim/recordings"

type decodedMsg struct {
	kind   string // reply, api, event, notice
	name   string // event name, or the notice's disposition
	fields map[string]string
}

var (
	lineRE  = regexp.MustCompile(`^#\s+\+\s*[0-9.]+s FS->APP\s+(.*)$`)
	fieldRE = regexp.MustCompile(`([A-Za-z_-]+)=(.*?)(?: \| |$)`)
)

// decodedSequence reads the FS->APP lines of a recording's decoded sequence.
func decodedSequence(t *testing.T, name string) []decodedMsg {
	t.Helper()
	f, err := os.Open(filepath.Join(recordings, name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []decodedMsg
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	inSeq := false
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "# Decoded message sequence") {
			inSeq = true
			continue
		}
		if !inSeq {
			continue
		}
		m := lineRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		rest := m[1]
		switch {
		case strings.HasPrefix(rest, "EOF"):
		case strings.HasPrefix(rest, "command/reply to connect"):
			out = append(out, decodedMsg{kind: "connect", fields: fields(rest[len("command/reply to connect: "):], ", ")})
		case strings.HasPrefix(rest, "command/reply "):
			out = append(out, decodedMsg{kind: "reply", fields: map[string]string{"Reply-Text": quoted(rest, "Reply-Text=")}})
		case strings.HasPrefix(rest, "api/response"):
			out = append(out, decodedMsg{kind: "api", fields: map[string]string{"body": quoted(rest, "body=")}})
		case strings.HasPrefix(rest, "text/disconnect-notice"):
			d := strings.Fields(rest)[1]
			out = append(out, decodedMsg{kind: "notice", name: strings.TrimPrefix(d, "Content-Disposition=")})
		case strings.HasPrefix(rest, "event "):
			ev := strings.TrimPrefix(rest, "event ")
			name, fs, _ := strings.Cut(ev, ": ")
			if sp := strings.IndexByte(name, ' '); sp >= 0 { // "CUSTOM Event-Subclass=..."
				fs, name = name[sp+1:], name[:sp]
			}
			out = append(out, decodedMsg{kind: "event", name: name, fields: fields(fs, " | ")})
		default:
			t.Fatalf("%s: unknown decoded line %q", name, l)
		}
	}
	return out
}

func fields(s, sep string) map[string]string {
	m := map[string]string{}
	for _, p := range strings.Split(s, sep) {
		k, v, ok := strings.Cut(p, "=")
		if ok {
			m[strings.TrimSpace(k)] = strings.Trim(v, "'")
		}
	}
	return m
}

func quoted(s, key string) string {
	i := strings.Index(s, key+"'")
	if i < 0 {
		return ""
	}
	v := s[i+len(key)+1:]
	return strings.TrimSuffix(v, "'")
}

// unquote turns the recorder's \n notation back into a newline.
func unquote(s string) string { return strings.ReplaceAll(s, `\n`, "\n") }

// chunky hands out the stream in random small reads, as TCP does.
type chunky struct {
	b   []byte
	rnd *rand.Rand
}

func (c *chunky) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.b), 1+c.rnd.IntN(700))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

func recordedScenarios(t *testing.T) []string {
	t.Helper()
	raws, err := filepath.Glob(filepath.Join(recordings, "raw", "*.fs2app.raw"))
	if err != nil || len(raws) < 14 {
		t.Fatalf("recordings missing: %v (%d files)", err, len(raws))
	}
	var names []string
	for _, r := range raws {
		names = append(names, strings.TrimSuffix(filepath.Base(r), ".fs2app.raw"))
	}
	return names
}

// TestReaderParsesEveryRecording feeds every recorded FreeSWITCH stream
// through the reader in random chunks and checks each frame against the
// recording's own decoded sequence.
func TestReaderParsesEveryRecording(t *testing.T) {
	for _, name := range recordedScenarios(t) {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(recordings, "raw", name+".fs2app.raw"))
			if err != nil {
				t.Fatal(err)
			}
			want := decodedSequence(t, name)
			for seed := range uint64(5) {
				r := NewReader(&chunky{b: raw, rnd: rand.New(rand.NewPCG(seed, 7))})
				var got []Frame
				for {
					f, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("seed %d frame %d: %v", seed, len(got), err)
					}
					got = append(got, f)
				}
				if len(got) != len(want) {
					t.Fatalf("seed %d: %d frames, recording lists %d", seed, len(got), len(want))
				}
				for i := range want {
					checkFrame(t, i, got[i], want[i])
				}
			}
		})
	}
}

func checkFrame(t *testing.T, i int, f Frame, w decodedMsg) {
	t.Helper()
	switch w.kind {
	case "connect":
		if f.Type() != TypeReply || f.Header.Get("Event-Name") != "CHANNEL_DATA" {
			t.Fatalf("frame %d: want the connect reply, got %q", i, f.Type())
		}
		if got := f.Header.Get("Reply-Text"); got != "+OK\n" {
			t.Errorf("frame %d: connect Reply-Text %q (URL-decoded) want %q", i, got, "+OK\n")
		}
		for _, k := range []string{"Unique-ID", "Caller-Destination-Number", "Socket-Mode", "Control", "Answer-State"} {
			if got := f.Header.Get(k); got != w.fields[k] {
				t.Errorf("frame %d: connect %s=%q want %q", i, k, got, w.fields[k])
			}
		}
	case "reply":
		if f.Type() != TypeReply {
			t.Fatalf("frame %d: type %q want reply", i, f.Type())
		}
		if got := f.Header.Get("Reply-Text"); got != w.fields["Reply-Text"] {
			t.Errorf("frame %d: Reply-Text %q want %q", i, got, w.fields["Reply-Text"])
		}
	case "api":
		if f.Type() != TypeAPI || f.Body != unquote(w.fields["body"]) {
			t.Errorf("frame %d: api %q body %q want %q", i, f.Type(), f.Body, unquote(w.fields["body"]))
		}
	case "notice":
		if f.Type() != TypeDisconnect || f.Header.Get("Content-Disposition") != w.name {
			t.Errorf("frame %d: notice %q/%q want %q", i, f.Type(), f.Header.Get("Content-Disposition"), w.name)
		}
	case "event":
		if f.Type() != TypeEventPlain {
			t.Fatalf("frame %d: type %q want event %s", i, f.Type(), w.name)
		}
		ev, err := ParseEvent(f.Body)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if ev.Name() != w.name {
			t.Fatalf("frame %d: event %s want %s", i, ev.Name(), w.name)
		}
		for k, v := range w.fields {
			if k == "body" {
				if ev.Body != unquote(v) {
					t.Errorf("frame %d: %s body %q want %q", i, w.name, ev.Body, v)
				}
				continue
			}
			hdr := k
			got, ok := ev.Lookup(hdr)
			if !ok {
				t.Errorf("frame %d: %s lacks %s", i, w.name, k)
				continue
			}
			// The recorder shortens uuids to 8 characters.
			if got != v && !(len(v) == 8 && strings.HasPrefix(got, v)) {
				t.Errorf("frame %d: %s %s=%q want %q", i, w.name, k, got, v)
			}
		}
	}
}

// TestRecordingsMatchSharedFixtures guards the copies against drift when
// the shared fixtures are next to the checkout.
func TestRecordingsMatchSharedFixtures(t *testing.T) {
	shared := filepath.Join("..", "..", "shared", "fixtures", "esl", "raw")
	if _, err := os.Stat(shared); err != nil {
		t.Skip("shared fixtures not present next to the checkout")
	}
	files, _ := filepath.Glob(filepath.Join(shared, "*.raw"))
	for _, f := range files {
		a, _ := os.ReadFile(f)
		b, err := os.ReadFile(filepath.Join(recordings, "raw", filepath.Base(f)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs from the shared fixture", filepath.Base(f))
		}
	}
}
