// Package media connects a call to an assistant: SIP dial strings and the
// classification of bridge outcomes.
package media

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Escape makes s safe as a value inside a dial string's {...} block.
//
// FreeSWITCH splits the block on ',' (or a ^^ delimiter), ends it at '}',
// treats quotes and backslashes specially, expands ${var} in the whole
// argument, and opens new legs at ',' and '|' outside the block. Bytes
// outside [A-Za-z0-9-._~:@+*/=] are therefore written as %XX (RFC 3986),
// so caller-supplied text can add no leg, variable or command line.
func Escape(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !safe(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safe(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return string(b)
}

func safe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', ':', '@', '+', '*', '/', '=':
		return true
	}
	return false
}

// Var is one channel variable of a dial string's {...} block.
type Var struct{ Name, Value string }

// DialString builds "{n1=v1,n2=v2}target" with every value escaped. Names
// are ours (validated tokens); target comes from validated config.
func DialString(vars []Var, target string) string {
	var b strings.Builder
	b.Grow(len(target) + 32*len(vars))
	if len(vars) > 0 {
		b.WriteByte('{')
		for i, v := range vars {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(v.Name)
			b.WriteByte('=')
			b.WriteString(Escape(v.Value))
		}
		b.WriteByte('}')
	}
	b.WriteString(target)
	return b.String()
}

// Seconds renders a timeout for originate_timeout/leg_timeout, which take
// whole seconds: rounded up, at least 1.
func Seconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
