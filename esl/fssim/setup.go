package fssim

import (
	"encoding/hex"
	"math/rand/v2"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
)

// NewUUID returns a random version 4 UUID, as FreeSWITCH makes them.
func NewUUID() string {
	var b [16]byte
	x, y := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i] = byte(x >> (8 * i))
		b[8+i] = byte(y >> (8 * i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// newChannel builds the A-leg of call from the recorded connect reply: the
// recorded variables rewritten for this call's uuid, caller and destination,
// then the dialplan's variables, then what the socket app sets.
func newChannel(sw *Switch, tm *templates, call *Call) *channel {
	base := tm.base
	id := identity{uuid: call.UUID, cidName: call.CallerIDName, cidNum: call.CallerIDNumber,
		dest: call.Destination, context: call.Context}
	if id.uuid == "" {
		id.uuid = NewUUID()
	}
	if id.cidName == "" {
		id.cidName = base.cidName
	}
	if id.cidNum == "" {
		id.cidNum = base.cidNum
	}
	if id.dest == "" {
		id.dest = base.dest
	}
	if id.context == "" {
		id.context = base.context
	}
	c := &channel{
		tm: tm, id: id, full: !sw.NotFull,
		outNotify: make(chan struct{}, 1), wake: make(chan struct{}, 1),
		running: "CS_EXECUTE", stateNum: 4, callState: "RINGING", answer: "ringing", up: true,
		seq:        1000 + rand.Uint64N(1<<20),
		socketUUID: NewUUID(),
	}
	c.enc.uuid = urlEncode(id.uuid)
	c.enc.cidName = urlEncode(id.cidName)
	c.enc.cidNum = urlEncode(id.cidNum)
	c.enc.dest = urlEncode(id.dest)
	c.enc.context = urlEncode(id.context)
	now := time.Now().UnixMicro()
	c.t.created = now

	drop := map[string]bool{"current_application_data": true, "current_application": true, "socket_host": true}
	for _, n := range call.DropVars {
		drop[n] = true
	}
	c.vars.list = make([]variable, 0, 200)
	for _, v := range tm.connectVars {
		if drop[v.name] {
			continue
		}
		val := id.rewrite(v.value, base)
		if v.name == "sip_invite_stamp" {
			val = strconv.FormatInt(now, 10)
		}
		if v.name == "channel_name" {
			c.enc.chanName = urlEncode(val)
		}
		c.vars.list = append(c.vars.list, newVariable(v.name, val))
	}
	if c.enc.chanName == "" {
		c.enc.chanName = urlEncode("sofia/internal/" + id.cidNum + "@127.0.0.1")
	}
	names := make([]string, 0, len(call.Vars))
	for k := range call.Vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		c.vars.set(k, call.Vars[k])
	}
	mode := " async"
	if c.full {
		mode += " full"
	}
	c.socketData = sw.Addr + mode
	if sw.SocketArg != "" {
		c.socketData = sw.SocketArg
	}
	host := sw.Addr
	if h, _, err := net.SplitHostPort(sw.Addr); err == nil {
		host = h
	}
	c.vars.set("current_application_data", c.socketData)
	c.vars.set("current_application", "socket")
	c.vars.set("socket_host", host)
	return c
}

// renderConnect is the connect reply (MES:2023-2047): the CHANNEL_DATA event
// headers, the variables, then the reply headers, all URL-encoded. c.mu held.
func (c *channel) renderConnect(dst []byte, raw []string) []byte {
	c.seq++
	a := &evArgs{now: time.Now().UnixMicro()}
	dst = c.renderLines(dst, c.tm.connectHead, a)
	dst = c.vars.appendLines(dst)
	for _, r := range raw {
		dst = append(dst, strings.TrimRight(r, "\n")...)
		dst = append(dst, '\n')
	}
	dst = c.renderLines(dst, c.tm.connectTail, a)
	return append(dst, '\n')
}
