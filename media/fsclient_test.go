package media_test

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"ailb/esl/fssim"
)

// fsClient speaks to the relay as FreeSWITCH does in the transcripts
// (../shared/fixtures/ws): the upgrade request byte for byte, masked
// frames with FIN set, Close 1000 on hang-up. The bytes come from the
// simulator's modules (fssim), which are checked against the transcripts.

// fsStyle is the module whose client is imitated.
type fsStyle string

const (
	forkStyle   fsStyle = "mod_audio_fork"   // offers audio.drachtio.org, Host without port
	streamStyle fsStyle = "mod_audio_stream" // no subprotocol, no space after the colons
)

// Opcodes.
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

type wsFrame struct {
	op   byte
	data []byte
}

// closeCode reads a Close frame's code and reason.
func (f wsFrame) closeCode() (int, string) { return fssim.ParseClose(f.data) }

type fsClient struct {
	tb          testing.TB
	conn        net.Conn
	Subprotocol string
	Response    string // the 101 response head, verbatim

	wmu        sync.Mutex
	sentClose  bool
	frames     chan wsFrame // every server frame, in order
	quit       chan struct{}
	quitOnce   sync.Once
	readerDone chan struct{}
}

// fsUpgrade sends the upgrade request and reads the answer. It returns
// the HTTP status; on 101 the client is ready.
func fsUpgrade(tb testing.TB, addr, path string, style fsStyle) (*fsClient, int) {
	tb.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	req := fssim.UpgradeRequest(string(style), addr, path, key, false)
	if req == nil {
		tb.Fatalf("no upgrade request for %s %s", addr, path)
	}
	if _, err := conn.Write(req); err != nil {
		tb.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		tb.Fatalf("reading the upgrade answer: %v", err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		_ = conn.Close()
		return nil, resp.StatusCode
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), fssim.WSAccept(key); got != want {
		tb.Fatalf("Sec-WebSocket-Accept %q, want %q", got, want)
	}
	var head strings.Builder
	_ = resp.Header.Write(&head)
	c := &fsClient{
		tb: tb, conn: conn, Subprotocol: resp.Header.Get("Sec-WebSocket-Protocol"),
		Response:   resp.Status + "\r\n" + head.String(),
		frames:     make(chan wsFrame, 4096),
		quit:       make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	go c.read(br)
	return c, resp.StatusCode
}

// connectFS upgrades and fails the test unless it switched protocols.
func connectFS(tb testing.TB, addr, path string, style fsStyle) *fsClient {
	tb.Helper()
	c, status := fsUpgrade(tb, addr, path, style)
	if status != http.StatusSwitchingProtocols {
		tb.Fatalf("upgrade answered %d", status)
	}
	tb.Cleanup(c.shutdown)
	return c
}

// read collects server frames; it answers a server's Close as FreeSWITCH
// does (echo, then end), and ends with the connection.
func (c *fsClient) read(br *bufio.Reader) {
	defer close(c.readerDone)
	defer close(c.frames)
	for {
		f, err := readFrame(br)
		if err != nil {
			return
		}
		switch f.op {
		case opPing:
			_ = c.writeFrame(opPong, f.data)
			continue
		case opClose:
			c.wmu.Lock()
			echo := !c.sentClose
			c.wmu.Unlock()
			if echo {
				_ = c.writeFrame(opClose, f.data[:min(2, len(f.data))])
			}
			c.deliver(f)
			_ = c.conn.Close()
			return
		}
		if !c.deliver(f) {
			return
		}
	}
}

func (c *fsClient) deliver(f wsFrame) bool {
	select {
	case c.frames <- f:
		return true
	case <-c.quit:
		return false
	}
}

// readFrame reads one unmasked server frame, joining continuations.
func readFrame(br *bufio.Reader) (wsFrame, error) {
	var out wsFrame
	for first := true; ; first = false {
		fin, op, data, masked, err := fssim.ReadServerFrame(br)
		if err != nil {
			return out, err
		}
		if masked {
			return out, errors.New("server frame is masked")
		}
		if first {
			out.op = op
		}
		out.data = append(out.data, data...)
		if fin {
			return out, nil
		}
	}
}

// writeFrame writes one masked frame with FIN set, as FreeSWITCH does.
func (c *fsClient) writeFrame(op byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := fssim.AppendClientFrame(make([]byte, 0, 14+len(payload)), op, payload)
	if op == opClose {
		c.sentClose = true
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.conn.Write(b)
	return err
}

func (c *fsClient) text(s string) {
	c.tb.Helper()
	if err := c.writeFrame(opText, []byte(s)); err != nil {
		c.tb.Fatal(err)
	}
}

func (c *fsClient) binary(b []byte) {
	c.tb.Helper()
	if err := c.writeFrame(opBinary, b); err != nil {
		c.tb.Fatal(err)
	}
}

// hangUp sends Close(code, reason) and waits for the relay's echo.
func (c *fsClient) hangUp(code int, reason string) wsFrame {
	c.tb.Helper()
	if err := c.writeFrame(opClose, fssim.ClosePayload(code, reason)); err != nil {
		c.tb.Fatal(err)
	}
	return c.waitFrame(3*time.Second, func(f wsFrame) bool { return f.op == opClose })
}

// next returns the next server frame.
func (c *fsClient) next(timeout time.Duration) (wsFrame, bool) {
	select {
	case f, ok := <-c.frames:
		return f, ok
	case <-time.After(timeout):
		return wsFrame{}, false
	}
}

// waitFrame skips frames until one matches.
func (c *fsClient) waitFrame(timeout time.Duration, match func(wsFrame) bool) wsFrame {
	c.tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f, ok := c.next(time.Until(deadline))
		if !ok {
			c.tb.Fatalf("no matching frame from the relay within %v", timeout)
		}
		if match(f) {
			return f
		}
	}
}

// pace sends L16 audio in frames of size bytes every 20 ms.
func (c *fsClient) pace(pcm []byte, size int) {
	c.tb.Helper()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for off := 0; off < len(pcm); off += size {
		c.binary(pcm[off:min(off+size, len(pcm))])
		<-t.C
	}
}

func (c *fsClient) shutdown() {
	c.quitOnce.Do(func() { close(c.quit) })
	_ = c.conn.Close()
	<-c.readerDone
}

func (f wsFrame) String() string {
	if f.op == opText {
		return fmt.Sprintf("TEXT %s", f.data)
	}
	return fmt.Sprintf("op=%d len=%d", f.op, len(f.data))
}
