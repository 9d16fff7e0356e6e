package main

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"ailb/esl/fssim"
)

func TestReadFrame(t *testing.T) {
	event := "Event-Name: CHANNEL_EXECUTE_COMPLETE\nUnique-ID: u1\nApplication-UUID: app-1\n\n"
	tests := []struct {
		name     string
		wire     string
		wantType string
		wantUUID string
		wantDisp string
		wantBody string
		wantErr  bool
	}{
		{"connect reply", "Event-Name: CHANNEL_DATA\nChannel-Unique-ID: c1\nUnique-ID: u1\nContent-Type: command/reply\nReply-Text: +OK\n\n", "command/reply", "u1", "", "", false},
		{"event", "Content-Length: " + strconv.Itoa(len(event)) + "\nContent-Type: text/event-plain\n\n" + event, "text/event-plain", "", "", event, false},
		{"CRLF reply", "Content-Type: command/reply\r\nReply-Text: +OK\r\n\r\n", "command/reply", "", "", "", false},
		{"linger notice", "Content-Type: text/disconnect-notice\nContent-Disposition: linger\nContent-Length: 0\n\n", "text/disconnect-notice", "", "linger", "", false},
		{"line longer than the buffer is skipped", "Content-Type: command/reply\nvariable_long: " + strings.Repeat("x", 10000) + "\nUnique-ID: u2\n\n", "command/reply", "u2", "", "", false},
		{"bad length", "Content-Length: -3\n\n", "", "", "", "", true},
		{"short body", "Content-Length: 10\n\nabc", "", "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f frame
			err := readFrame(bufio.NewReaderSize(strings.NewReader(tt.wire), 4<<10), &f)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if f.contentType != tt.wantType || f.uuid != tt.wantUUID || f.disposition != tt.wantDisp || string(f.body) != tt.wantBody {
				t.Errorf("frame = %q %q %q %q", f.contentType, f.uuid, f.disposition, f.body)
			}
		})
	}
}

func TestHeaderValue(t *testing.T) {
	body := []byte("Event-Name: CHANNEL_HANGUP\nApplication-UUID-Name: x\nApplication-UUID: a%2Db\nLast: v")
	tests := []struct{ name, want string }{
		{"Event-Name", "CHANNEL_HANGUP"},
		{"Application-UUID", "a%2Db"}, // not the -Name header that comes first
		{"Last", "v"},
		{"Missing", ""},
		{"Event", ""},
	}
	for _, tt := range tests {
		if got := string(headerValue(body, tt.name)); got != tt.want {
			t.Errorf("headerValue(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// The load runner against the raw baseline, on a fast clock: every call is
// bridged, measured and ended; held calls stay up; a busy endpoint leaves
// the raw controller nothing but to hang up, which counts as dropped.
func TestLoadAgainstRaw(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srvCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- serveRaw(srvCtx, ln, "sofia/internal/ai@127.0.0.1") }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serveRaw: %v", err)
		}
	}()

	tests := []struct {
		name    string
		targets []targetSpec
		hold    int
		check   func(t *testing.T, r *report)
	}{
		{"answered", nil, 5, func(t *testing.T, r *report) {
			if r.counts[outAI] != 20 || r.Failures != 0 || r.Setup.N != 20 || r.HoldLost != 0 || r.MaxInProgress < 6 {
				t.Errorf("report: %+v, outcomes %v", r, r.counts)
			}
		}},
		{"busy", []targetSpec{{match: "ai@", kind: fssim.Busy}}, 0, func(t *testing.T, r *report) {
			if r.counts[outDropped] != 20 || r.Failures != 20 || len(r.FailureList) != maxListed || !strings.Contains(r.FailureList[0], "USER_BUSY") {
				t.Errorf("report: %+v, outcomes %v", r, r.counts)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec{Addr: ln.Addr().String(), Calls: 20, Rate: 200, Hold: tt.hold, HoldRate: 500, Talk: 2 * time.Second,
				Scale: 0.02, MaxCall: 30 * time.Second, Targets: buildTargets(tt.targets, 2*time.Second)}
			r, err := runLoad(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			if r.Launched != 20 || r.Generator.CPU <= 0 {
				t.Errorf("launched %d, generator CPU %v", r.Launched, r.Generator.CPU)
			}
			tt.check(t, r)
		})
	}
}
