package fssim

import "strings"

// variable is one channel variable with its serialized event line cached, so
// rendering an event copies bytes instead of encoding every value again.
type variable struct {
	name  string
	value string
	line  []byte // "variable_<name>: <url-encoded value>\n"
}

// varList keeps channel variables in FreeSWITCH order: setting a variable
// removes it and appends it at the bottom (switch_channel_set_variable), so the
// order of `variable_*` headers in events follows the order of the last sets.
// Names compare case-insensitively, like switch_event headers.
type varList struct {
	list []variable
}

func (v *varList) index(name string) int {
	for i := range v.list {
		if len(v.list[i].name) == len(name) && strings.EqualFold(v.list[i].name, name) {
			return i
		}
	}
	return -1
}

func (v *varList) get(name string) (string, bool) {
	if i := v.index(name); i >= 0 {
		return v.list[i].value, true
	}
	return "", false
}

// set stores value at the bottom; an empty value deletes the variable.
func (v *varList) set(name, value string) {
	v.del(name)
	if value == "" || name == "" {
		return
	}
	v.list = append(v.list, newVariable(name, value))
}

// push adds value the way SWITCH_STACK_PUSH does: a second value turns the
// variable into an array, serialized as "ARRAY::a|:b", in place.
func (v *varList) push(name, value string) {
	i := v.index(name)
	if i < 0 {
		v.set(name, value)
		return
	}
	old := v.list[i].value
	if !strings.HasPrefix(old, "ARRAY::") {
		old = "ARRAY::" + old
	}
	v.list[i] = newVariable(v.list[i].name, old+"|:"+value)
}

func (v *varList) del(name string) {
	if i := v.index(name); i >= 0 {
		v.list = append(v.list[:i], v.list[i+1:]...)
	}
}

func (v *varList) appendLines(dst []byte) []byte {
	for i := range v.list {
		dst = append(dst, v.list[i].line...)
	}
	return dst
}

func (v *varList) toMap() map[string]string {
	m := make(map[string]string, len(v.list))
	for _, x := range v.list {
		m[x.name] = x.value
	}
	return m
}

func newVariable(name, value string) variable {
	line := make([]byte, 0, len(name)+len(value)+16)
	line = append(line, "variable_"...)
	line = append(line, name...)
	line = append(line, ": "...)
	line = appendURLEncode(line, value)
	line = append(line, '\n')
	return variable{name: name, value: value, line: line}
}
