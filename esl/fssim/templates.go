package fssim

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// The transcripts recorded from a real FreeSWITCH are the source of every
// message the simulator writes: header names, their order, the literal values
// (hostnames, codecs, calling file/function/line) and the variable values.
//
//go:embed recordings
var recordings embed.FS

// baseScenario is the richest transcript: its connect reply seeds every call
// and its CHANNEL_HANGUP carries the full channel block (callee, other leg).
const baseScenario = "a-bridge-ok"

// tline is one header line of a template: a literal line, or "Name: " followed
// by a slot value. other marks the Other-Type/Other-Leg-* block, present only
// once the channel has had a B-leg.
type tline struct {
	text  string
	slot  slot
	other bool
}

// evTmpl is one event type: its header lines in recorded order, whether the
// channel variables follow them (switch_channel_event_set_extended_data),
// and the event's own headers FreeSWITCH adds after the variables.
type evTmpl struct {
	name  string
	lines []tline
	vars  bool
	tail  []tline
}

// identity is what the base recording's values say about its call, so those
// values can be rewritten for another call.
type identity struct {
	uuid, cidName, cidNum, dest, context string
}

type recVar struct{ name, value string }

type templates struct {
	connectHead []tline
	connectTail []tline
	connectVars []recVar // decoded, in recorded order
	base        identity
	events      map[string]*evTmpl
	byType      [numEventTypes]*evTmpl
	values      map[string]string // decoded value of every variable seen, base scenario first
	hostname    string
}

// templateSet parses the embedded recordings once; the result is read-only.
var templateSet = sync.OnceValues(parseTemplates)

func loadTemplates() *templates {
	t, err := templateSet()
	if err != nil {
		// The recordings are compiled in; failing to parse them is a build defect.
		panic(err)
	}
	return t
}

// rawMsg is one FS->APP message of a transcript.
type rawMsg struct {
	head []hdr
	body []byte
}

type hdr struct{ name, value string }

func (m rawMsg) get(name string) string {
	for _, h := range m.head {
		if h.name == name {
			return h.value
		}
	}
	return ""
}

// splitRecording frames a raw FS->APP byte stream: header blocks end at a
// blank line, Content-Length says how many body bytes follow.
func splitRecording(data []byte) ([]rawMsg, error) {
	var out []rawMsg
	for len(data) > 0 {
		i := bytes.Index(data, []byte("\n\n"))
		if i < 0 {
			return nil, fmt.Errorf("unterminated header block")
		}
		m := rawMsg{head: parseHeaderLines(string(data[:i]))}
		data = data[i+2:]
		if cl := m.get("Content-Length"); cl != "" {
			n, err := strconv.Atoi(cl)
			if err != nil || n > len(data) {
				return nil, fmt.Errorf("bad Content-Length %q", cl)
			}
			m.body = data[:n]
			data = data[n:]
		}
		out = append(out, m)
	}
	return out, nil
}

func parseHeaderLines(s string) []hdr {
	var out []hdr
	for _, line := range strings.Split(s, "\n") {
		if line == "" {
			continue
		}
		name, value, _ := strings.Cut(line, ": ")
		out = append(out, hdr{name, value})
	}
	return out
}

type recEvent struct {
	scenario string
	lines    []hdr
}

func parseTemplates() (*templates, error) {
	entries, err := fs.ReadDir(recordings, "recordings/raw")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".fs2app.raw"); ok {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		// Base scenario first so its instances and values win ties.
		if (names[i] == baseScenario) != (names[j] == baseScenario) {
			return names[i] == baseScenario
		}
		return names[i] < names[j]
	})
	t := &templates{events: map[string]*evTmpl{}, values: map[string]string{}}
	byName := map[string][]recEvent{}
	var connect rawMsg
	for _, n := range names {
		data, err := recordings.ReadFile(path.Join("recordings/raw", n+".fs2app.raw"))
		if err != nil {
			return nil, err
		}
		msgs, err := splitRecording(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		for _, m := range msgs {
			if m.get("Content-Type") == "text/event-plain" {
				ev := parseHeaderLines(string(m.body))
				en := ""
				for _, h := range ev {
					if h.name == "Event-Name" {
						en = h.value
					}
					if v, ok := strings.CutPrefix(h.name, "variable_"); ok && n == baseScenario {
						t.values[v] = urlDecode(h.value)
					}
				}
				byName[en] = append(byName[en], recEvent{n, ev})
			}
		}
		if n == baseScenario {
			connect = msgs[0]
		}
	}
	// Values only other scenarios show (e.g. the SIP failure variables).
	for _, n := range names {
		for _, evs := range byName {
			for _, e := range evs {
				if e.scenario != n {
					continue
				}
				for _, h := range e.lines {
					if v, ok := strings.CutPrefix(h.name, "variable_"); ok {
						if _, seen := t.values[v]; !seen {
							t.values[v] = urlDecode(h.value)
						}
					}
				}
			}
		}
	}
	if err := t.buildConnect(connect); err != nil {
		return nil, err
	}
	if err := t.buildEvents(byName); err != nil {
		return nil, err
	}
	for name, tp := range t.events {
		if et, ok := nameEvent(name); ok {
			t.byType[et] = tp
		}
	}
	return t, nil
}

