package dialplan_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkCallSetup measures one call's setup through ailb over real TCP:
// the recorded connect reply in, the setup and the bridge command out, then
// the caller hangs up. The peer is a minimal scripted FreeSWITCH so that
// the figure is ailb's (the simulator would dominate it): its replies are
// built once and it reads in place, so past its dial it allocates nothing
// per call.
func BenchmarkCallSetup(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("..", "esl", "fssim", "recordings", "raw", "a-bridge-ok.fs2app.raw"))
	if err != nil {
		b.Fatal(err)
	}
	s := string(raw)
	connectReply := []byte(strings.Replace(s[:strings.Index(s, "\n\n")+2], "variable_current_application: socket\n",
		"variable_current_application: socket\nvariable_ailb_route: sales\n", 1))
	uuid := "b26cadc3-28b3-479f-b5da-294540e0e9da"
	event := func(name, extra string) string {
		body := "Event-Name: " + name + "\nUnique-ID: " + uuid + "\n" + extra + "\n"
		return fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(body), body)
	}
	hangup := []byte(event("CHANNEL_HANGUP", "Hangup-Cause: NORMAL_CLEARING\n") + event("CHANNEL_HANGUP_COMPLETE", "Hangup-Cause: NORMAL_CLEARING\n"))
	apiReply := []byte("Content-Type: api/response\nContent-Length: 4\n\n+OK\n")
	okReply := []byte("Content-Type: command/reply\nReply-Text: +OK\n\n")
	byeReply := []byte("Content-Type: command/reply\nReply-Text: +OK bye\n\n")
	apiPrefix, bridgeLine := []byte("api "), []byte("execute-app-name: bridge")

	e := start(b, baseConfig, nil)
	addr := e.sw.Addr
	br := bufio.NewReaderSize(nil, 16<<10)
	// readCmd reads one command in place: is it an api, is it the bridge.
	readCmd := func() (api, bridge bool) {
		for first := true; ; first = false {
			l, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatalf("read: %v", err)
			}
			if len(l) == 1 {
				return api, bridge
			}
			if first {
				api = bytes.HasPrefix(l, apiPrefix)
			}
			bridge = bridge || bytes.HasPrefix(l, bridgeLine)
		}
	}
	write := func(c net.Conn, p []byte) {
		if _, err := c.Write(p); err != nil {
			b.Fatalf("write: %v", err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		br.Reset(c)
		readCmd() // connect
		write(c, connectReply)
		for {
			api, bridge := readCmd()
			if api {
				write(c, apiReply)
				continue
			}
			write(c, okReply)
			if bridge {
				break
			}
		}
		write(c, hangup)
		readCmd() // exit
		write(c, byeReply)
		c.Close()
	}
}
