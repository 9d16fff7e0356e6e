package fssim

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every header value FreeSWITCH wrote in the recordings re-encodes to the
// same bytes with appendURLEncode.
func TestURLEncodeMatchesRecordings(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("recordings", "raw", "*.fs2app.raw"))
	if err != nil || len(files) == 0 {
		t.Fatalf("recordings: %v", err)
	}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := readAllWire(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			var lines []string
			if m.kind == "event" {
				lines = strings.Split(string(m.body), "\n")
			} else if _, ok := m.headRaw["Event-Name"]; ok {
				lines = strings.Split(string(data[:m.size]), "\n")
			}
			for _, line := range lines {
				_, raw, ok := strings.Cut(line, ": ")
				if !ok {
					continue
				}
				if got := urlEncode(urlDecode(raw)); got != raw {
					t.Errorf("%s: %q re-encodes to %q", filepath.Base(f), raw, got)
				}
				n++
			}
		}
	}
	if n < 10000 {
		t.Errorf("only %d values checked", n)
	}
}

func TestURLEncode(t *testing.T) {
	tests := []struct{ give, want string }{
		{"+OK\n", "%2BOK%0A"},
		{"tone_stream://%(1000,0,440)", "tone_stream%3A//%25(1000,0,440)"},
		{"already %41 encoded", "already%20%41%20encoded"},
		{"lower %4a stays", "lower%20%254a%20stays"},
		{`{a=b}[c]|"'`, "%7Ba%3Db%7D%5Bc%5D%7C%22'"},
		{"caf\xc3\xa9", "caf%C3%A9"},
	}
	for _, tt := range tests {
		if got := urlEncode(tt.give); got != tt.want {
			t.Errorf("urlEncode(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestSeparateString(t *testing.T) {
	tests := []struct {
		give  string
		delim byte
		max   int
		want  []string
	}{
		{"1 5 1 8000 # tone pagd \\d+ 3000", ' ', 11, []string{"1", "5", "1", "8000", "#", "tone", "pagd", "\\d+", "3000"}},
		{"a  b   c", ' ', 11, []string{"a", "b", "c"}},
		{"u var a b c", ' ', 3, []string{"u", "var", "a b c"}},
		{"'quoted value' x", ' ', 4, []string{"quoted value", "x"}},
		{"a=1,b='2,3',c", ',', 10, []string{"a=1", "b=2,3", "c"}},
		{"^^;a=1,2;b=3", ',', 10, []string{"a=1,2", "b=3"}},
		{"x\\,y,z", ',', 10, []string{"x,y", "z"}},
		{"k=v=w", '=', 2, []string{"k", "v=w"}},
	}
	for _, tt := range tests {
		if got := separateString(tt.give, tt.delim, tt.max); !slices.Equal(got, tt.want) {
			t.Errorf("separateString(%q, %q) = %q, want %q", tt.give, tt.delim, got, tt.want)
		}
	}
}

func TestExpandVars(t *testing.T) {
	vars := map[string]string{"a": "1", "uuid": "u-1", "nested_1": "n"}
	get := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	tests := []struct{ give, want string }{
		{"x=${a}", "x=1"},
		{"${uuid} ${missing}.", "u-1 ."},
		{"${nested_${a}}", "n"},
		{"no vars", "no vars"},
		{"\\${a}", "${a}"},
		{"${uuid_getvar(x y)}", ""},
		{"unterminated ${a", "unterminated ${a"},
	}
	for _, tt := range tests {
		if got := expandVars(tt.give, get); got != tt.want {
			t.Errorf("expandVars(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestReadPacket(t *testing.T) {
	in := "\r\n\nconnect\r\n\r\n" +
		"sendmsg u\nCall-Command: execute\nexecute-app-arg:   spaced %20 value\nno colon\n\n" +
		"sendmsg\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello" +
		"linger\n\r\n"
	r := bufio.NewReader(strings.NewReader(in))
	want := []packet{
		{line: "connect"},
		{line: "sendmsg u", headers: [][2]string{{"Call-Command", "execute"}, {"execute-app-arg", "spaced %20 value"}}},
		{line: "sendmsg", headers: [][2]string{{"content-type", "text/plain"}, {"content-length", "5"}}, body: "hello"},
		{line: "linger"},
	}
	for i, w := range want {
		p, err := readPacket(r)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if p.line != w.line || !slices.Equal(p.headers, w.headers) || p.body != w.body {
			t.Errorf("packet %d: %+v, want %+v", i, *p, w)
		}
	}
	if _, err := readPacket(r); err == nil {
		t.Error("no error at EOF")
	}
	_, err := readPacket(bufio.NewReader(strings.NewReader("api x\nContent-Length: 99999999\n\n")))
	if err != errContentLength {
		t.Errorf("oversized Content-Length: %v", err)
	}
}

func FuzzReadPacket(f *testing.F) {
	f.Add([]byte("connect\n\n"))
	f.Add([]byte("sendmsg\r\nContent-Length: 3\r\n\r\nabc"))
	f.Add([]byte("\n\n\r\napi uuid_getvar x y\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(strings.NewReader(string(data)))
		for range 64 {
			p, err := readPacket(r)
			if err != nil {
				return
			}
			if strings.ContainsAny(p.line, "\r\n") {
				t.Fatalf("line with CR/LF: %q", p.line)
			}
		}
	})
}

func FuzzParseDialString(f *testing.F) {
	f.Add("{leg_timeout=15}sofia/internal/sip:ai@127.0.0.1:5090")
	f.Add("{^^;a=1,2}[^^:b=2:c=3]sofia/p/x,[d=4]sofia/p/y|sofia/p/z")
	f.Add("<a=1>{b='x,y'}[")
	f.Fuzz(func(t *testing.T, s string) {
		d := parseDialString(s)
		for _, g := range d.groups {
			if len(g) == 0 {
				t.Fatal("empty group")
			}
		}
		_ = d.targets()
	})
}
