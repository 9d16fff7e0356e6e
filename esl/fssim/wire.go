package fssim

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Limits of read_packet (mod_event_socket.c).
const (
	maxPacket        = 10 << 20
	maxContentLength = 16 << 20
)

var errContentLength = errors.New("fssim: Content-Length out of range")

// packet is one command from the outbound server.
type packet struct {
	line    string      // the command line, without CR/LF
	headers [][2]string // "Name: value" lines, values not URL-decoded
	body    string
}

func (p *packet) header(name string) (string, bool) {
	for _, h := range p.headers {
		if strings.EqualFold(h[0], name) {
			return h[1], true
		}
	}
	return "", false
}

// readPacket reads one command the way read_packet does: bytes up to two
// line feeds (carriage returns in between are ignored, so LF and CRLF both
// work), leading empty lines skipped, then Content-Length body bytes.
func readPacket(r *bufio.Reader) (*packet, error) {
	var buf []byte
	lf := 0
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if len(buf) == 0 && (b == '\r' || b == '\n') {
			continue
		}
		buf = append(buf, b)
		if b == '\n' {
			lf++
		} else if b != '\r' {
			lf = 0
		}
		if lf == 2 || len(buf) >= maxPacket {
			break
		}
	}
	p := &packet{}
	lines := splitLines(string(buf))
	if len(lines) == 0 {
		return p, nil
	}
	p.line = lines[0]
	for _, ln := range lines[1:] {
		name, value, ok := strings.Cut(ln, ":")
		if !ok || name == "" {
			continue
		}
		value = strings.TrimLeft(value, " ")
		p.headers = append(p.headers, [2]string{name, value})
		if strings.EqualFold(name, "content-length") {
			n, err := strconv.Atoi(strings.TrimSpace(value))
			if err != nil {
				n = atoi(value)
			}
			if n < 0 || n > maxContentLength {
				return nil, errContentLength
			}
			if n > 0 {
				body := make([]byte, n)
				if _, err := io.ReadFull(r, body); err != nil {
					return nil, err
				}
				p.body = string(body)
			}
		}
	}
	return p, nil
}

// splitLines splits on runs of CR/LF.
func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			out = append(out, s)
			break
		}
		if i > 0 {
			out = append(out, s[:i])
		}
		s = s[i:]
		for len(s) > 0 && (s[0] == '\r' || s[0] == '\n') {
			s = s[1:]
		}
	}
	return out
}

// appendReply frames a command/reply. FreeSWITCH writes Reply-Text verbatim
// (not URL-encoded), except the connect reply which is a serialized event.
func appendReply(dst []byte, text string) []byte {
	dst = append(dst, "Content-Type: command/reply\nReply-Text: "...)
	dst = append(dst, text...)
	return append(dst, "\n\n"...)
}

func appendAPI(dst []byte, body string) []byte {
	dst = append(dst, "Content-Type: api/response\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\n\n"...)
	return append(dst, body...)
}

// disconnectBody is send_disconnect's message in listener_run.
const disconnectBody = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

func appendDisconnect(dst []byte, uuid string) []byte {
	dst = append(dst, "Content-Type: text/disconnect-notice\nControlled-Session-UUID: "...)
	dst = append(dst, uuid...)
	dst = append(dst, "\nContent-Disposition: disconnect\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(disconnectBody)), 10)
	dst = append(dst, "\n\n"...)
	return append(dst, disconnectBody...)
}

func appendLinger(dst []byte, uuid, chanName string, linger int) []byte {
	dst = append(dst, "Content-Type: text/disconnect-notice\nControlled-Session-UUID: "...)
	dst = append(dst, uuid...)
	dst = append(dst, "\nContent-Disposition: linger\nChannel-Name: "...)
	dst = append(dst, chanName...)
	dst = append(dst, "\nLinger-Time: "...)
	dst = strconv.AppendInt(dst, int64(linger), 10)
	return append(dst, "\nContent-Length: 0\n\n"...)
}
