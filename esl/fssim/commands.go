package fssim

import (
	"context"
	"strconv"
	"strings"
	"time"
)

const errNotFound = "-ERR command not found"

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// command handles one packet in the order of parse_command
// (mod_event_socket.c): exit, filter, resume, connect, getvar, myevents,
// divert_events, sendmsg, then the full gate, then the rest. It returns the
// Reply-Text; send is false when the command wrote its own answer.
func (l *listener) command(ctx context.Context, p *packet) (reply string, send bool) {
	cmd := p.line
	c := l.c
	switch {
	case hasPrefixFold(cmd, "exit"), strings.HasPrefix(cmd, "..."):
		l.exit = true
		return "+OK bye", true
	case hasPrefixFold(cmd, "filter "):
		return l.filterCmd(cmd[7:]), true
	case hasPrefixFold(cmd, "resume"):
		c.mu.Lock()
		c.vars.set("socket_resume", "true")
		c.mu.Unlock()
		return "+OK", true
	case hasPrefixFold(cmd, "connect"):
		l.connect(ctx)
		return "", false
	case hasPrefixFold(cmd, "getvar"):
		_, name, ok := strings.Cut(cmd, " ")
		if !ok {
			return errNotFound, true
		}
		c.mu.Lock()
		v, _ := c.getVar(name)
		c.mu.Unlock()
		if v == "" {
			return errNotFound, true
		}
		return v, true
	case hasPrefixFold(cmd, "myevents"):
		return l.myevents(cmd), true
	case hasPrefixFold(cmd, "divert_events"):
		v := strings.TrimLeft(cmd[len("divert_events"):], " ")
		switch {
		case v == "":
			return "-ERR missing value.", true
		case strings.EqualFold(v, "on"):
			return "+OK events diverted", true
		default:
			return "+OK events not diverted", true
		}
	case hasPrefixFold(cmd, "sendmsg"):
		return l.sendmsg(p), true
	}
	if !c.full {
		// if (OUTBOUND && !FULL) goto done;
		return errNotFound, true
	}
	switch {
	case hasPrefixFold(cmd, "sendevent"):
		return "+OK " + NewUUID(), true
	case hasPrefixFold(cmd, "api "):
		l.writeAPI(l.api(cmd[4:]))
		return "", false
	case hasPrefixFold(cmd, "bgapi "):
		l.bgapi(cmd[6:], p)
		return "", false
	case hasPrefixFold(cmd, "log"):
		reply, ok := logLevelReply(cmd[3:])
		l.logging = l.logging || ok
		return reply, true
	case hasPrefixFold(cmd, "linger"):
		c.mu.Lock()
		defer c.mu.Unlock()
		secs := -1
		if len(cmd) > 6 && cmd[6] == ' ' {
			secs = atoi(cmd[7:])
		}
		c.lingerOn, c.linger = true, secs
		if secs == -1 {
			return "+OK will linger", true
		}
		return "+OK will linger " + strconv.Itoa(secs) + " seconds", true
	case hasPrefixFold(cmd, "nolinger"):
		c.mu.Lock()
		c.lingerOn = false
		c.mu.Unlock()
		return "+OK will not linger", true
	case hasPrefixFold(cmd, "nolog"):
		if !l.logging {
			return "-ERR not loging", true
		}
		l.logging = false
		return "+OK no longer logging", true
	case hasPrefixFold(cmd, "event"):
		return l.event(cmd[5:]), true
	case hasPrefixFold(cmd, "nixevent"):
		return l.nixevent(cmd[8:]), true
	case hasPrefixFold(cmd, "noevents"):
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.sub.on {
			return "-ERR not listening for events", true
		}
		c.sub.on = false
		c.sub.list = [numEventTypes]bool{}
		c.sub.custom = nil
		c.sub.allCustom = false
		return "+OK no longer listening for events", true
	}
	return errNotFound, true
}

// connect writes the CHANNEL_DATA reply and parks the channel.
func (l *listener) connect(ctx context.Context) {
	c := l.c
	c.mu.Lock()
	buf := c.renderConnect(l.writeBuf[:0], l.call.RawVarLines)
	first := !c.connected
	c.connected = true
	c.mu.Unlock()
	l.writeBuf = buf
	if l.res.ConnectReplyAt.IsZero() {
		// Before the write: a fast server may answer before Write returns.
		l.res.ConnectReplyAt = time.Now()
	}
	l.write(buf, "reply", "", "+OK\n")
	if first && len(l.call.Garbage) > 0 && !l.writeErr {
		if _, err := l.conn.Write(l.call.Garbage); err != nil {
			l.writeErr = true
		}
	}
	if first {
		l.s.connectedAt = l.res.ConnectReplyAt
		l.startSession(ctx)
	}
}

