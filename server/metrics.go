package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus series, on a registry of its own so
// that several servers can live in one test process.
type metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	jobsSubmitted *prometheus.CounterVec
	jobsFinished  *prometheus.CounterVec
	audioSeconds  prometheus.Counter
	rtf           prometheus.Histogram
	webhooks      *prometheus.CounterVec
	liveActive    prometheus.Gauge
	liveFrames    *prometheus.CounterVec
	liveLatency   prometheus.Histogram
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "whospoke_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "whospoke_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"route"}),
		jobsSubmitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "whospoke_jobs_submitted_total", Help: "Jobs accepted, by kind.",
		}, []string{"kind"}),
		jobsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "whospoke_jobs_finished_total", Help: "Jobs finished on this node, by final status.",
		}, []string{"status"}),
		audioSeconds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "whospoke_audio_seconds_processed_total", Help: "Seconds of audio in succeeded jobs.",
		}),
		rtf: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "whospoke_job_real_time_factor", Help: "Wall time over audio duration of succeeded jobs.",
			Buckets: []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5},
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "whospoke_webhook_attempts_total", Help: "Webhook delivery attempts by outcome.",
		}, []string{"outcome"}),
		liveActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "whospoke_live_streams_active", Help: "Live streams open on this node.",
		}),
		liveFrames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "whospoke_live_frames_total", Help: "Live audio frames received, processed or invalid.",
		}, []string{"result"}),
		liveLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "whospoke_live_event_latency_seconds",
			Help:    "From the arrival of the frame that made a live event decidable to the event being written.",
			Buckets: []float64{.005, .01, .02, .03, .05, .075, .1, .15, .2, .25, .3, .4, .5, .75, 1, 2, 5},
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.jobsSubmitted, m.jobsFinished, m.audioSeconds, m.rtf, m.webhooks,
		m.liveActive, m.liveFrames, m.liveLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&storeCollector{s: s})
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *metrics) observeRequest(route, method string, code int, d time.Duration) {
	if code == 0 {
		code = http.StatusOK
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// storeCollector reads jobs by status and the queue depth at scrape time,
// so they are right across nodes sharing the store and queue.
type storeCollector struct{ s *Server }

var (
	jobsDesc  = prometheus.NewDesc("whospoke_jobs", "Jobs in the store by status (all nodes).", []string{"status"}, nil)
	queueDesc = prometheus.NewDesc("whospoke_queue_depth", "Jobs waiting for a worker.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc; ch <- queueDesc }

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if counts, err := c.s.store.CountJobs(ctx); err == nil {
		for status, n := range counts {
			ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n), status)
		}
	}
	if n, err := c.s.queue.Pending(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(n))
	}
}
