package fssim

import (
	"strconv"
	"strings"
	"time"
)

// hangup is switch_channel_hangup: Hangup-Cause and Answer-State change and
// CHANNEL_HANGUP fires at once; the session then finishes the running app
// and the rest of the hangup. by is "caller", "app" or "switch". A caller
// hangup brings the SIP BYE (or CANCEL) variables. c.mu held.
func (c *channel) hangup(cause, by string, caller bool) {
	if !c.up {
		return
	}
	if caller && c.answered {
		c.vars.set("sip_term_status", "200")
		c.vars.set("proto_specific_hangup_cause", "sip:200")
		c.vars.set("sip_term_cause", "16")
	}
	c.up = false
	// The media bugs close with the channel (SWITCH_ABC_TYPE_CLOSE, f).
	c.stopStreamsLocked()
	c.cause, c.answer, c.stateNum, c.hungUpBy = cause, "hangup", 10, by
	c.fire(evHangup, &evArgs{})
	if caller {
		if c.answered {
			c.vars.set("sip_hangup_disposition", "recv_bye")
		} else {
			c.vars.set("sip_hangup_disposition", "recv_cancel")
		}
	}
	c.lingerAtDown = c.lingerOn
	if !c.lingerOn {
		// Without linger the listener leaves as soon as it sees the channel
		// down: what fires after the hangup is lost.
		c.push(outItem{kind: outDown})
		c.discard = true
	}
	c.poke()
}

// transfer is switch_ivr_session_transfer: the channel leaves the socket
// application for ext in dialplan/context. c.mu held.
func (c *channel) transfer(ext, dialplan, context string) bool {
	if !c.up {
		return false
	}
	if dialplan == "" {
		dialplan = "XML"
	}
	if context == "" {
		context = c.id.context
	}
	if ext == "" {
		ext = "service"
	}
	fwd := 70
	if v, ok := c.vars.get("max_forwards"); ok {
		fwd = atoi(v) - 1
	}
	if fwd <= 0 {
		c.hangup("EXCHANGE_ROUTING_ERROR", "switch", false)
		return false
	}
	c.vars.set("max_forwards", strconv.Itoa(fwd))
	c.vars.del("signal_bond")
	now := time.Now()
	c.t.transfer = now.UnixMicro()
	src := strconv.FormatInt(now.Unix(), 10) + ":" + c.id.uuid + ":bl_xfer:" + ext + "/" + context + "/" + dialplan
	c.vars.push("transfer_history", src)
	c.vars.set("transfer_source", src)
	c.id.dest, c.id.context = ext, context
	c.enc.dest, c.enc.context = urlEncode(ext), urlEncode(context)
	c.stateNum = 2
	c.transferred = ext + " " + dialplan + " " + context
	c.poke()
	return true
}

