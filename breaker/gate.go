package breaker

import (
	"errors"
	"reflect"
	"sync/atomic"
)

// Ready reports whether name's breaker lets calls through: not open here,
// and no other instance's open-until in force. It takes no slot, so a
// half-open breaker whose probes are taken is still ready (Admit refuses).
// An assistant without a breaker yet is ready.
func (s *Set) Ready(name string) bool {
	e := s.lookup(name)
	if e == nil {
		return true
	}
	switch e.force.Load() {
	case forcedOpen:
		return false
	case forcedClosed:
		return true
	}
	if e.sharedOpen() {
		return false
	}
	return e.state() != Open
}

// Admit takes permission for one call to name. ok is false when the
// breaker is open (here or on another instance) or half-open with every
// probe taken. done reports the outcome once the call's fate is known:
// nil is a success; an error whose Excluded() returns true (also when
// wrapped) counts neither way and frees a probe slot; any other error is
// a failure. Only the first call of done has an effect, and it must be
// called on every path or a half-open breaker stays stuck.
func (s *Set) Admit(name string) (done func(error), ok bool) {
	e := s.entry(name)
	switch e.force.Load() {
	case forcedOpen:
		return nil, false
	case forcedClosed:
		return ignore, true
	}
	if e.sharedOpen() {
		return nil, false
	}
	p := e.phase.Load()
	report, err := e.cur.Load().tscb.Allow()
	e.flush() // Allow may have moved open to half-open
	if err != nil {
		return nil, false
	}
	bucket := int64(-1)
	if s.shared != nil && State(p&3) == Closed {
		bucket = s.now().UnixMilli() / e.cfg.bucket().Milliseconds()
	}
	var once atomic.Bool
	return func(err error) {
		if !once.CompareAndSwap(false, true) {
			return
		}
		out := classify(err)
		report(out)
		e.flush()
		// Only results of calls admitted closed, in a generation that is
		// still current, add to the shared counts (as gobreaker counts).
		if bucket >= 0 && out != errExcluded && e.phase.Load() == p {
			e.share.record(bucket, bucket-e.cfg.buckets()+1, out == errFailure)
		}
	}, true
}

// ignore is done for a forced-closed breaker: outcomes are not counted.
func ignore(error) {}

// classify maps a caller's error onto the outcome gobreaker is given. A
// typed nil (a nil *media.Failure in an error) is a success, not a panic.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if v := reflect.ValueOf(err); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil
	}
	if x, ok := errors.AsType[interface {
		error
		Excluded() bool
	}](err); ok && x.Excluded() {
		return errExcluded
	}
	return errFailure
}
