// Package breaker keeps one circuit breaker per AI assistant so that
// routing stops sending calls to an assistant that keeps failing and
// probes it again after a while.
//
// Each assistant has a sony/gobreaker two-step breaker: Admit takes
// permission before a call is bridged and the returned done reports the
// outcome once it is known. Routing sees only Set's Ready and Admit
// (routing.Gate); gobreaker stays inside this package.
//
// With a Shared, several ailb instances share what they learn through
// Redis: an instance whose breaker opens publishes how long it stays open,
// and every instance's outcomes add up in per-bucket counters, so failures
// spread over instances still open the breaker for all. Redis is never on
// a call's path: calls read in-memory state and a single background
// goroutine (Shared.Run) writes and reads Redis.
package breaker
