package esl

import "strings"

// Headers is one block of "Name: value" lines exactly as FreeSWITCH wrote it.
//
// Nothing is indexed up front: an event carries ~160 headers (every channel
// variable) and a call flow reads a handful of them, so a lookup scans the
// block and decodes only the value asked for.
type Headers struct {
	raw     string // lines, each ending in '\n'
	encoded bool   // values are URL-encoded (events and the connect reply)
}

// Get returns the decoded value of the first header with this exact name,
// or "" when there is none. The value may share memory with the whole
// block: strings.Clone what is kept after the event is dropped.
func (h Headers) Get(name string) string {
	v, _ := h.Lookup(name)
	return v
}

// Lookup is Get that also reports whether the header is present.
func (h Headers) Lookup(name string) (string, bool) {
	v, ok := h.lookupRaw(name)
	if !ok {
		return "", false
	}
	if h.encoded {
		v = unescape(v)
	}
	return v, true
}

// Has reports whether a header with this exact name is present.
func (h Headers) Has(name string) bool {
	_, ok := h.lookupRaw(name)
	return ok
}

// Var returns the channel variable name (the "variable_<name>" header).
func (h Headers) Var(name string) string {
	return h.Get("variable_" + name)
}

// Each calls fn for every header in order until fn returns false.
func (h Headers) Each(fn func(name, value string) bool) {
	rest := h.raw
	for rest != "" {
		line := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		name, value, ok := splitHeader(line)
		if !ok {
			continue
		}
		if h.encoded {
			value = unescape(value)
		}
		if !fn(name, value) {
			return
		}
	}
}

// Len is the size of the block in bytes.
func (h Headers) Len() int { return len(h.raw) }

// String returns the block as received.
func (h Headers) String() string { return h.raw }

func (h Headers) lookupRaw(name string) (string, bool) {
	if name == "" {
		return "", false
	}
	s := h.raw
	for off := 0; off < len(s); {
		i := strings.Index(s[off:], name)
		if i < 0 {
			return "", false
		}
		start := off + i
		end := start + len(name)
		off = end
		if start > 0 && s[start-1] != '\n' {
			continue // the name is the tail of a longer name
		}
		if end >= len(s) || s[end] != ':' {
			continue
		}
		v := s[end+1:]
		if j := strings.IndexByte(v, '\n'); j >= 0 {
			v = v[:j]
		}
		return strings.TrimLeft(v, " "), true
	}
	return "", false
}

func splitHeader(line string) (name, value string, ok bool) {
	i := strings.IndexByte(line, ':')
	if i <= 0 {
		return "", "", false
	}
	return line[:i], strings.TrimLeft(line[i+1:], " "), true
}

// unescape reverses FreeSWITCH's switch_url_encode. It never fails: a '%'
// not followed by two hex digits stays as it is, and '+' is literal.
func unescape(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				i += 2
				continue
			}
		}
		b = append(b, c)
	}
	return string(b)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
