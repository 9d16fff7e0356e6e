package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.99, 0},
		{"one sample is every percentile", ms(7), 0.5, 7 * time.Millisecond},
		{"one sample p99", ms(7), 0.99, 7 * time.Millisecond},
		{"median of two is the lower (nearest rank)", ms(1, 2), 0.5, time.Millisecond},
		{"median of three", ms(1, 2, 3), 0.5, 2 * time.Millisecond},
		{"p99 of 100 is the 99th", hundred, 0.99, 99 * time.Millisecond},
		{"p95 of 100", hundred, 0.95, 95 * time.Millisecond},
		{"p100 is the max", hundred, 1, 100 * time.Millisecond},
		{"p0 is the min", hundred, 0, time.Millisecond},
		{"p99 of 10 is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.99, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("percentile(%v, %g) = %v, want %v", tt.sorted, tt.q, got, tt.want)
			}
		})
	}
}

func TestSummarizeSorts(t *testing.T) {
	d := []time.Duration{5, 1, 4, 2, 3}
	s := summarize(d)
	want := summary{N: 5, P50: 3, P95: 5, P99: 5, Max: 5}
	if s != want {
		t.Errorf("summarize = %+v, want %+v", s, want)
	}
	if d[0] != 1 || d[4] != 5 {
		t.Errorf("summarize did not sort in place: %v", d)
	}
	if s := summarize(nil); s != (summary{}) {
		t.Errorf("summarize(nil) = %+v", s)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{ms(0), "0 ms"},
		{ms(640 * time.Microsecond), "0.640 ms"},
		{ms(19 * time.Millisecond), "19.00 ms"},
		{ms(250 * time.Millisecond), "250 ms"},
		{formatRatio(ratio(1, 4)), "0.250x"},
		{formatRatio(ratio(1, 0)), "-"},
		{mb(0), "-"},
		{mb(3 << 20), "3.000 MB"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
