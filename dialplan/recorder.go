package dialplan

import "time"

// Call outcomes (ailb_calls_total{outcome}).
const (
	OutcomeAI         = "ai"          // the first assistant tried took the call
	OutcomeFailoverAI = "failover_ai" // an assistant took it after another failed
	OutcomeFallback   = "fallback"    // the pool's fallback (or the dialplan) took it
	OutcomeDropped    = "dropped"     // the caller was lost because an assistant failed
	OutcomeAbandoned  = "abandoned"   // the caller hung up before anyone took the call
	OutcomeDirect     = "direct"      // the route sends calls to an extension, IVR or hangup
)

// Recorder receives what the call flow measures. The ops package exports
// it as Prometheus metrics; tests record it.
type Recorder interface {
	// CallEnded counts a finished call.
	CallEnded(route, outcome string)
	// Attempt counts one try of an assistant (result: answered, busy,
	// no_answer, failed, timeout, stream_error, skipped_open, caller_gone).
	Attempt(pool, assistant, result string)
	// Setup is the time from the connect reply to the first bridge command.
	Setup(d time.Duration)
	// Failover is the time from a failure to the next attempt's command.
	Failover(d time.Duration)
	// AIFailure counts an assistant failure: kind with_failover (the
	// caller was kept) or with_drop (the caller was lost).
	AIFailure(kind string)
	// Connected tracks callers talking to an assistant (+1 / -1).
	Connected(pool, assistant string, delta int)
}

// NopRecorder records nothing.
type NopRecorder struct{}

func (NopRecorder) CallEnded(string, string)       {}
func (NopRecorder) Attempt(string, string, string) {}
func (NopRecorder) Setup(time.Duration)            {}
func (NopRecorder) Failover(time.Duration)         {}
func (NopRecorder) AIFailure(string)               {}
func (NopRecorder) Connected(string, string, int)  {}
