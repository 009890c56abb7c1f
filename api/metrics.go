package api

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowlake/flowlake/graph"
)

// graphSubscriptionMetrics are the GraphQL handler's subscription
// counts, read at scrape time from the handler the routes serve.
func (s *Server) graphSubscriptionMetrics() []prometheus.Collector {
	stat := func(f func(graph.SubscriptionStats) int64) func() float64 {
		return func() float64 {
			if h := s.graph.Load(); h != nil {
				return float64(f(h.SubscriptionStats()))
			}
			return 0
		}
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "flowlake", Subsystem: "graphql", Name: "subscriptions_active",
			Help: "GraphQL subscriptions running now."}, stat(func(st graph.SubscriptionStats) int64 { return st.Active })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "flowlake", Subsystem: "graphql", Name: "subscriptions_refused_total",
			Help: "GraphQL subscriptions refused because their caller held graphql.max_subscriptions_per_caller already."},
			stat(func(st graph.SubscriptionStats) int64 { return st.Refused })),
	}
}

// metrics are the server's request metrics, registered in Deps.Registry.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	// ingest counts segment uploads by outcome (see ingestOutcome*).
	ingest *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "flowlake",
			Subsystem: "http",
			Name:      "requests_total",
			Help:      "HTTP requests answered, by method, route template and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "flowlake",
			Subsystem: "http",
			Name:      "request_duration_seconds",
			Help:      "Time to answer an HTTP request, by method and route template.",
			Buckets:   []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "flowlake",
			Subsystem: "http",
			Name:      "requests_in_flight",
			Help:      "HTTP requests being answered.",
		}),
		ingest: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "flowlake",
			Subsystem: "api",
			Name:      "ingest_segments_total",
			Help: "Segment uploads by outcome: published, retry (already published under its id), duplicate " +
				"(its content already published under another id), refused_edge (the token may not write for its source), " +
				"refused_time (rows outside the accepted time window), invalid (not a valid segment), failed (server error).",
		}, []string{"outcome"}),
	}
	for _, o := range ingestOutcomes {
		m.ingest.WithLabelValues(o) // every outcome shows, at 0, from the start
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight, m.ingest} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