func (t *templates) buildConnect(m rawMsg) error {
	if m.get("Event-Name") != "CHANNEL_DATA" {
		return fmt.Errorf("base recording does not start with the connect reply")
	}
	t.base = identity{
		uuid:    m.get("Unique-ID"),
		cidName: urlDecode(m.get("Caller-Caller-ID-Name")),
		cidNum:  urlDecode(m.get("Caller-Caller-ID-Number")),
		dest:    urlDecode(m.get("Caller-Destination-Number")),
		context: urlDecode(m.get("Caller-Context")),
	}
	t.hostname = m.get("FreeSWITCH-Hostname")
	inVars, afterVars := false, false
	for _, h := range m.head {
		if v, ok := strings.CutPrefix(h.name, "variable_"); ok {
			inVars = true
			t.connectVars = append(t.connectVars, recVar{v, urlDecode(h.value)})
			continue
		}
		ln := lineFor(h)
		if inVars {
			afterVars = true
		}
		if afterVars {
			t.connectTail = append(t.connectTail, ln)
		} else {
			t.connectHead = append(t.connectHead, ln)
		}
	}
	if len(t.connectVars) == 0 || len(t.connectTail) == 0 {
		return fmt.Errorf("connect reply without variables or reply headers")
	}
	return nil
}

// channelBlock returns the lines from Channel-State to the end of the
// caller/other-leg profile, and the index after it.
func channelBlock(lines []hdr) (start, end int) {
	start = -1
	for i, h := range lines {
		if h.name == "Channel-State" && start < 0 {
			start = i
		}
		if start >= 0 && (strings.HasPrefix(h.name, "Caller-") || strings.HasPrefix(h.name, "Other-")) {
			end = i + 1
		}
	}
	return start, end
}

func (t *templates) buildEvents(byName map[string][]recEvent) error {
	// The canonical channel block: the base scenario's CHANNEL_HANGUP after a
	// bridge has every optional header (Hangup-Cause, Callee, Other-Leg).
	var block []tline
	for _, e := range byName["CHANNEL_HANGUP"] {
		s, end := channelBlock(e.lines)
		if s < 0 {
			continue
		}
		if len(block) < end-s {
			block = block[:0]
			for _, h := range e.lines[s:end] {
				block = append(block, lineFor(h))
			}
		}
	}
	if len(block) == 0 {
		return fmt.Errorf("no CHANNEL_HANGUP with a channel block")
	}
	for name, evs := range byName {
		var best recEvent
		bestSuffix := -1
		for _, e := range evs {
			s, end := channelBlock(e.lines)
			if s < 0 {
				continue
			}
			n := suffixLen(e.lines[end:])
			if n > bestSuffix {
				best, bestSuffix = e, n
			}
		}
		if bestSuffix < 0 {
			continue
		}
		s, end := channelBlock(best.lines)
		tp := &evTmpl{name: name}
		for _, h := range best.lines[:s] {
			tp.lines = append(tp.lines, lineFor(h))
		}
		tp.lines = append(tp.lines, block...)
		for _, h := range best.lines[end:] {
			if strings.HasPrefix(h.name, "variable_") {
				tp.vars = true
				continue
			}
			ln := []tline{lineFor(h)}
			if h.name == "Application-UUID" {
				// switch_core_session_exec adds it when event-uuid-name was sent.
				ln = append(ln, tline{text: "Application-UUID-Name: ", slot: sAppUUIDName})
			}
			if tp.vars {
				tp.tail = append(tp.tail, ln...)
			} else {
				tp.lines = append(tp.lines, ln...)
			}
		}
		t.events[name] = tp
	}
	for _, need := range []string{"CHANNEL_PARK", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE",
		"CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP", "CHANNEL_UNPARK",
		"CHANNEL_STATE", "CHANNEL_HANGUP_COMPLETE", "DTMF"} {
		if t.events[need] == nil {
			return fmt.Errorf("recordings lack %s", need)
		}
	}
	// Event types no transcript shows are built from the nearest recorded one,
	// with the calling function and line from switch_channel.c /
	// mod_event_socket.c.
	ans := t.events["CHANNEL_ANSWER"]
	t.events["CHANNEL_PROGRESS"] = derive(ans, "CHANNEL_PROGRESS", "switch_channel.c", "switch_channel_perform_mark_ring_ready_value", "3507")
	t.events["CHANNEL_PROGRESS_MEDIA"] = derive(ans, "CHANNEL_PROGRESS_MEDIA", "switch_channel.c", "switch_channel_perform_mark_pre_answered", "3562")
	job := derive(ans, "BACKGROUND_JOB", "mod_event_socket.c", "api_exec", "1580")
	var jl []tline
	for _, ln := range job.lines {
		if ln.text == "Channel-State: " {
			break
		}
		jl = append(jl, ln)
	}
	jl = append(jl,
		tline{text: "Job-UUID: ", slot: sJobUUID},
		tline{text: "Job-Owner-UUID: ", slot: sJobOwner},
		tline{text: "Job-Command: ", slot: sJobCmd},
		tline{text: "Job-Command-Arg: ", slot: sJobArg})
	t.events["BACKGROUND_JOB"] = &evTmpl{name: "BACKGROUND_JOB", lines: jl}
	t.events["CUSTOM"] = customTemplate(ans)
	return nil
}

