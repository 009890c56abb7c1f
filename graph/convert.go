package graph

import (
	"context"
	"encoding/json"
	"time"

	"github.com/flowlake/flowlake/graph/model"
	"github.com/flowlake/flowlake/storage/meta"
)

func parseRFC3339(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// datasets lists every dataset of the schema, in schema order, with the
// lake's statistics (zero for an empty dataset).
func (r *Resolver) datasets(ctx context.Context) ([]*model.Dataset, error) {
	if _, err := require(ctx, meta.PermAnalysisRead); err != nil {
		return nil, err
	}
	stats, err := r.deps.Datasets.DatasetStats(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]DatasetStats{}
	for _, st := range stats {
		byName[st.Dataset] = st
	}
	var out []*model.Dataset
	for _, rt := range recordTypes() {
		d, st := rt.dataset, byName[rt.dataset.Name]
		ds := &model.Dataset{
			Name: d.Name, Description: d.Doc, RecordType: rt.typeName, QueryField: rt.field,
			Rows: st.Rows, Bytes: st.Bytes, Files: st.Files, Partitions: st.Partitions,
		}
		if d.DerivedFrom != "" {
			ds.DerivedFrom = &d.DerivedFrom
		}
		if !st.MinTime.IsZero() {
			mn, mx := st.MinTime.UTC(), st.MaxTime.UTC()
			ds.MinTime, ds.MaxTime = &mn, &mx
		}
		for i, c := range d.Columns {
			ds.Columns = append(ds.Columns, &model.DatasetColumn{
				Name: c.Name, Field: rt.fields[i].name, Type: rt.fields[i].gqlType, Nullable: c.Nullable,
				Unit: c.Unit, Description: c.Doc,
			})
		}
		out = append(out, ds)
	}
	return out, nil
}

// mutate runs one audited metadata change: the permission check (a
// refusal is audited as denied), the change, and its audit entry under
// the REST route's action name.
func mutate[T any](ctx context.Context, perm meta.Permission, action, target string, change func() (T, string, error)) (T, error) {
	var zero T
	c, err := require(ctx, perm)
	if err != nil {
		c.audit(ctx, AuditEvent{Action: action, Target: target, Outcome: meta.OutcomeDenied, Detail: "missing " + string(perm)})
		return zero, err
	}
	v, id, err := change()
	if id != "" {
		target = id
	}
	if err != nil {
		code, _ := classify(err)
		c.audit(ctx, AuditEvent{Action: action, Target: target, Outcome: meta.OutcomeFailure, Detail: code + ": " + err.Error()})
		return zero, err
	}
	c.audit(ctx, AuditEvent{Action: action, Target: target, Outcome: meta.OutcomeSuccess})
	return v, nil
}

func permissionStrings(ps []meta.Permission) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, string(p))
	}
	return out
}

func ipGroupInput(in model.IPGroupInput) meta.IPGroupInput {
	return meta.IPGroupInput{Name: in.Name, Description: deref(in.Description, ""), Members: in.Members}
}

func applicationInput(in model.ApplicationInput) meta.ApplicationInput {
	return meta.ApplicationInput{Name: in.Name, Description: deref(in.Description, ""), Protocol: deref(in.Protocol, ""),
		Addresses: in.Addresses, Ports: in.Ports}
}

func ptrs[T any](v []T) []*T {
	out := make([]*T, len(v))
	for i := range v {
		out[i] = &v[i]
	}
	return out
}

func reportDefinitionInput(in model.ReportDefinitionInput) meta.ReportDefinitionInput {
	out := meta.ReportDefinitionInput{Name: in.Name, Description: deref(in.Description, ""), Type: in.Type, Formats: in.Formats}
	if in.Params != nil {
		out.Params = json.RawMessage(*in.Params)
	}
	return out
}

func reportScheduleInput(in model.ReportScheduleInput) meta.ReportScheduleInput {
	return meta.ReportScheduleInput{Name: in.Name, DefinitionID: in.DefinitionID, Period: in.Period, Cron: deref(in.Cron, ""),
		Zone: deref(in.Zone, ""), DelayMinutes: in.DelayMinutes, Formats: in.Formats, Recipients: in.Recipients,
		Attach: in.Attach, Enabled: in.Enabled, MaxAttempts: deref(in.MaxAttempts, 0)}
}