func (l *listener) filterCmd(arg string) string {
	arg = strings.TrimLeft(arg, " ")
	name, val, hasVal := strings.Cut(arg, " ")
	c := l.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if strings.EqualFold(name, "delete") && hasVal {
		name, val, hasVal = strings.Cut(val, " ")
		if strings.EqualFold(name, "all") {
			c.sub.filters = nil
		} else {
			kept := c.sub.filters[:0]
			for _, f := range c.sub.filters {
				if strings.EqualFold(f.header, name) && (!hasVal || f.value == val) {
					continue
				}
				kept = append(kept, f)
			}
			c.sub.filters = kept
		}
		return "+OK filter deleted. [" + name + "][" + val + "]"
	}
	if !hasVal {
		return "-ERR invalid syntax"
	}
	if strings.EqualFold(name, "add") {
		name, val, _ = strings.Cut(val, " ")
	}
	c.sub.filters = append(c.sub.filters, newFilter(name, val))
	return "+OK filter added. [" + name + "]=[" + val + "]"
}

func (l *listener) myevents(cmd string) string {
	c := l.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sub.my {
		return "-ERR aready enabled."
	}
	for _, n := range myEventsList {
		if t, ok := nameEvent(n); ok {
			c.sub.list[t] = true
		}
	}
	c.sub.my, c.sub.on = true, true
	if strings.Contains(cmd, "xml") || strings.Contains(cmd, "XML") {
		c.sub.format = "xml"
	}
	if strings.Contains(cmd, "json") || strings.Contains(cmd, "JSON") {
		c.sub.format = "json"
	}
	return "+OK Events Enabled"
}

func (l *listener) event(rest string) string {
	c := l.c
	c.mu.Lock()
	defer c.mu.Unlock()
	_, args, ok := strings.Cut(rest, " ")
	keys := 0
	custom := false
	if ok {
		for i, tok := range strings.Split(args, " ") {
			if i == 0 {
				switch strings.ToLower(tok) {
				case "xml", "plain", "json":
					c.sub.format = strings.ToLower(tok)
					continue
				}
			}
			if custom {
				if c.sub.custom == nil {
					c.sub.custom = map[string]bool{}
				}
				c.sub.custom[tok] = true
				continue
			}
			t, ok := nameEvent(tok)
			if !ok {
				continue
			}
			keys++
			if t == evAll {
				for x := range c.sub.list {
					c.sub.list[x] = true
				}
				c.sub.allCustom = true
			}
			c.sub.list[t] = true
			if t == evCustom {
				custom = true
			}
		}
	}
	if keys == 0 {
		return "-ERR no keywords supplied"
	}
	c.sub.on = true
	return "+OK event listener enabled " + c.sub.formatName()
}

func (l *listener) nixevent(rest string) string {
	c := l.c
	c.mu.Lock()
	defer c.mu.Unlock()
	_, args, ok := strings.Cut(rest, " ")
	keys := 0
	custom := false
	if ok {
		for _, tok := range strings.Split(args, " ") {
			if custom {
				delete(c.sub.custom, tok)
				continue
			}
			t, ok := nameEvent(tok)
			if !ok {
				continue
			}
			keys++
			switch {
			case t == evCustom:
				custom = true
			case t == evAll:
				c.sub.list = [numEventTypes]bool{}
			default:
				if c.sub.list[evAll] {
					for x := range c.sub.list {
						c.sub.list[x] = true
					}
					c.sub.list[evAll] = false
				}
				c.sub.list[t] = false
			}
		}
	}
	if keys == 0 {
		return "-ERR no keywords supplied"
	}
	c.sub.on = true
	return "+OK events nixed"
}

func (s *subscription) formatName() string {
	if s.format == "" {
		return "plain"
	}
	return s.format
}

// logLevelReply answers `log [level]`; the simulator has no log lines to send.
func logLevelReply(arg string) (string, bool) {
	arg = strings.TrimLeft(arg, " ")
	level, _, _ := strings.Cut(arg, " ")
	n := 7
	if level != "" {
		n = logLevel(level)
	}
	if n < 0 {
		return "-ERR invalid log level", false
	}
	return "+OK log level " + level + " [" + strconv.Itoa(n) + "]", true
}

// logLevel is switch_log_str2level.
func logLevel(s string) int {
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		if n := atoi(s); n <= 7 {
			return n
		}
		return -1
	}
	for i, n := range []string{"console", "alert", "crit", "err", "warning", "notice", "info", "debug"} {
		if strings.EqualFold(s, n) || (n == "err" && strings.EqualFold(s, "error")) {
			return i
		}
	}
	return -1
}

// sendmsg queues a message on the channel's private queue (async mode
// answers +OK at once, MES:2208).
func (l *listener) sendmsg(p *packet) string {
	c := l.c
	uuid := strings.TrimLeft(p.line[len("sendmsg"):], " ")
	if uuid == "" {
		uuid, _ = p.header("session-id")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if uuid != "" && uuid != c.id.uuid {
		if l.s.legAlive(uuid) {
			if cmd, _ := p.header("call-command"); strings.EqualFold(cmd, "hangup") {
				cause, _ := p.header("hangup-cause")
				l.s.killLegLocked(uuid, cause)
			}
			return "+OK"
		}
		return "-ERR invalid session id [" + uuid + "]"
	}
	c.queue = append(c.queue, newMessage(p))
	c.poke()
	return "+OK"
}
