package graph

import (
	"context"
	"fmt"
	"time"

	"github.com/flowlake/flowlake/graph/model"
	"github.com/flowlake/flowlake/storage/meta"
)

// AdmissionStore manages the tunnel's allow-list of edge serials, as the
// REST routes under /api/v1/edges/admissions do. *meta.Store implements
// it.
type AdmissionStore interface {
	AdmitEdge(ctx context.Context, serial, by string) (string, error)
	ListAdmissions(ctx context.Context) ([]meta.Admission, error)
	RevokeAdmission(ctx context.Context, serial string) error
	IssueUnbindCode(ctx context.Context, serial string, ttl time.Duration) (string, error)
}

var _ AdmissionStore = (*meta.Store)(nil)

// Unbinding codes live 60 s to 7 days, as over REST.
const (
	minUnbindTTLSeconds = 60
	maxUnbindTTLSeconds = 7 * 24 * 3600
)

// admissions returns the store, or UNAVAILABLE when the server wired none.
func (r *Resolver) admissions() (AdmissionStore, error) {
	if r.deps.Admissions == nil {
		return nil, fmt.Errorf("%w: this server manages no edge admissions", ErrUnavailable)
	}
	return r.deps.Admissions, nil
}

// edgeAdmissions lists the allow-list (config.read, as GET
// /api/v1/edges/admissions).
func (r *Resolver) edgeAdmissions(ctx context.Context) ([]*model.EdgeAdmission, error) {
	if _, err := require(ctx, meta.PermConfigRead); err != nil {
		return nil, err
	}
	st, err := r.admissions()
	if err != nil {
		return nil, err
	}
	list, err := st.ListAdmissions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*model.EdgeAdmission, len(list))
	for i, a := range list {
		m := &model.EdgeAdmission{Serial: a.Serial, AdmittedAt: a.AdmittedAt.UTC(), AdmittedBy: a.AdmittedBy, Bound: a.Bound, UnbindPending: a.UnbindPending}
		if !a.BoundAt.IsZero() {
			t := a.BoundAt.UTC()
			m.BoundAt = &t
		}
		out[i] = m
	}
	return out, nil
}

// admitEdge admits serial under the caller's name (edge.admit).
func (r *Resolver) admitEdge(ctx context.Context, serial string) (*model.EdgeEnrollment, error) {
	return mutate(ctx, meta.PermConfigWrite, "edge.admit", serial, func() (*model.EdgeEnrollment, string, error) {
		st, err := r.admissions()
		if err != nil {
			return nil, "", err
		}
		c, _ := callerFrom(ctx)
		enroll, err := st.AdmitEdge(ctx, serial, c.Principal.User.Name)
		if err != nil {
			return nil, "", err
		}
		return &model.EdgeEnrollment{Serial: serial, Enroll: enroll}, "", nil
	})
}

// revokeEdgeAdmission removes serial from the allow-list (edge.revoke).
func (r *Resolver) revokeEdgeAdmission(ctx context.Context, serial string) (bool, error) {
	return mutate(ctx, meta.PermConfigWrite, "edge.revoke", serial, func() (bool, string, error) {
		st, err := r.admissions()
		if err != nil {
			return false, "", err
		}
		if err := st.RevokeAdmission(ctx, serial); err != nil {
			return false, "", err
		}
		return true, "", nil
	})
}

// issueEdgeUnbindCode issues a bound edge's unbinding code, valid
// ttlSeconds (edge.unbind_code).
func (r *Resolver) issueEdgeUnbindCode(ctx context.Context, serial string, ttlSeconds int) (*model.EdgeUnbindCode, error) {
	return mutate(ctx, meta.PermConfigWrite, "edge.unbind_code", serial, func() (*model.EdgeUnbindCode, string, error) {
		if ttlSeconds < minUnbindTTLSeconds || ttlSeconds > maxUnbindTTLSeconds {
			return nil, "", fmt.Errorf("%w: ttlSeconds %d: want %d to %d", ErrInvalid, ttlSeconds, minUnbindTTLSeconds, maxUnbindTTLSeconds)
		}
		st, err := r.admissions()
		if err != nil {
			return nil, "", err
		}
		ttl := time.Duration(ttlSeconds) * time.Second
		code, err := st.IssueUnbindCode(ctx, serial, ttl)
		if err != nil {
			return nil, "", err
		}
		return &model.EdgeUnbindCode{Serial: serial, Code: code, Expires: r.deps.Now().Add(ttl).UTC().Truncate(time.Second)}, "", nil
	})
}
