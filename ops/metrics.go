// Package ops is the operations surface: Prometheus metrics, health and
// readiness, and the admin API.
package ops

import (
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"ailb/dialplan"
)

// Metrics holds every ailb metric. Names and labels are a contract with
// dashboards (DESIGN.md).
type Metrics struct {
	Registry *prometheus.Registry

	calls          *prometheus.CounterVec
	attempts       *prometheus.CounterVec
	active         *prometheus.GaugeVec
	setup          prometheus.Histogram
	failover       prometheus.Histogram
	aiFailures     *prometheus.CounterVec
	StoreFallback  prometheus.Counter
	BreakerState   *prometheus.GaugeVec
	BreakerTransit *prometheus.CounterVec
	eslRejected    prometheus.Counter
	MediaDropped   prometheus.Counter
}

var _ dialplan.Recorder = (*Metrics)(nil)

// Sub-millisecond buckets: call setup is measured in microseconds.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// NewMetrics registers every metric on a new registry. inProgress reports
// the calls being served (may be nil).
func NewMetrics(inProgress func() float64) *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: r,
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ailb_calls_total", Help: "Calls handled, by route and outcome (ai, failover_ai, fallback, dropped, abandoned, direct).",
		}, []string{"route", "outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ailb_attempts_total", Help: "Attempts to reach an assistant, by result (answered, busy, no_answer, failed, timeout, stream_error, skipped_open, caller_gone).",
		}, []string{"pool", "assistant", "result"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ailb_active_calls", Help: "Callers currently connected to an assistant.",
		}, []string{"pool", "assistant"}),
		setup: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ailb_setup_seconds", Help: "Time from FreeSWITCH's connect reply to the first bridge or stream command.", Buckets: latencyBuckets,
		}),
		failover: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ailb_failover_seconds", Help: "Time from an assistant's failure to the next attempt's command.", Buckets: latencyBuckets,
		}),
		aiFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ailb_ai_failures_total", Help: "Assistant failures: with_failover (the caller was kept) or with_drop (the caller was lost; must stay 0).",
		}, []string{"kind"}),
		StoreFallback: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ailb_store_fallback_total", Help: "Store operations answered from local state because Redis was unavailable.",
		}),
		BreakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ailb_breaker_state", Help: "Breaker state per assistant: 0 closed, 1 half-open, 2 open.",
		}, []string{"assistant"}),
		BreakerTransit: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ailb_breaker_transitions_total", Help: "Breaker state changes.",
		}, []string{"assistant", "from", "to"}),
		eslRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ailb_esl_rejected_total", Help: "ESL connections refused because the peer is not in listen.allow.",
		}),
		MediaDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ailb_media_dropped_frames_total", Help: "Audio frames the relay dropped (oldest first) because a socket could not keep up.",
		}),
	}
	r.MustRegister(m.calls, m.attempts, m.active, m.setup, m.failover, m.aiFailures,
		m.StoreFallback, m.BreakerState, m.BreakerTransit, m.eslRejected, m.MediaDropped)
	if inProgress != nil {
		r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ailb_calls_in_progress", Help: "Calls being served.",
		}, inProgress))
	}
	// Present from the start so an alert on with_drop > 0 has a series.
	m.aiFailures.WithLabelValues("with_failover")
	m.aiFailures.WithLabelValues("with_drop")
	return m
}

// CallEnded implements dialplan.Recorder.
func (m *Metrics) CallEnded(route, outcome string) { m.calls.WithLabelValues(route, outcome).Inc() }

// Attempt implements dialplan.Recorder.
func (m *Metrics) Attempt(pool, assistant, result string) {
	m.attempts.WithLabelValues(pool, assistant, result).Inc()
}

// Setup implements dialplan.Recorder.
func (m *Metrics) Setup(d time.Duration) { m.setup.Observe(d.Seconds()) }

// Failover implements dialplan.Recorder.
func (m *Metrics) Failover(d time.Duration) { m.failover.Observe(d.Seconds()) }

// AIFailure implements dialplan.Recorder.
func (m *Metrics) AIFailure(kind string) { m.aiFailures.WithLabelValues(kind).Inc() }

// Connected implements dialplan.Recorder.
func (m *Metrics) Connected(pool, assistant string, delta int) {
	m.active.WithLabelValues(pool, assistant).Add(float64(delta))
}

// Rejected counts a refused ESL peer.
func (m *Metrics) Rejected(netip.Addr) { m.eslRejected.Inc() }
