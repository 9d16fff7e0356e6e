package fssim

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
)

// The client side of RFC 6455 as the two modules speak it: the upgrade
// request byte for byte as recorded, masked frames with FIN set, no
// extensions. Server frames are read as they come (fragments joined,
// control frames answered by the caller).

// WebSocket opcodes.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// forkSubprotocol is what mod_audio_fork offers (MOD_AUDIO_FORK_SUBPROTOCOL_NAME unset).
const forkSubprotocol = "audio.drachtio.org"

// maxServerFrame bounds one frame (and one message) from the server.
const maxServerFrame = 16 << 20

// wsKey returns a fresh Sec-WebSocket-Key.
func wsKey() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return base64.StdEncoding.EncodeToString(b[:])
}

// WSAccept is the Sec-WebSocket-Accept a server must answer for key.
func WSAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// forkRequest is libwebsockets' upgrade as mod_audio_fork sends it
// (transcripts a..f): Host without the port, Origin from the host, the
// drachtio subprotocol.
func forkRequest(host, path, key string, tls bool) []byte {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	var b strings.Builder
	b.WriteString("GET " + path + " HTTP/1.1\r\n")
	b.WriteString("Pragma: no-cache\r\n")
	b.WriteString("Cache-Control: no-cache\r\n")
	b.WriteString("Host: " + host + "\r\n")
	b.WriteString("Origin: " + scheme + "://" + host + "\r\n")
	b.WriteString("Upgrade: websocket\r\n")
	b.WriteString("Connection: Upgrade\r\n")
	b.WriteString("Sec-WebSocket-Key: " + key + "\r\n")
	b.WriteString("Sec-WebSocket-Protocol: " + forkSubprotocol + "\r\n")
	b.WriteString("Sec-WebSocket-Version: 13\r\n\r\n")
	return []byte(b.String())
}

// UpgradeRequest is the upgrade request module ("mod_audio_fork" or
// "mod_audio_stream") writes for ws://hostport/path (wss:// with tls),
// byte for byte as recorded; nil for another module or a bad URL.
func UpgradeRequest(module, hostport, path, key string, tls bool) []byte {
	cfg := streamCfg{}
	switch module {
	case forkMod.name:
		cfg.mod = forkMod
	case streamMod.name:
		cfg.mod = streamMod
	default:
		return nil
	}
	scheme := "ws://"
	if tls {
		scheme = "wss://"
	}
	if !cfg.parseURL(scheme + hostport + path) {
		return nil
	}
	if cfg.mod == forkMod {
		return forkRequest(cfg.host, cfg.path, key, cfg.tls)
	}
	return streamRequest(cfg.hostport, cfg.path, key, cfg.tls)
}

// streamRequest is mod_audio_stream's upgrade (transcripts as-*): no space
// after the colons, Host and Origin with the port as written in the URL,
// lowercase "upgrade", no subprotocol.
func streamRequest(hostport, path, key string, tls bool) []byte {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	var b strings.Builder
	b.WriteString("GET " + path + " HTTP/1.1\r\n")
	b.WriteString("Host:" + hostport + "\r\n")
	b.WriteString("Upgrade:websocket\r\n")
	b.WriteString("Connection:upgrade\r\n")
	b.WriteString("Sec-WebSocket-Key:" + key + "\r\n")
	b.WriteString("Sec-WebSocket-Version:13\r\n")
	b.WriteString("Origin:" + scheme + "://" + hostport + "\r\n\r\n")
	return []byte(b.String())
}

// wsResponse is the server's answer to the upgrade.
type wsResponse struct {
	status   int
	protocol string // Sec-WebSocket-Protocol, "" if absent
}

// errHandshake is a refused upgrade; its text is what the module reports.
type errHandshake struct{ reason string }

func (e *errHandshake) Error() string { return e.reason }

