package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"ailb/esl/fssim"
	"ailb/media"
)

// serveRaw is the floor: per call it reads the connect reply, writes
// linger, myevents, the variables (one uuid_setvar_multi) and the bridge in
// one write, waits for the bridge's completion, hangs up and exits. No
// reply is checked and no event is parsed beyond two headers.
func serveRaw(ctx context.Context, ln net.Listener, endpoint string) error {
	var (
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		wg    sync.WaitGroup
	)
	// Closing the listener ends the accept loop, which closes the calls.
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var err error
	for {
		var c net.Conn
		c, err = ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				err = nil
				break
			}
			// Out of file descriptors and the like: let calls end, retry.
			time.Sleep(5 * time.Millisecond)
			continue
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Go(func() {
			_ = rawCall(c, endpoint)
			c.Close()
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		})
	}
	ln.Close()
	mu.Lock()
	for c := range conns {
		c.Close()
	}
	mu.Unlock()
	wg.Wait()
	return err
}

// frame is one message from FreeSWITCH; body is reused between frames.
type frame struct {
	contentType string
	uuid        string // Unique-ID of the connect reply
	disposition string // Content-Disposition of a disconnect notice
	body        []byte
}

func rawCall(c net.Conn, endpoint string) error {
	// Small: a raw controller holding 5,000 calls should not hold 5,000
	// large buffers. Lines longer than this are skipped (readFrame).
	br := bufio.NewReaderSize(c, 4<<10)
	if _, err := io.WriteString(c, "connect\n\n"); err != nil {
		return err
	}
	var f frame
	if err := readFrame(br, &f); err != nil {
		return err
	}
	if f.uuid == "" {
		return errors.New("connect reply without Unique-ID")
	}
	uuid, appUUID := f.uuid, fssim.NewUUID()
	out := make([]byte, 0, 512)
	out = append(out, "linger "...)
	out = strconv.AppendInt(out, lingerSeconds, 10)
	out = append(out, "\n\nmyevents plain\n\napi uuid_setvar_multi "...)
	out = append(out, uuid...)
	for i, v := range media.ALegVars {
		if i == 0 {
			out = append(out, ' ')
		} else {
			out = append(out, ';')
		}
		out = append(out, v.Name...)
		out = append(out, '=')
		out = append(out, v.Value...)
	}
	out = append(out, "\n\nsendmsg "...)
	out = append(out, uuid...)
	out = append(out, "\ncall-command: execute\nexecute-app-name: bridge\nexecute-app-arg: "...)
	out = append(out, endpoint...)
	out = append(out, "\nevent-lock: true\nEvent-UUID: "...)
	out = append(out, appUUID...)
	out = append(out, "\n\n"...)
	if _, err := c.Write(out); err != nil {
		return err
	}
	for {
		if err := readFrame(br, &f); err != nil {
			return err
		}
		switch f.contentType {
		case "text/event-plain":
		case "text/disconnect-notice":
			if f.disposition != "linger" {
				return nil
			}
			continue
		default:
			continue
		}
		name := headerValue(f.body, "Event-Name")
		if string(name) == "CHANNEL_HANGUP" {
			_, err := io.WriteString(c, "exit\n\n")
			return drain(c, br, err)
		}
		if string(name) == "CHANNEL_EXECUTE_COMPLETE" && string(headerValue(f.body, "Application-UUID")) == appUUID {
			break
		}
	}
	out = append(out[:0], "sendmsg "...)
	out = append(out, uuid...)
	out = append(out, "\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\nexit\n\n"...)
	_, err := c.Write(out)
	return drain(c, br, err)
}

// drain reads until FreeSWITCH closes the socket after exit.
func drain(c net.Conn, br *bufio.Reader, err error) error {
	if err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.Copy(io.Discard, br)
	return err
}

// readFrame reads headers up to an empty line, then Content-Length bytes
// of body.
func readFrame(br *bufio.Reader, f *frame) error {
	f.contentType, f.disposition = "", ""
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A variable longer than the buffer: none of the headers read here.
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			if err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, val, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			continue
		}
		switch string(name) {
		case "Content-Type":
			f.contentType = string(val)
		case "Content-Length":
			if n, err = strconv.Atoi(string(val)); err != nil || n < 0 || n > 16<<20 {
				return fmt.Errorf("Content-Length %q", val)
			}
		case "Content-Disposition":
			f.disposition = string(val)
		case "Unique-ID":
			f.uuid = string(val)
		}
	}
	if cap(f.body) < n {
		f.body = make([]byte, n)
	}
	f.body = f.body[:n]
	_, err := io.ReadFull(br, f.body)
	return err
}

// headerValue is the value of a "Name: value" line of an event body.
func headerValue(body []byte, name string) []byte {
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if len(line) > len(name)+1 && string(line[:len(name)]) == name && line[len(name)] == ':' {
			return bytes.TrimSpace(line[len(name)+1:])
		}
	}
	return nil
}
