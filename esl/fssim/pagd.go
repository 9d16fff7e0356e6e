package fssim

import (
	"regexp"
	"strings"
	"time"
)

type readStatus int

const (
	readSuccess readStatus = iota
	readTimeout
	readTooSmall
	readFailed
	readRestart
)

// pagdArgs are play_and_get_digits' arguments: min max tries timeout
// terminators prompt invalid_file var regex digit_timeout transfer_on_failure.
type pagdArgs struct {
	min, max, tries, timeout, digitTimeout int
	terminators, prompt, invalid, varName  string
	regex, transferOnFailure               string
}

func parsePAGD(arg string) pagdArgs {
	argv := separateString(arg, ' ', 11)
	for len(argv) < 11 {
		argv = append(argv, "")
	}
	a := pagdArgs{min: atoi(argv[0]), max: atoi(argv[1]), tries: atoi(argv[2]), timeout: 1000,
		terminators: argv[4], prompt: argv[5], invalid: argv[6], varName: argv[7], regex: argv[8],
		digitTimeout: atoi(argv[9]), transferOnFailure: argv[10]}
	if argv[3] != "" {
		a.timeout = atoi(argv[3])
	}
	a.min = max(a.min, 0)
	a.max = max(a.max, a.min)
	a.timeout = max(a.timeout, 1000)
	if a.terminators == "" {
		a.terminators = "#"
	}
	return a
}

// playAndGetDigits is switch_play_and_get_digits: up to tries rounds of
// prompt + digit collection; a result failing the (unanchored) regex is
// moved to <var>_invalid and the invalid file plays before the next try.
func (s *session) playAndGetDigits(arg string) {
	c := s.c
	a := parsePAGD(arg)
	c.mu.Lock()
	if a.regex != "" && a.varName != "" {
		c.vars.del(a.varName + "_invalid")
	}
	c.digits = nil
	s.armDTMF(time.Now(), true)
	c.mu.Unlock()
	for tries := a.tries; tries > 0; tries-- {
		c.mu.Lock()
		up := c.up && c.transferred == ""
		c.mu.Unlock()
		if !up {
			break
		}
		st, buf := s.read(a)
		if st == readRestart {
			return
		}
		if st == readTimeout && len(buf) >= a.min {
			st = readSuccess
		}
		c.mu.Lock()
		_, termUsed := c.vars.get("read_terminator_used")
		if a.min == 0 && buf == "" && termUsed {
			c.mu.Unlock()
			return
		}
		if st == readSuccess && buf != "" {
			if a.regex == "" || regexMatch(a.regex, buf) {
				c.mu.Unlock()
				return
			}
			c.vars.del(a.varName)
			if a.varName != "" {
				c.vars.set(a.varName+"_invalid", buf)
			}
		}
		up = c.up && c.transferred == ""
		c.mu.Unlock()
		if !up {
			break
		}
		if a.invalid != "" {
			// Played without input arguments: digits stay queued for the
			// next try.
			s.play(a.invalid, waitOpts{nest: true, keepDigits: true}, false)
		}
	}
	if a.transferOnFailure != "" {
		t := separateString(a.transferOnFailure, ' ', 4)
		for len(t) < 3 {
			t = append(t, "")
		}
		c.mu.Lock()
		c.transfer(t[0], t[1], t[2])
		c.mu.Unlock()
	}
}

// regexMatch is switch_regex_match: unanchored; a bad pattern never matches.
func regexMatch(expr, s string) bool {
	re, err := regexp.Compile(expr)
	return err == nil && re.MatchString(s)
}

// read is switch_ivr_read: the prompt (a digit stops it and counts), then
// digits until max, a terminator or a timeout; it sets read_result,
// read_terminator_used and the variable.
func (s *session) read(a pagdArgs) (readStatus, string) {
	c := s.c
	digitTimeout := a.digitTimeout
	if digitTimeout == 0 {
		digitTimeout = a.timeout
	}
	termRequired := strings.HasPrefix(a.terminators, "=")
	c.mu.Lock()
	c.vars.del("read_result")
	if a.varName != "" {
		c.vars.del(a.varName)
	}
	c.mu.Unlock()
	buf := ""
	st := readSuccess
	var tb byte
	if a.prompt != "" && !strings.EqualFold(a.prompt, "silence") {
		resp, d := s.play(a.prompt, waitOpts{nest: true, digits: true}, false)
		if resp != "FILE PLAYED" {
			return s.readEnd(a, readFailed, buf)
		}
		if d != 0 {
			c.mu.Lock()
			if len(c.digits) > 0 {
				buf += string(c.digits[0])
				c.digits = c.digits[1:]
			}
			c.mu.Unlock()
		}
	}
	if (a.min > 0 && len(buf) < a.min) || len(buf) < a.max {
		first := a.timeout
		if len(buf) > 0 {
			first = digitTimeout
		}
		st, tb, buf = s.collect(buf, a.max, a.terminators, first, digitTimeout)
	}
	if tb != 0 {
		c.mu.Lock()
		c.vars.set("read_terminator_used", string(tb))
		c.mu.Unlock()
		if p := strings.IndexByte(a.terminators, tb); p >= 1 && (a.terminators[p-1] == '+' || a.terminators[p-1] == 'x') {
			buf += string(tb)
			if a.terminators[p-1] == 'x' {
				st = readRestart
			}
		}
	} else if termRequired {
		st = readTooSmall
	}
	if a.min > 0 && len(buf) < a.min {
		st = readTooSmall
	}
	c.mu.Lock()
	switch st {
	case readSuccess:
		c.vars.set("read_result", "success")
	case readTimeout:
		c.vars.set("read_result", "timeout")
	default:
		c.vars.set("read_result", "failure")
	}
	c.mu.Unlock()
	return s.readEnd(a, st, buf)
}

func (s *session) readEnd(a pagdArgs, st readStatus, buf string) (readStatus, string) {
	if st != readRestart && a.max == 1 && len(buf) == 1 && strings.IndexByte(a.terminators, buf[0]) >= 0 {
		buf = ""
	}
	if a.varName != "" && buf != "" {
		s.withLock(func() { s.c.vars.set(a.varName, buf) })
	}
	return st, buf
}

// collect is switch_ivr_collect_digits_count: first timeout until the first
// digit, then the digit timeout between digits.
func (s *session) collect(buf string, maxDigits int, terminators string, first, digitTimeout int) (readStatus, byte, string) {
	c := s.c
	for i := 0; i < len(buf); i++ {
		if strings.IndexByte(terminators, buf[i]) >= 0 {
			return readSuccess, buf[i], buf[:i]
		}
	}
	if len(buf) >= maxDigits {
		return readFailed, 0, buf
	}
	eff := first
	started := time.Now()
	for {
		deadline := started.Add(s.sw.scaled(time.Duration(eff) * time.Millisecond))
		switch s.wait(deadline, waitOpts{nest: true, digits: true}) {
		case wDigit:
			c.mu.Lock()
			for len(c.digits) > 0 {
				d := c.digits[0]
				c.digits = c.digits[1:]
				if strings.IndexByte(terminators, d) >= 0 {
					c.mu.Unlock()
					return readSuccess, d, buf
				}
				buf += string(d)
				if len(buf) >= maxDigits {
					c.mu.Unlock()
					return readSuccess, 0, buf
				}
			}
			c.mu.Unlock()
			eff, started = digitTimeout, time.Now()
		case wDeadline:
			return readTimeout, 0, buf
		case wBreak, wLeg:
		default:
			return readFailed, 0, buf
		}
	}
}
