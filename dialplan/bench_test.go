package dialplan_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkCallSetup measures one call's setup through ailb over real TCP:
// the recorded connect reply in, the setup and the bridge command out, then
// the caller hangs up. The peer is a minimal scripted FreeSWITCH so that
// the figure is ailb's (the simulator would dominate it).
func BenchmarkCallSetup(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("..", "esl", "fssim", "recordings", "raw", "a-bridge-ok.fs2app.raw"))
	if err != nil {
		b.Fatal(err)
	}
	s := string(raw)
	connectReply := strings.Replace(s[:strings.Index(s, "\n\n")+2], "variable_current_application: socket\n",
		"variable_current_application: socket\nvariable_ailb_route: sales\n", 1)
	uuid := "b26cadc3-28b3-479f-b5da-294540e0e9da"
	event := func(name, extra string) string {
		body := "Event-Name: " + name + "\nUnique-ID: " + uuid + "\n" + extra + "\n"
		return fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(body), body)
	}
	hangup := event("CHANNEL_HANGUP", "Hangup-Cause: NORMAL_CLEARING\n") + event("CHANNEL_HANGUP_COMPLETE", "Hangup-Cause: NORMAL_CLEARING\n")
	e := start(b, baseConfig, nil)
	addr := e.sw.Addr
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		br := bufio.NewReader(c)
		readCmd := func() string {
			var sb strings.Builder
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					b.Fatalf("read: %v", err)
				}
				if l == "\n" {
					return sb.String()
				}
				sb.WriteString(l)
			}
		}
		readCmd() // connect
		io.WriteString(c, connectReply)
		for {
			cmd := readCmd()
			if strings.HasPrefix(cmd, "api ") {
				io.WriteString(c, "Content-Type: api/response\nContent-Length: 4\n\n+OK\n")
				continue
			}
			io.WriteString(c, "Content-Type: command/reply\nReply-Text: +OK\n\n")
			if strings.Contains(cmd, "execute-app-name: bridge") {
				break
			}
		}
		io.WriteString(c, hangup)
		readCmd() // exit
		io.WriteString(c, "Content-Type: command/reply\nReply-Text: +OK bye\n\n")
		c.Close()
	}
}