// readUpgrade reads the response head and checks it the way the client
// library does: 101, Upgrade websocket, Connection upgrade, the accept
// hash, and a subprotocol that is absent or one offered (libwebsockets
// takes a missing one; another one fails the connection).
func readUpgrade(br *bufio.Reader, key, offered string) (wsResponse, error) {
	var r wsResponse
	line, err := readLine(br)
	if err != nil {
		return r, err
	}
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	r.status, _ = strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/1.") || r.status == 0 {
		return r, &errHandshake{"HS: bad response line"}
	}
	hdr := map[string]string{}
	for n := 0; ; n++ {
		line, err := readLine(br)
		if err != nil {
			return r, err
		}
		if line == "" {
			break
		}
		if n > 100 {
			return r, &errHandshake{"HS: too many headers"}
		}
		k, v, _ := strings.Cut(line, ":")
		hdr[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	r.protocol = hdr["sec-websocket-protocol"]
	switch {
	case r.status == 401:
		return r, &errHandshake{"HS: ws upgrade unauthorized"}
	case r.status != 101:
		return r, &errHandshake{"HS: ws upgrade response not 101"}
	case !strings.EqualFold(hdr["upgrade"], "websocket"):
		return r, &errHandshake{"HS: Upgrade to something other than websocket"}
	case !containsToken(hdr["connection"], "upgrade"):
		return r, &errHandshake{"HS: UPGRADE malformed"}
	case hdr["sec-websocket-accept"] != WSAccept(key):
		return r, &errHandshake{"HS: Accept hash wrong"}
	case r.protocol != "" && r.protocol != offered:
		return r, &errHandshake{"HS: PROTOCOL malformed"}
	}
	return r, nil
}

func containsToken(v, tok string) bool {
	for _, f := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(f), tok) {
			return true
		}
	}
	return false
}

// readLine reads one CRLF (or LF) terminated header line of at most 8 KB.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := br.ReadSlice('\n')
		b = append(b, frag...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
		if len(b) > 8<<10 {
			return "", &errHandshake{"HS: header too long"}
		}
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// AppendClientFrame appends one frame as the modules write it: FIN set,
// RSV clear, masked with a fresh key (RFC 6455 5.3).
func AppendClientFrame(dst []byte, op byte, payload []byte) []byte {
	dst = append(dst, 0x80|op)
	n := len(payload)
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	mask := rand.Uint32()
	var m [4]byte
	binary.LittleEndian.PutUint32(m[:], mask)
	dst = append(dst, m[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	maskBytes(dst[start:], m)
	return dst
}

// maskBytes XORs b with the repeating key, eight bytes at a time.
func maskBytes(b []byte, key [4]byte) {
	k32 := uint64(binary.LittleEndian.Uint32(key[:]))
	k64 := k32 | k32<<32
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k64)
	}
	for ; i < len(b); i++ {
		b[i] ^= key[i&3]
	}
}

// ClosePayload is a Close frame's body: the code, then the reason.
func ClosePayload(code int, reason string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(code))
	return append(b, reason...)
}

// ParseClose splits a Close body (code 1005 when it has none).
func ParseClose(p []byte) (int, string) {
	if len(p) < 2 {
		return 1005, ""
	}
	return int(binary.BigEndian.Uint16(p)), string(p[2:])
}

// ReadServerFrame reads one server frame as the modules do (RSV bits and
// frames over 16 MB refused, a masked payload unmasked) and reports
// whether it was masked, which a server must not do.
func ReadServerFrame(br *bufio.Reader) (fin bool, op byte, payload []byte, masked bool, err error) {
	if h, err := br.Peek(2); err == nil {
		masked = h[1]&0x80 != 0
	}
	fin, op, payload, err = readFrame(br, nil)
	return fin, op, payload, masked, err
}

// readFrame reads one server frame into buf (reused when large enough).
func readFrame(br *bufio.Reader, buf []byte) (fin bool, op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(br, h[:]); err != nil {
		return
	}
	fin, op = h[0]&0x80 != 0, h[0]&0x0F
	if h[0]&0x70 != 0 {
		return false, 0, nil, fmt.Errorf("RSV bits set in a server frame")
	}
	masked := h[1]&0x80 != 0
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var e [2]byte
		if _, err = io.ReadFull(br, e[:]); err != nil {
			return
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err = io.ReadFull(br, e[:]); err != nil {
			return
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	if n > maxServerFrame {
		return false, 0, nil, fmt.Errorf("server frame of %d bytes", n)
	}
	var key [4]byte
	if masked {
		if _, err = io.ReadFull(br, key[:]); err != nil {
			return
		}
	}
	if uint64(cap(buf)) >= n {
		payload = buf[:n]
	} else {
		payload = make([]byte, n)
	}
	if _, err = io.ReadFull(br, payload); err != nil {
		return
	}
	if masked {
		maskBytes(payload, key)
	}
	return fin, op, payload, nil
}
