package breaker

import "time"

// Settings for one assistant's breaker. Zero values take the documented
// defaults; in Options.PerAssistant a zero field takes Options.Default's.
type Settings struct {
	// ConsecutiveFailures opens the breaker after this many failures in a
	// row (default 5).
	ConsecutiveFailures uint32
	// FailureRatio opens it when failures/results reaches this over
	// Window (default 0.5; above 1 counts as 1).
	FailureRatio float64
	// MinRequests is how many results (successes plus failures) Window
	// must hold before FailureRatio applies (default 10).
	MinRequests uint32
	// Window is the rolling window of the counts, kept in buckets of
	// Window/10 in whole milliseconds (at least 1ms) (default 60s).
	Window time.Duration
	// OpenFor is how long the breaker stays open before it lets probes
	// through (default 30s).
	OpenFor time.Duration
	// Probes is how many calls half-open lets through; that many
	// successes close it, one failure opens it again (default 1).
	Probes uint32
}

// Package defaults, as documented on Settings.
const (
	defConsecutive = 5
	defRatio       = 0.5
	defMinRequests = 10
	defWindow      = 60 * time.Second
	defOpenFor     = 30 * time.Second
	defProbes      = 1
	bucketsPerWin  = 10
)

// builtin is Settings with every default.
func builtin() Settings {
	return Settings{
		ConsecutiveFailures: defConsecutive, FailureRatio: defRatio, MinRequests: defMinRequests,
		Window: defWindow, OpenFor: defOpenFor, Probes: defProbes,
	}
}

// inherit fills s's unset fields from d.
func (s Settings) inherit(d Settings) Settings {
	if s.ConsecutiveFailures == 0 {
		s.ConsecutiveFailures = d.ConsecutiveFailures
	}
	if !(s.FailureRatio > 0) { // also NaN
		s.FailureRatio = d.FailureRatio
	}
	if s.FailureRatio > 1 {
		s.FailureRatio = 1
	}
	if s.MinRequests == 0 {
		s.MinRequests = d.MinRequests
	}
	if s.Window <= 0 {
		s.Window = d.Window
	}
	if s.OpenFor <= 0 {
		s.OpenFor = d.OpenFor
	}
	if s.Probes == 0 {
		s.Probes = d.Probes
	}
	return s
}

// bucket is the rolling window's bucket period: late results land in the
// bucket of their admission instead of being dropped with a fixed window.
func (s Settings) bucket() time.Duration {
	return max((s.Window / bucketsPerWin).Truncate(time.Millisecond), time.Millisecond)
}

// buckets is how many buckets cover Window.
func (s Settings) buckets() int64 {
	b := s.bucket()
	return int64((s.Window + b - 1) / b)
}

// trips is the rule that opens the breaker, for local and shared counts.
func (s Settings) trips(consecutive, failures, results uint32) bool {
	if consecutive >= s.ConsecutiveFailures {
		return true
	}
	return results > 0 && results >= s.MinRequests &&
		float64(failures)/float64(results) >= s.FailureRatio
}
