package esl

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHeadersLookup(t *testing.T) {
	h := Headers{raw: "Event-Name: CHANNEL_BRIDGE\nOther-Leg-Unique-ID: b-leg\nUnique-ID: a-leg\nCaller-Caller-ID-Name: sipp%20caller\nvariable_sip_h_X-Foo: 100%25\nvariable_odd: %zz%4\nvariable_empty: \n", encoded: true}
	tests := []struct {
		give   string
		want   string
		wantOK bool
	}{
		{"Unique-ID", "a-leg", true}, // not Other-Leg-Unique-ID
		{"Other-Leg-Unique-ID", "b-leg", true},
		{"Caller-Caller-ID-Name", "sipp caller", true},
		{"variable_sip_h_X-Foo", "100%", true},
		{"variable_odd", "%zz%4", true}, // invalid escapes stay literal
		{"variable_empty", "", true},
		{"Event-Name", "CHANNEL_BRIDGE", true},
		{"unique-id", "", false}, // names are exact
		{"ID", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := h.Lookup(tt.give)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Lookup(%q) = %q,%v want %q,%v", tt.give, got, ok, tt.want, tt.wantOK)
		}
	}
	var names []string
	h.Each(func(n, v string) bool { names = append(names, n); return len(names) < 3 })
	if strings.Join(names, ",") != "Event-Name,Other-Leg-Unique-ID,Unique-ID" {
		t.Errorf("Each: %v", names)
	}
}

func TestReplyTextIsNotDecoded(t *testing.T) {
	// Plain replies carry the value literally; only serialized events are encoded.
	r := NewReader(strings.NewReader("Content-Type: command/reply\nReply-Text: tone_stream://%(1000,0,440) 100%25\n\n"))
	f, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Header.Get("Reply-Text"); got != "tone_stream://%(1000,0,440) 100%25" {
		t.Fatalf("got %q", got)
	}
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		name string
		give string
		want func(error) bool
	}{
		{"bad length", "Content-Type: api/response\nContent-Length: x\n\n", isProtocol},
		{"negative length", "Content-Type: api/response\nContent-Length: -4\n\n", isProtocol},
		{"huge length", "Content-Type: api/response\nContent-Length: 999999999999\n\n", isProtocol},
		{"truncated body", "Content-Type: api/response\nContent-Length: 10\n\nabc", func(err error) bool { return err == io.ErrUnexpectedEOF }},
		{"truncated header", "Content-Type: api/resp", func(err error) bool { return err == io.ErrUnexpectedEOF }},
		{"header bomb", strings.Repeat("A", 2*maxHeaderBlock), isProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(tt.give)).Next()
			if !tt.want(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func isProtocol(err error) bool {
	_, ok := err.(*ProtocolError)
	return ok
}

func TestParseEventWithBody(t *testing.T) {
	ev, err := ParseEvent("Event-Subclass: mod_audio_fork%3A%3Ajson\nEvent-Name: CUSTOM\nUnique-ID: u\nContent-Length: 7\n\n{\"a\":1}")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Name() != "CUSTOM" || ev.Subclass() != "mod_audio_fork::json" || ev.Body != `{"a":1}` {
		t.Fatalf("%q %q %q", ev.Name(), ev.Subclass(), ev.Body)
	}
	if _, err := ParseEvent("Unique-ID: u\n\n"); err == nil {
		t.Fatal("event without a name accepted")
	}
	if _, err := ParseEvent("Event-Name: CUSTOM\nContent-Length: 99\n\nshort"); err == nil {
		t.Fatal("short body accepted")
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("Content-Type: command/reply\nReply-Text: +OK\n\n"))
	f.Add([]byte("Content-Length: 40\nContent-Type: text/event-plain\n\nEvent-Name: DTMF\nDTMF-Digit: 1\nX: %41\n\n"))
	f.Add([]byte("Content-Type: text/disconnect-notice\nContent-Length: 3\n\nbye\r\n\r\n\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(strings.NewReader(string(b)))
		for range 64 {
			fr, err := r.Next()
			if err != nil {
				return
			}
			if fr.Type() == TypeEventPlain {
				if ev, err := ParseEvent(fr.Body); err == nil {
					_ = ev.Name() + ev.UniqueID() + ev.AppUUID()
					ev.Each(func(n, v string) bool { return true })
				}
			}
		}
	})
}

func FuzzUnescape(f *testing.F) {
	f.Add("a%20b%zz%")
	f.Fuzz(func(t *testing.T, s string) {
		u := unescape(s)
		if len(u) > len(s) {
			t.Fatalf("unescape grew %q -> %q", s, u)
		}
		if !strings.Contains(s, "%") && u != s {
			t.Fatalf("changed a string without escapes")
		}
	})
}

// BenchmarkReadRecording parses a recorded FreeSWITCH stream (a connect
// reply and 35 events, 166 KB) per op.
func BenchmarkReadRecording(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(recordings, "raw", "a-bridge-ok.fs2app.raw"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(bytes.NewReader(raw))
		for {
			f, err := r.Next()
			if err != nil {
				break
			}
			if f.Type() == TypeEventPlain {
				ev, _ := ParseEvent(f.Body)
				_ = ev.Name()
			}
		}
	}
}
