package fssim

import "strings"

// api runs an `api` command the way mod_commands answers it; apiCmd is the
// text after "api ". Unknown commands answer like api_exec does.
func (l *listener) api(apiCmd string) string {
	name, arg, _ := strings.Cut(apiCmd, " ")
	out, ok := l.apiExec(name, arg)
	if !ok {
		return "-ERR " + name + " Command not found!\n"
	}
	if out == "" {
		return "-ERR no reply\n"
	}
	return out
}

func (l *listener) apiExec(name, arg string) (string, bool) {
	c, s := l.c, l.s
	switch strings.ToLower(name) {
	case "uuid_setvar":
		argv := separateString(arg, ' ', 3)
		if (len(argv) != 2 && len(argv) != 3) || argv[0] == "" {
			return "-USAGE: <uuid> <var> [value]\n", true
		}
		if !l.isOurs(argv[0]) {
			return "-ERR No such channel!\n", true
		}
		if argv[1] == "" {
			return "-ERR No variable specified\n", true
		}
		val := ""
		if len(argv) == 3 {
			val = argv[2]
		}
		c.mu.Lock()
		c.vars.set(argv[1], val)
		c.mu.Unlock()
		return "+OK\n", true
	case "uuid_setvar_multi":
		uuid, vars, ok := strings.Cut(arg, " ")
		if !ok {
			return "-USAGE: <uuid> <var>=<value>;<var>=<value>...\n", true
		}
		if !l.isOurs(uuid) {
			return "-ERR No such channel!\n-USAGE: <uuid> <var>=<value>;<var>=<value>...\n", true
		}
		var out strings.Builder
		n := 0
		c.mu.Lock()
		for _, kv := range separateString(vars, ';', 64) {
			k, v, _ := strings.Cut(kv, "=")
			if k == "" {
				out.WriteString("-ERR No variable specified\n")
				continue
			}
			c.vars.set(k, v)
			n++
		}
		c.mu.Unlock()
		if n > 0 {
			return out.String() + "+OK\n", true
		}
		return out.String() + "-USAGE: <uuid> <var>=<value>;<var>=<value>...\n", true
	case "uuid_getvar":
		argv := separateString(arg, ' ', 4)
		if len(argv) < 2 || argv[0] == "" {
			return "-USAGE: <uuid> <var>\n", true
		}
		if !l.isOurs(argv[0]) {
			return "-ERR No such channel!\n", true
		}
		if argv[1] == "" {
			return "-ERR No variable name specified!\n", true
		}
		c.mu.Lock()
		v, ok := c.getVar(argv[1])
		c.mu.Unlock()
		if !ok {
			return "_undef_", true
		}
		return v, true
	case "uuid_exists":
		if l.isOurs(arg) || s.legAliveLocking(arg) {
			return "true", true
		}
		return "false", true
	case "uuid_kill":
		if arg == "" {
			return "-USAGE: <uuid> [cause]\n", true
		}
		uuid, cause, _ := strings.Cut(arg, " ")
		c.mu.Lock()
		defer c.mu.Unlock()
		if uuid == c.id.uuid {
			c.hangup(causeName(cause), "app", false)
			return "+OK\n", true
		}
		if s.legAlive(uuid) {
			s.killLegLocked(uuid, cause)
			return "+OK\n", true
		}
		return "-ERR No such channel!\n", true
	case "uuid_break":
		if arg == "" {
			return "-USAGE: <uuid> [all]\n", true
		}
		uuid, flag, _ := strings.Cut(arg, " ")
		if !l.isOurs(uuid) {
			if s.legAliveLocking(uuid) {
				return "+OK\n", true
			}
			return "-ERR No such channel!\n", true
		}
		c.mu.Lock()
		if strings.Contains(flag, "all") {
			c.breakReq = 2
			c.queue = nil
		} else if c.breakReq == 0 {
			c.breakReq = 1
		}
		c.mu.Unlock()
		c.poke()
		return "+OK\n", true
	case "uuid_audio_fork":
		return l.audioAPI(forkMod, arg), true
	case "uuid_audio_stream":
		return l.audioAPI(streamMod, arg), true
	case "uuid_transfer":
		argv := separateString(arg, ' ', 5)
		if len(argv) < 2 {
			return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n", true
		}
		if !l.isOurs(argv[0]) {
			return "-ERR No such channel!\n", true
		}
		dest := argv[1:]
		if strings.HasPrefix(dest[0], "-") {
			dest = dest[1:]
		}
		for len(dest) < 3 {
			dest = append(dest, "")
		}
		c.mu.Lock()
		ok := c.up && c.transfer(dest[0], dest[1], dest[2])
		c.mu.Unlock()
		c.poke()
		if !ok {
			return "-ERR\n", true
		}
		return "+OK\n", true
	}
	return "", false
}

func (l *listener) isOurs(uuid string) bool {
	return uuid == l.c.id.uuid
}

// bgapi answers at once with the Job-UUID and sends the output later as a
// BACKGROUND_JOB event owned by this channel (MES:2331-2389, 1577-1589).
func (l *listener) bgapi(apiCmd string, p *packet) {
	job, ok := p.header("job-uuid")
	if !ok || job == "" {
		job = NewUUID()
	}
	l.writeReply("~Reply-Text: +OK Job-UUID: " + job + "\nJob-UUID: " + job + "\n\n")
	name, arg, _ := strings.Cut(apiCmd, " ")
	out := l.api(apiCmd)
	c := l.c
	c.mu.Lock()
	c.fire(evBackgroundJob, &evArgs{jobUUID: job, jobCmd: name, jobArg: arg, body: out})
	c.mu.Unlock()
}
