package breaker_test

import (
	"testing"

	"ailb/breaker"
)

// benchSet has one closed assistant; with shared, results are also
// recorded for Shared.Run (which is not running: Redis is off the path).
func benchSet(shared bool) *breaker.Set {
	o := breaker.Options{PerAssistant: map[string]breaker.Settings{"a": {ConsecutiveFailures: 1 << 30, MinRequests: 1 << 30}}}
	if shared {
		o.Shared = breaker.NewShared(nil, breaker.SharedOptions{})
	}
	return breaker.New(o)
}

func BenchmarkAdmitDone(b *testing.B) {
	for _, tt := range []struct {
		name   string
		shared bool
	}{{"local", false}, {"shared", true}} {
		b.Run(tt.name, func(b *testing.B) {
			s := benchSet(tt.shared)
			b.ReportAllocs()
			for b.Loop() {
				done, ok := s.Admit("a")
				if !ok {
					b.Fatal("refused")
				}
				done(nil)
			}
		})
	}
}

func BenchmarkAdmitDoneParallel(b *testing.B) {
	s := benchSet(false)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			done, _ := s.Admit("a")
			done(nil)
		}
	})
}

func BenchmarkReady(b *testing.B) {
	s := benchSet(false)
	b.ReportAllocs()
	for b.Loop() {
		if !s.Ready("a") {
			b.Fatal("not ready")
		}
	}
}
