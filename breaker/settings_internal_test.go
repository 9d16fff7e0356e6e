package breaker

import (
	"math"
	"testing"
	"time"
)

func TestSettingsInherit(t *testing.T) {
	def := builtin()
	tests := []struct {
		name string
		give Settings
		want Settings
	}{
		{"zero takes defaults", Settings{}, Settings{5, 0.5, 10, 60 * time.Second, 30 * time.Second, 1}},
		{"set fields stay", Settings{2, 0.25, 4, time.Second, time.Second, 3}, Settings{2, 0.25, 4, time.Second, time.Second, 3}},
		{"ratio above 1 is 1", Settings{FailureRatio: 7}, Settings{5, 1, 10, 60 * time.Second, 30 * time.Second, 1}},
		{"NaN and negatives take defaults", Settings{FailureRatio: math.NaN(), Window: -1, OpenFor: -1}, def},
	}
	for _, tt := range tests {
		if got := tt.give.inherit(def); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestBuckets(t *testing.T) {
	tests := []struct {
		give        time.Duration
		wantBucket  time.Duration
		wantBuckets int64
	}{
		{60 * time.Second, 6 * time.Second, 10},
		{100 * time.Millisecond, 10 * time.Millisecond, 10},
		{5 * time.Millisecond, time.Millisecond, 5},
		{105 * time.Millisecond, 10 * time.Millisecond, 11},
	}
	for _, tt := range tests {
		s := Settings{Window: tt.give}
		if s.bucket() != tt.wantBucket || s.buckets() != tt.wantBuckets {
			t.Errorf("window %v: bucket %v x %d", tt.give, s.bucket(), s.buckets())
		}
	}
}

func TestTrips(t *testing.T) {
	s := Settings{ConsecutiveFailures: 3, FailureRatio: 0.3, MinRequests: 10}
	tests := []struct {
		consecutive, failures, results uint32
		want                           bool
	}{
		{3, 3, 3, true},     // in a row
		{2, 2, 2, false},    // too few in a row, too few results
		{0, 3, 10, true},    // 0.3 of 10 (exact in float division)
		{0, 2, 10, false},   // 0.2
		{0, 9, 9, false},    // all failed, but under MinRequests
		{1, 30, 100, true},  // ratio over many
		{0, 0, 0, false},    // nothing
		{2, 29, 100, false}, // 0.29
	}
	for _, tt := range tests {
		if got := s.trips(tt.consecutive, tt.failures, tt.results); got != tt.want {
			t.Errorf("trips(%d, %d, %d) = %v", tt.consecutive, tt.failures, tt.results, got)
		}
	}
}
