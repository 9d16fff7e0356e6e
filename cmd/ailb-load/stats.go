package main

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// percentile is the nearest-rank percentile (q in [0,1]) of sorted values:
// the smallest value with at least q of the samples at or below it, so p99
// of 100 samples is the 99th and never an interpolation between samples.
func percentile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(n))) - 1
	return sorted[min(max(i, 0), n-1)]
}

// summary is a latency distribution.
type summary struct {
	N   int           `json:"n"`
	P50 time.Duration `json:"p50_ns"`
	P95 time.Duration `json:"p95_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// summarize sorts d in place.
func summarize(d []time.Duration) summary {
	slices.Sort(d)
	s := summary{N: len(d), P50: percentile(d, 0.50), P95: percentile(d, 0.95), P99: percentile(d, 0.99)}
	if len(d) > 0 {
		s.Max = d[len(d)-1]
	}
	return s
}

// ms formats a duration in milliseconds with enough digits for sub-ms figures.
func ms(d time.Duration) string {
	return formatFloat(float64(d)/float64(time.Millisecond)) + " ms"
}

func formatFloat(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) < 10:
		return strconv.FormatFloat(v, 'f', 3, 64)
	case math.Abs(v) < 100:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// ratio is a/b, NaN when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

func formatRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "-"
	}
	return formatFloat(r) + "x"
}

func mb(b int64) string {
	if b <= 0 {
		return "-"
	}
	return formatFloat(float64(b)/(1<<20)) + " MB"
}
