package ingress

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the controller's own registry: requests by code and their
// duration, per Ingress and service. Requests no rule matched have empty
// ingress and service labels.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "k1s_ingress_requests_total",
			Help: "Requests proxied by the ingress controller, by Ingress, service and status code.",
		}, []string{"namespace", "ingress", "service", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "k1s_ingress_request_duration_seconds",
			Help:    "Time from receiving a request to the end of its answer, by Ingress and service.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"namespace", "ingress", "service"}),
	}
	m.registry.MustRegister(m.requests, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(namespace, ingress, service string, code int, d time.Duration) {
	m.requests.WithLabelValues(namespace, ingress, service, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(namespace, ingress, service).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
