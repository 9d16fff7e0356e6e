package esl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unsafe"
)

// Content types FreeSWITCH frames carry.
const (
	TypeReply      = "command/reply"
	TypeAPI        = "api/response"
	TypeEventPlain = "text/event-plain"
	TypeDisconnect = "text/disconnect-notice"
	TypeRude       = "text/rude-rejection"
	TypeAuth       = "auth/request"
	TypeLog        = "log/data"
)

// Limits on what a peer may send. The connect reply of a channel with many
// variables is the largest header block seen in practice (~6-20 KB); events
// are 3-12 KB. Anything far beyond is a broken or hostile peer.
const (
	maxHeaderBlock = 1 << 20
	maxBody        = 16 << 20
)

// ProtocolError is a frame that breaks the ESL framing. The connection
// cannot be trusted after one: the caller closes it.
type ProtocolError struct{ Reason string }

func (e *ProtocolError) Error() string { return "esl protocol: " + e.Reason }

// Frame is one message from FreeSWITCH: a header block and, when the block
// has Content-Length, a body.
type Frame struct {
	Header Headers
	Body   string
}

// Type is the frame's Content-Type.
func (f *Frame) Type() string { return f.Header.Get("Content-Type") }

// Reader splits a FreeSWITCH byte stream into frames.
type Reader struct {
	br  *bufio.Reader
	buf []byte // header block scratch, reused
}

// NewReader reads frames from r. The buffer is small because thousands
// of calls sit idle holding one each; bodies are read past it.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 4<<10)}
}

// SwapScratch replaces the header scratch buffer and returns the old one:
// the connect reply (~6 KB, 160 lines) is read into a large buffer lent
// for that read, so neither growing one line by line nor keeping it for
// the life of an idle call is paid per call.
func (r *Reader) SwapScratch(b []byte) []byte {
	old := r.buf
	r.buf = b[:0]
	return old
}

// Next returns the next frame. Errors are io.EOF (clean end between
// frames), io.ErrUnexpectedEOF, a *ProtocolError, or the read error.
func (r *Reader) Next() (Frame, error) {
	block, err := r.readBlock()
	if err != nil {
		return Frame{}, err
	}
	// A serialized event (the connect reply) keeps its values URL-encoded.
	h := Headers{raw: block, encoded: strings.HasPrefix(block, "Event-Name:")}
	f := Frame{Header: h}
	cl, ok := h.lookupRaw("Content-Length")
	if !ok {
		return f, nil
	}
	n, err := strconv.Atoi(cl)
	if err != nil || n < 0 || n > maxBody {
		return Frame{}, &ProtocolError{Reason: fmt.Sprintf("bad Content-Length %q", truncate(cl, 32))}
	}
	if n == 0 {
		return f, nil
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r.br, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	f.Body = unsafe.String(&body[0], len(body)) // body is never written again
	return f, nil
}

// readBlock reads header lines up to the blank line that ends the block.
// Lines may end in LF (FreeSWITCH) or CRLF; the block is returned with LF.
func (r *Reader) readBlock() (string, error) {
	r.buf = r.buf[:0]
	for {
		line, err := r.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if len(r.buf)+len(line) > maxHeaderBlock {
				return "", &ProtocolError{Reason: "header block too large"}
			}
			r.buf = append(r.buf, line...)
			continue
		}
		if err != nil {
			if err == io.EOF && (len(r.buf) > 0 || len(line) > 0) {
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
		if len(r.buf)+len(line) > maxHeaderBlock {
			return "", &ProtocolError{Reason: "header block too large"}
		}
		r.buf = append(r.buf, line...)
		// Normalise a CRLF ending to LF.
		if n := len(r.buf); n >= 2 && r.buf[n-2] == '\r' {
			r.buf[n-2] = '\n'
			r.buf = r.buf[:n-1]
		}
		n := len(r.buf)
		if n == 1 { // blank line before any header: FreeSWITCH skips these too
			r.buf = r.buf[:0]
			continue
		}
		if n >= 2 && r.buf[n-2] == '\n' && r.buf[n-1] == '\n' {
			return string(r.buf[:n-1]), nil
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
