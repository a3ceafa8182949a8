package dns

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus metrics, in a registry of its own.
type metrics struct {
	registry       *prometheus.Registry
	requests       *prometheus.CounterVec // by source (cluster, forward) and rcode
	duration       *prometheus.HistogramVec
	cacheHits      prometheus.Counter
	cacheMisses    prometheus.Counter
	upstreamErrors *prometheus.CounterVec
}

func newMetrics(cacheSize func() int) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "k1s_dns_requests_total",
			Help: "DNS requests answered, by source (cluster: from the cluster zone; forward: from an upstream or the cache) and response code.",
		}, []string{"source", "rcode"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "k1s_dns_request_duration_seconds",
			Help:    "Time to answer a DNS request, by source.",
			Buckets: []float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"source"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "k1s_dns_cache_hits_total",
			Help: "Forwarded questions answered from the cache.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "k1s_dns_cache_misses_total",
			Help: "Forwarded questions not in the cache.",
		}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "k1s_dns_upstream_errors_total",
			Help: "Failed exchanges with an upstream resolver, by upstream.",
		}, []string{"upstream"}),
	}
	m.registry.MustRegister(
		m.requests, m.duration, m.cacheHits, m.cacheMisses, m.upstreamErrors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "k1s_dns_cache_entries",
			Help: "Answers held in the forwarding cache.",
		}, func() float64 { return float64(cacheSize()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}
