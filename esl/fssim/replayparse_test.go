package fssim

// The replay tests read what the simulator wrote with this parser, written
// apart from the simulator's own rendering so a bug cannot check itself.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// wireMsg is one FS->APP message as seen on the wire.
type wireMsg struct {
	kind    string            // reply, api, event, notice
	head    []string          // header names in order (of the event body for events)
	headRaw map[string]string // raw header values (first occurrence)
	ev      map[string]string // decoded event body headers (first occurrence)
	evNames []string          // event body header names in order
	body    []byte
	size    int // bytes of the whole message
}

func (m wireMsg) name() string {
	switch m.kind {
	case "event":
		return m.ev["Event-Name"]
	case "reply":
		return "reply:" + m.headRaw["Reply-Text"]
	case "api":
		return "api:" + string(m.body)
	default:
		return "notice:" + m.headRaw["Content-Disposition"]
	}
}

// readWireMsg reads one message: header lines to an empty line, then
// Content-Length bytes of body.
func readWireMsg(r *bufio.Reader) (wireMsg, error) {
	m := wireMsg{headRaw: map[string]string{}}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if err == io.EOF && line == "" && len(m.head) == 0 {
				return m, io.EOF
			}
			return m, fmt.Errorf("partial header block %q: %w", line, err)
		}
		m.size += len(line)
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if len(m.head) == 0 {
				continue
			}
			break
		}
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			return m, fmt.Errorf("bad header line %q", line)
		}
		m.head = append(m.head, k)
		if _, dup := m.headRaw[k]; !dup {
			m.headRaw[k] = v
		}
	}
	if cl := m.headRaw["Content-Length"]; cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil {
			return m, err
		}
		m.body = make([]byte, n)
		if _, err := io.ReadFull(r, m.body); err != nil {
			return m, err
		}
		m.size += n
	}
	switch m.headRaw["Content-Type"] {
	case "command/reply":
		m.kind = "reply"
	case "api/response":
		m.kind = "api"
	case "text/event-plain":
		m.kind = "event"
		m.ev = map[string]string{}
		for _, line := range strings.Split(string(m.body), "\n") {
			if line == "" {
				continue
			}
			k, v, _ := strings.Cut(line, ": ")
			m.evNames = append(m.evNames, k)
			if _, dup := m.ev[k]; !dup {
				dv, err := url.PathUnescape(v)
				if err != nil {
					dv = v
				}
				m.ev[k] = dv
			}
		}
	case "text/disconnect-notice":
		m.kind = "notice"
	default:
		return m, fmt.Errorf("unknown Content-Type %q", m.headRaw["Content-Type"])
	}
	return m, nil
}

func readAllWire(data []byte) ([]wireMsg, error) {
	r := bufio.NewReader(bytes.NewReader(data))
	var out []wireMsg
	for {
		m, err := readWireMsg(r)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

// step is one line of a transcript's decoded sequence.
type step struct {
	fs   bool // FS->APP message (else an APP->FS command or close)
	park bool
	eof  bool // APP->FS closed its side
}

// readSteps reads the "Decoded message sequence" of recordings/NAME.txt.
func readSteps(name string) ([]step, error) {
	data, err := os.ReadFile(filepath.Join("recordings", name+".txt"))
	if err != nil {
		return nil, err
	}
	var out []step
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "#   +") {
			continue
		}
		switch {
		case strings.Contains(line, "FS->APP EOF"), strings.Contains(line, "both directions closed"):
		case strings.Contains(line, " FS->APP "):
			out = append(out, step{fs: true, park: strings.Contains(line, "event CHANNEL_PARK")})
		case strings.Contains(line, "APP->FS EOF"), strings.Contains(line, "APP->FS read error"):
			out = append(out, step{eof: true})
		case strings.Contains(line, " APP->FS "):
			out = append(out, step{})
		}
	}
	return out, nil
}

// splitCommands splits the recorded APP->FS bytes into commands (CRLF
// framing, as the recording's client wrote them).
func splitCommands(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		i := bytes.Index(data, []byte("\r\n\r\n"))
		if i < 0 {
			out = append(out, data)
			break
		}
		out = append(out, data[:i+4])
		data = data[i+4:]
	}
	return out
}