// customTemplate is a module's CUSTOM event as the WebSocket transcripts
// record it (switch_event_create_subclass, switch_channel_event_set_data,
// switch_event_add_body): Event-Subclass first, the usual headers with the
// module's calling file and responseHandler, the channel block and the
// variables; the body follows with its own Content-Length.
func customTemplate(ans *evTmpl) *evTmpl {
	d := derive(ans, "CUSTOM", "", "responseHandler", "")
	tp := &evTmpl{name: "CUSTOM", vars: d.vars, tail: d.tail,
		lines: []tline{{text: "Event-Subclass: ", slot: sSubclass}}}
	for _, ln := range d.lines {
		switch {
		case strings.HasPrefix(ln.text, "Event-Calling-File: "):
			ln = tline{text: "Event-Calling-File: ", slot: sCallFile}
		case strings.HasPrefix(ln.text, "Event-Calling-Line-Number: "):
			ln = tline{text: "Event-Calling-Line-Number: ", slot: sCallLine}
		}
		tp.lines = append(tp.lines, ln)
	}
	return tp
}

func suffixLen(lines []hdr) int {
	n := 0
	for _, h := range lines {
		if !strings.HasPrefix(h.name, "variable_") {
			n++
		}
	}
	return n
}

func derive(from *evTmpl, name, file, function, line string) *evTmpl {
	tp := &evTmpl{name: name, vars: from.vars, tail: from.tail}
	for _, ln := range from.lines {
		switch {
		case strings.HasPrefix(ln.text, "Event-Name: "):
			ln.text = "Event-Name: " + name + "\n"
		case strings.HasPrefix(ln.text, "Event-Calling-File: "):
			ln.text = "Event-Calling-File: " + file + "\n"
		case strings.HasPrefix(ln.text, "Event-Calling-Function: "):
			ln.text = "Event-Calling-Function: " + function + "\n"
		case strings.HasPrefix(ln.text, "Event-Calling-Line-Number: "):
			ln.text = "Event-Calling-Line-Number: " + line + "\n"
		}
		tp.lines = append(tp.lines, ln)
	}
	return tp
}

// lineFor maps a recorded header to a template line: a slot when the value
// belongs to the call, the recorded bytes otherwise.
func lineFor(h hdr) tline {
	s, other := slotFor(h.name)
	if s == sLit {
		return tline{text: h.name + ": " + h.value + "\n", other: other}
	}
	return tline{text: h.name + ": ", slot: s, other: other}
}

// rewrite turns a value recorded for the base call into the same value for
// another call: uuid, caller id, destination and context are replaced where
// FreeSWITCH derives them from the call (SIP URIs, channel names).
func (id identity) rewrite(v string, from identity) string {
	if from == id {
		return v
	}
	if from.uuid != "" {
		v = strings.ReplaceAll(v, from.uuid, id.uuid)
	}
	if from.cidName != "" && strings.Contains(v, from.cidName) {
		v = strings.ReplaceAll(v, from.cidName, id.cidName)
	}
	v = replaceUser(v, from.cidNum, id.cidNum)
	v = replaceUser(v, from.dest, id.dest)
	if v == from.context {
		v = id.context
	}
	return v
}

// replaceUser replaces a whole value equal to from, and from as the user part
// of a SIP URI ("from@").
func replaceUser(v, from, to string) string {
	if from == "" || from == to {
		return v
	}
	if v == from {
		return to
	}
	if strings.Contains(v, from+"@") {
		v = strings.ReplaceAll(v, from+"@", to+"@")
	}
	return v
}
