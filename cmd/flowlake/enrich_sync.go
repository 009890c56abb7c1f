package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/flowlake/flowlake/edge"
	"github.com/flowlake/flowlake/ingest/flow"
	"github.com/flowlake/flowlake/storage/meta"
)

// enrichEvery is how often the embedded edge rereads the applications and
// IP groups of the metadata store: a change made through the API applies
// to flows decoded at most this long after it (docs/edge.md).
const enrichEvery = 5 * time.Second

// enrichSource is what the sync reads from the metadata store.
type enrichSource interface {
	ListApplications(ctx context.Context) ([]meta.Application, error)
	ListIPGroups(ctx context.Context) ([]meta.IPGroup, error)
}

// enrichmentFrom merges the store's applications and IP groups (first) with
// the configured ones (after), keeping the configured exporter names.
func enrichmentFrom(base flow.EnrichConfig, apps []meta.Application, groups []meta.IPGroup) flow.EnrichConfig {
	out := base
	out.Applications = nil
	for _, a := range apps {
		proto := a.Protocol
		if proto == "any" {
			proto = ""
		}
		out.Applications = append(out.Applications, flow.Application{Name: a.Name, Addresses: slices.Clone(a.Addresses), Ports: slices.Clone(a.Ports), Protocol: proto})
	}
	out.Applications = append(out.Applications, base.Applications...)
	out.IPGroups = nil
	for _, g := range groups {
		out.IPGroups = append(out.IPGroups, flow.IPGroup{Name: g.Name, Addresses: slices.Clone(g.Members)})
	}
	out.IPGroups = append(out.IPGroups, base.IPGroups...)
	return out
}

// applyEnrichment reads the store and gives the edge its applications and
// IP groups when they differ from applied (the fingerprint of the last
// ones given); it returns the new fingerprint.
func applyEnrichment(ctx context.Context, st enrichSource, e *edge.Edge, base flow.EnrichConfig, applied string) (string, error) {
	apps, err := st.ListApplications(ctx)
	if err != nil {
		return applied, fmt.Errorf("enrichment: list applications: %w", err)
	}
	groups, err := st.ListIPGroups(ctx)
	if err != nil {
		return applied, fmt.Errorf("enrichment: list IP groups: %w", err)
	}
	cfg := enrichmentFrom(base, apps, groups)
	fp, err := json.Marshal(cfg)
	if err != nil || string(fp) == applied {
		return applied, err
	}
	if err := e.SetEnrichment(cfg); err != nil {
		return applied, fmt.Errorf("enrichment: applications or IP groups refused, keeping the previous ones: %w", err)
	}
	return string(fp), nil
}

// syncEnrichment keeps the edge's enrichment equal to the store's
// applications and IP groups until ctx ends.
func syncEnrichment(ctx context.Context, st enrichSource, e *edge.Edge, base flow.EnrichConfig, every time.Duration, log *slog.Logger) error {
	var applied string
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		fp, err := applyEnrichment(ctx, st, e, base, applied)
		if err != nil && ctx.Err() == nil {
			log.Error("enrichment", "err", err)
		}
		if fp != applied {
			log.Info("enrichment updated from the metadata store")
			applied = fp
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