// setCDR sets the variables FreeSWITCH adds when the channel reports
// (switch_channel_set_timestamps and sofia's hangup), in recorded order.
// c.mu held.
func (c *channel) setCDR(end int64) {
	v := &c.vars
	code := causeCode(c.cause)
	q850 := code
	if q850 > 127 {
		q850 = 16
	}
	v.set("hangup_cause", c.cause)
	v.set("hangup_cause_q850", strconv.Itoa(q850))
	v.set("digits_dialed", "none")
	t := c.t
	v.set("start_stamp", stamp(t.created))
	v.set("profile_start_stamp", stamp(t.created))
	if t.answered > 0 {
		v.set("answer_stamp", stamp(t.answered))
	}
	if t.bridged > 0 {
		v.set("bridge_stamp", stamp(t.bridged))
	}
	if t.progress > 0 {
		v.set("progress_stamp", stamp(t.progress))
	}
	if t.progressMedia > 0 {
		v.set("progress_media_stamp", stamp(t.progressMedia))
	}
	v.set("end_stamp", stamp(end))
	epochs := func(name string, us int64) {
		v.set(name+"_epoch", strconv.FormatInt(us/1e6, 10))
		v.set(name+"_uepoch", strconv.FormatInt(us, 10))
	}
	epochs("start", t.created)
	epochs("profile_start", t.created)
	epochs("answer", t.answered)
	epochs("bridge", t.bridged)
	epochs("last_hold", 0)
	v.set("hold_accum_seconds", "0")
	v.set("hold_accum_usec", "0")
	v.set("hold_accum_ms", "0")
	epochs("resurrect", 0)
	epochs("progress", t.progress)
	epochs("progress_media", t.progressMedia)
	epochs("end", end)
	if c.lastApp != "" {
		v.set("last_app", c.lastApp)
		v.set("last_arg", c.lastArg)
	}
	v.set("caller_id", `"`+c.id.cidName+`" <`+c.id.cidNum+`>`)
	since := func(us int64) int64 {
		if us == 0 {
			return 0
		}
		return us
	}
	type span struct {
		name     string
		from, to int64
	}
	spans := []span{
		{"duration", t.created, end},
		{"billsec", since(t.answered), end},
		{"progresssec", t.created, since(t.progress)},
		{"answersec", t.created, since(t.answered)},
		{"waitsec", t.created, since(t.bridged)},
		{"progress_mediasec", t.created, since(t.progressMedia)},
		{"flow_billsec", t.created, end},
	}
	unit := func(sp span, div int64) string {
		if sp.from == 0 || sp.to == 0 {
			return "0"
		}
		return strconv.FormatInt(sp.to/div-sp.from/div, 10)
	}
	msName := map[string]string{"duration": "mduration", "billsec": "billmsec", "progresssec": "progressmsec",
		"answersec": "answermsec", "waitsec": "waitmsec", "progress_mediasec": "progress_mediamsec",
		"flow_billsec": "flow_billmsec"}
	usName := map[string]string{"duration": "uduration", "billsec": "billusec", "progresssec": "progressusec",
		"answersec": "answerusec", "waitsec": "waitusec", "progress_mediasec": "progress_mediausec",
		"flow_billsec": "flow_billusec"}
	for _, sp := range spans {
		v.set(sp.name, unit(sp, 1e6))
	}
	for _, sp := range spans {
		v.set(msName[sp.name], unit(sp, 1e3))
	}
	for _, sp := range spans {
		v.set(usName[sp.name], unit(sp, 1))
	}
	if _, ok := v.get("sip_hangup_disposition"); !ok {
		if c.answered {
			v.set("sip_hangup_disposition", "send_bye")
		} else {
			v.set("sip_hangup_disposition", "send_refuse")
		}
	}
	if c.media {
		c.rtpStats(end)
	}
}

// rtpStats are the media statistics of the recorded hangup, with the sent
// packet counts following the time media was up.
func (c *channel) rtpStats(end int64) {
	from := c.t.answered
	if from == 0 {
		from = c.t.progressMedia
	}
	pkts := max((end-from)/20000, 0)
	for _, n := range rtpStatNames {
		val, ok := c.tm.values[n]
		if !ok {
			continue
		}
		switch n {
		case "rtp_audio_out_packet_count", "rtp_audio_out_media_packet_count":
			val = strconv.FormatInt(pkts, 10)
		case "rtp_audio_out_raw_bytes", "rtp_audio_out_media_bytes":
			val = strconv.FormatInt(pkts*172, 10)
		}
		c.vars.set(n, val)
	}
}

var rtpStatNames = [...]string{"rtp_audio_in_raw_bytes", "rtp_audio_in_media_bytes", "rtp_audio_in_packet_count",
	"rtp_audio_in_media_packet_count", "rtp_audio_in_skip_packet_count", "rtp_audio_in_jitter_packet_count",
	"rtp_audio_in_dtmf_packet_count", "rtp_audio_in_cng_packet_count", "rtp_audio_in_flush_packet_count",
	"rtp_audio_in_largest_jb_size", "rtp_audio_in_jitter_min_variance", "rtp_audio_in_jitter_max_variance",
	"rtp_audio_in_jitter_loss_rate", "rtp_audio_in_jitter_burst_rate", "rtp_audio_in_mean_interval",
	"rtp_audio_in_flaw_total", "rtp_audio_in_quality_percentage", "rtp_audio_in_mos",
	"rtp_audio_out_raw_bytes", "rtp_audio_out_media_bytes", "rtp_audio_out_packet_count",
	"rtp_audio_out_media_packet_count", "rtp_audio_out_skip_packet_count", "rtp_audio_out_dtmf_packet_count",
	"rtp_audio_out_cng_packet_count", "rtp_audio_rtcp_packet_count", "rtp_audio_rtcp_octet_count"}

func stamp(us int64) string {
	return time.UnixMicro(us).Format("2006-01-02 15:04:05")
}

