package fssim

import "strings"

// slot names a header whose value the simulator fills in per event.
type slot uint8

const (
	sLit slot = iota
	sDateLocal
	sDateGMT
	sDateTS
	sSeq
	sState
	sCallState
	sStateNum
	sAnswerState
	sHangupCause
	sUUID
	sChanName
	sCIDName
	sCIDNum
	sDest
	sContext
	sCalleeName
	sCalleeNum
	sCreated
	sAnswered
	sProgress
	sProgressMedia
	sHangupTime
	sTransferTime
	sBridged
	sOtherUUID
	sOtherUser
	sOtherChan
	sOtherCreated
	sOtherAnswered
	sOtherProgress
	sOtherHangup
	sApp
	sAppData
	sAppResp
	sAppUUID
	sAppUUIDName
	sDigit
	sDigitDur
	sJobUUID
	sJobOwner
	sJobCmd
	sJobArg
	sControl
	sSocketMode
	sSubclass
	sCallFile
	sCallLine
)

// omitEmpty reports slots whose header FreeSWITCH leaves out when the value
// is empty (switch_event_add_header_string ignores empty values).
func omitEmpty(s slot) bool {
	switch s {
	case sHangupCause, sCalleeName, sCalleeNum, sAppData, sAppUUIDName, sJobArg:
		return true
	}
	return false
}

// exactSlot maps the headers whose value is per call or per event.
func exactSlot(name string) (slot, bool) {
	switch name {
	case "Event-Date-Local":
		return sDateLocal, true
	case "Event-Date-GMT":
		return sDateGMT, true
	case "Event-Date-Timestamp":
		return sDateTS, true
	case "Event-Sequence":
		return sSeq, true
	case "Channel-State":
		return sState, true
	case "Channel-Call-State":
		return sCallState, true
	case "Channel-State-Number":
		return sStateNum, true
	case "Channel-Name":
		return sChanName, true
	case "Unique-ID", "Channel-Call-UUID", "Bridge-A-Unique-ID":
		return sUUID, true
	case "Answer-State":
		return sAnswerState, true
	case "Hangup-Cause":
		return sHangupCause, true
	case "Application":
		return sApp, true
	case "Application-Data":
		return sAppData, true
	case "Application-Response":
		return sAppResp, true
	case "Application-UUID":
		return sAppUUID, true
	case "Bridge-B-Unique-ID":
		return sOtherUUID, true
	case "DTMF-Digit":
		return sDigit, true
	case "DTMF-Duration":
		return sDigitDur, true
	case "Control":
		return sControl, true
	case "Socket-Mode":
		return sSocketMode, true
	}
	return sLit, false
}

// slotFor maps a recorded header to its slot (sLit: keep the recorded
// bytes); other marks the Other-Type/Other-Leg-* block.
func slotFor(name string) (s slot, other bool) {
	if s, ok := exactSlot(name); ok {
		return s, false
	}
	if name == "Other-Type" {
		return sLit, true
	}
	if f, ok := strings.CutPrefix(name, "Other-Leg-"); ok {
		switch f {
		case "Callee-ID-Number", "Destination-Number":
			return sOtherUser, true
		case "Unique-ID":
			return sOtherUUID, true
		case "Channel-Name":
			return sOtherChan, true
		case "Profile-Created-Time", "Channel-Created-Time":
			return sOtherCreated, true
		case "Channel-Answered-Time":
			return sOtherAnswered, true
		case "Channel-Progress-Time":
			return sOtherProgress, true
		case "Channel-Hangup-Time":
			return sOtherHangup, true
		case "Username", "Caller-ID-Number", "Orig-Caller-ID-Number", "ANI":
			return sCIDNum, true
		case "Caller-ID-Name", "Orig-Caller-ID-Name":
			return sCIDName, true
		case "Context":
			return sContext, true
		}
		return sLit, true
	}
	for _, p := range []string{"Caller-", "Channel-"} {
		if f, ok := strings.CutPrefix(name, p); ok {
			if s, ok := profileSlot(f); ok {
				return s, false
			}
		}
	}
	return sLit, false
}

// profileSlot maps a caller profile field (switch_caller_profile_event_set_data).
func profileSlot(f string) (slot, bool) {
	switch f {
	case "Username", "Caller-ID-Number", "Orig-Caller-ID-Number", "ANI":
		return sCIDNum, true
	case "Caller-ID-Name", "Orig-Caller-ID-Name":
		return sCIDName, true
	case "Callee-ID-Name":
		return sCalleeName, true
	case "Callee-ID-Number":
		return sCalleeNum, true
	case "Destination-Number":
		return sDest, true
	case "Unique-ID":
		return sUUID, true
	case "Context":
		return sContext, true
	case "Channel-Name":
		return sChanName, true
	case "Profile-Created-Time", "Channel-Created-Time":
		return sCreated, true
	case "Channel-Answered-Time":
		return sAnswered, true
	case "Channel-Progress-Time":
		return sProgress, true
	case "Channel-Progress-Media-Time":
		return sProgressMedia, true
	case "Channel-Hangup-Time":
		return sHangupTime, true
	case "Channel-Transfer-Time":
		return sTransferTime, true
	case "Channel-Bridged-Time":
		return sBridged, true
	}
	return sLit, false
}
