package fssim

import (
	"regexp"
	"strings"
)

// eventNames is EVENT_NAMES from switch_event.c: the index is the event type,
// the last one is ALL.
var eventNames = [...]string{"CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE",
	"CHANNEL_CALLSTATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE",
	"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE",
	"CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_UNPARK",
	"CHANNEL_APPLICATION", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "API", "LOG", "INBOUND_CHAN", "OUTBOUND_CHAN",
	"STARTUP", "SHUTDOWN", "PUBLISH", "UNPUBLISH", "TALK", "NOTALK", "SESSION_CRASH", "MODULE_LOAD",
	"MODULE_UNLOAD", "DTMF", "MESSAGE", "PRESENCE_IN", "NOTIFY_IN", "PRESENCE_OUT", "PRESENCE_PROBE",
	"MESSAGE_WAITING", "MESSAGE_QUERY", "ROSTER", "CODEC", "BACKGROUND_JOB", "DETECTED_SPEECH",
	"DETECTED_TONE", "PRIVATE_COMMAND", "HEARTBEAT", "TRAP", "ADD_SCHEDULE", "DEL_SCHEDULE", "EXE_SCHEDULE",
	"RE_SCHEDULE", "RELOADXML", "NOTIFY", "PHONE_FEATURE", "PHONE_FEATURE_SUBSCRIBE", "SEND_MESSAGE",
	"RECV_MESSAGE", "REQUEST_PARAMS", "CHANNEL_DATA", "GENERAL", "COMMAND", "SESSION_HEARTBEAT",
	"CLIENT_DISCONNECTED", "SERVER_DISCONNECTED", "SEND_INFO", "RECV_INFO", "RECV_RTCP_MESSAGE",
	"SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT", "RECORD_START", "RECORD_STOP", "PLAYBACK_START",
	"PLAYBACK_STOP", "CALL_UPDATE", "FAILURE", "SOCKET_DATA", "MEDIA_BUG_START", "MEDIA_BUG_STOP",
	"CONFERENCE_DATA_QUERY", "CONFERENCE_DATA", "CALL_SETUP_REQ", "CALL_SETUP_RESULT", "CALL_DETAIL",
	"DEVICE_STATE", "TEXT", "SHUTDOWN_REQUESTED", "CERT_RELOAD", "ALL"}

// evType indexes eventNames.
type evType uint8

// The event types the simulated channel fires (indexes into eventNames).
const (
	evCustom          evType = 0
	evChannelState    evType = 4
	evAnswer          evType = 6
	evHangup          evType = 7
	evHangupComplete  evType = 8
	evExecute         evType = 9
	evExecuteComplete evType = 10
	evBridge          evType = 13
	evUnbridge        evType = 14
	evProgress        evType = 15
	evProgressMedia   evType = 16
	evPark            evType = 18
	evUnpark          evType = 19
	evDTMF            evType = 36
	evBackgroundJob   evType = 46
	evAll                    = evType(len(eventNames) - 1)
	numEventTypes            = len(eventNames)
)

// myEventsList is what `myevents` subscribes to (mod_event_socket.c).
var myEventsList = [...]string{"CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE",
	"CHANNEL_DATA", "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
	"CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING", "CHANNEL_PARK",
	"CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE", "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK",
	"DETECTED_SPEECH", "DTMF", "NOTALK", "TALK"}

// nameEvent is switch_name_event: case-insensitive, with or without the
// "SWITCH_EVENT_" prefix.
func nameEvent(name string) (evType, bool) {
	for i, n := range eventNames {
		if strings.EqualFold(name, n) || (len(name) > 13 && strings.EqualFold(name[13:], n)) {
			return evType(i), true
		}
	}
	return 0, false
}

// filter is one `filter <header> <value>` entry.
type filter struct {
	header, value string
	re            *regexp.Regexp // compiled once when value is /regex/
}

// subscription is the listener's event selection: the event_list bits, the
// CUSTOM subclasses, the myevents flag and the filters.
type subscription struct {
	on        bool // LFLAG_EVENTS
	my        bool // LFLAG_MYEVENTS
	list      [numEventTypes]bool
	custom    map[string]bool
	allCustom bool
	format    string
	filters   []filter
}

func (s *subscription) wants(t evType, subclass string) bool {
	if !s.on {
		return false
	}
	if s.list[evAll] {
		return true
	}
	if !s.list[t] {
		return false
	}
	if t == evCustom && subclass != "" {
		return s.allCustom || s.custom[subclass]
	}
	return true
}

// passFilters applies the filters the way event_handler does; get looks a
// header up in the event (decoded value).
func (s *subscription) passFilters(get func(string) (string, bool)) bool {
	if len(s.filters) == 0 {
		return true
	}
	send := false
	for _, f := range s.filters {
		hval, ok := get(f.header)
		if !ok {
			continue
		}
		comp, pos := f.value, true
		for comp != "" {
			if comp[0] == '+' {
				pos = true
			} else if comp[0] == '-' {
				pos = false
			} else if comp[0] != ' ' {
				break
			}
			comp = comp[1:]
		}
		if send && pos {
			continue
		}
		var match bool
		if f.re != nil {
			match = f.re.MatchString(hval)
		} else {
			match = strings.EqualFold(hval, comp)
		}
		if match {
			if !pos {
				return false
			}
			send = true
		}
	}
	return send
}

func newFilter(header, value string) filter {
	f := filter{header: header, value: value}
	v := strings.TrimLeft(value, "+- ")
	if strings.HasPrefix(value, "/") && len(v) > 1 {
		expr := strings.TrimSuffix(v[1:], "/")
		if re, err := regexp.Compile(expr); err == nil {
			f.re = re
		}
	}
	return f
}

// headerOf finds a header in a rendered event body (decoded value).
func headerOf(body []byte, name string) (string, bool) {
	for len(body) > 0 {
		i := 0
		for i < len(body) && body[i] != '\n' {
			i++
		}
		line := body[:i]
		if i < len(body) {
			body = body[i+1:]
		} else {
			body = nil
		}
		if len(line) > len(name)+1 && line[len(name)] == ':' && strings.EqualFold(string(line[:len(name)]), name) {
			return urlDecode(strings.TrimLeft(string(line[len(name)+1:]), " ")), true
		}
	}
	return "", false
}