// causes is CAUSE_CHART (switch_channel.c) with the numbers of
// switch_call_cause_t.
var causes = [...]struct {
	name string
	code int
}{{"NONE", 0}, {"UNALLOCATED_NUMBER", 1}, {"NO_ROUTE_TRANSIT_NET", 2}, {"NO_ROUTE_DESTINATION", 3},
	{"CHANNEL_UNACCEPTABLE", 6}, {"CALL_AWARDED_DELIVERED", 7}, {"NORMAL_CLEARING", 16}, {"USER_BUSY", 17},
	{"NO_USER_RESPONSE", 18}, {"NO_ANSWER", 19}, {"SUBSCRIBER_ABSENT", 20}, {"CALL_REJECTED", 21},
	{"NUMBER_CHANGED", 22}, {"REDIRECTION_TO_NEW_DESTINATION", 23}, {"EXCHANGE_ROUTING_ERROR", 25},
	{"DESTINATION_OUT_OF_ORDER", 27}, {"INVALID_NUMBER_FORMAT", 28}, {"FACILITY_REJECTED", 29},
	{"RESPONSE_TO_STATUS_ENQUIRY", 30}, {"NORMAL_UNSPECIFIED", 31}, {"NORMAL_CIRCUIT_CONGESTION", 34},
	{"NETWORK_OUT_OF_ORDER", 38}, {"NORMAL_TEMPORARY_FAILURE", 41}, {"SWITCH_CONGESTION", 42},
	{"ACCESS_INFO_DISCARDED", 43}, {"REQUESTED_CHAN_UNAVAIL", 44}, {"PRE_EMPTED", 45},
	{"FACILITY_NOT_SUBSCRIBED", 50}, {"OUTGOING_CALL_BARRED", 52}, {"INCOMING_CALL_BARRED", 54},
	{"BEARERCAPABILITY_NOTAUTH", 57}, {"BEARERCAPABILITY_NOTAVAIL", 58}, {"SERVICE_UNAVAILABLE", 63},
	{"BEARERCAPABILITY_NOTIMPL", 65}, {"CHAN_NOT_IMPLEMENTED", 66}, {"FACILITY_NOT_IMPLEMENTED", 69},
	{"SERVICE_NOT_IMPLEMENTED", 79}, {"INVALID_CALL_REFERENCE", 81}, {"INCOMPATIBLE_DESTINATION", 88},
	{"INVALID_MSG_UNSPECIFIED", 95}, {"MANDATORY_IE_MISSING", 96}, {"MESSAGE_TYPE_NONEXIST", 97},
	{"WRONG_MESSAGE", 98}, {"IE_NONEXIST", 99}, {"INVALID_IE_CONTENTS", 100}, {"WRONG_CALL_STATE", 101},
	{"RECOVERY_ON_TIMER_EXPIRE", 102}, {"MANDATORY_IE_LENGTH_ERROR", 103}, {"PROTOCOL_ERROR", 111},
	{"INTERWORKING", 127}, {"SUCCESS", 142}, {"ORIGINATOR_CANCEL", 487}, {"CRASH", 700},
	{"SYSTEM_SHUTDOWN", 701}, {"LOSE_RACE", 702}, {"MANAGER_REQUEST", 703}, {"BLIND_TRANSFER", 800},
	{"ATTENDED_TRANSFER", 801}, {"ALLOTTED_TIMEOUT", 802}, {"USER_CHALLENGE", 803}, {"MEDIA_TIMEOUT", 804},
	{"PICKED_OFF", 805}, {"USER_NOT_REGISTERED", 806}, {"PROGRESS_TIMEOUT", 807}, {"INVALID_GATEWAY", 808},
	{"GATEWAY_DOWN", 809}, {"INVALID_URL", 810}, {"INVALID_PROFILE", 811}, {"NO_PICKUP", 812},
	{"SRTP_READ_ERROR", 813}, {"BOWOUT", 814}, {"BUSY_EVERYWHERE", 815}, {"DECLINE", 816},
	{"DOES_NOT_EXIST_ANYWHERE", 817}, {"NOT_ACCEPTABLE", 818}, {"UNWANTED", 819}, {"NO_IDENTITY", 820},
	{"BAD_IDENTITY_INFO", 821}, {"UNSUPPORTED_CERTIFICATE", 822}, {"INVALID_IDENTITY", 823},
	{"STALE_DATE", 824}, {"REJECT_ALL", 825}}

// causeName is switch_channel_str2cause followed by cause2str: a name or a
// number; empty or unknown names mean NORMAL_CLEARING.
func causeName(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "NORMAL_CLEARING"
	}
	if s[0] >= '0' && s[0] <= '9' {
		n := atoi(s)
		for _, c := range causes {
			if c.code == n {
				return c.name
			}
		}
		return "UNKNOWN"
	}
	for _, c := range causes {
		if strings.EqualFold(c.name, s) {
			return c.name
		}
	}
	return "NORMAL_CLEARING"
}

func causeCode(name string) int {
	for _, c := range causes {
		if c.name == name {
			return c.code
		}
	}
	return 0
}
