package serve

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/rollback"
	"github.com/migratekit/migrate/state"
)

// health exports the state of the instance's dependencies, read when
// Prometheus scrapes:
//
//	migrate_state_store_up                 1 while the state store answers
//	migrate_state_pending_decisions        decisions of this instance the store has not taken (it is down)
//	migrate_rollback_source_up{app}        1 while the app's rollback source answers its evaluations
//
// Each outage and recovery is also logged and recorded as an event
// (store_down/store_up by the state package, source_down/source_up by
// the rollback manager).
type health struct {
	store   state.Store
	manager *rollback.Manager
}

var (
	storeUpDesc = prometheus.NewDesc("migrate_state_store_up",
		"1 while the state store answers, 0 while it is down (the instance serves its last known state).", nil, nil)
	pendingDesc = prometheus.NewDesc("migrate_state_pending_decisions",
		"Weight decisions applied on this instance that the state store has not taken yet (it is down).", nil, nil)
	sourceUpDesc = prometheus.NewDesc("migrate_rollback_source_up",
		"1 while the app's rollback source answers, 0 while it does not (verdicts are insufficient).", []string{"app"}, nil)
)

func (h health) Describe(ch chan<- *prometheus.Desc) {
	ch <- storeUpDesc
	ch <- pendingDesc
	ch <- sourceUpDesc
}

func (h health) Collect(ch chan<- prometheus.Metric) {
	st := h.store.Status()
	ch <- prometheus.MustNewConstMetric(storeUpDesc, prometheus.GaugeValue, boolValue(st.Up))
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(st.Pending))
	for _, app := range h.manager.Apps() {
		if up, ok := h.manager.SourceUp(app); ok {
			ch <- prometheus.MustNewConstMetric(sourceUpDesc, prometheus.GaugeValue, boolValue(up), app)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
