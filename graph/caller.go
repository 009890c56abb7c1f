package graph

import (
	"context"
	"fmt"

	"github.com/flowlake/flowlake/storage/meta"
)

// Caller is who sends the GraphQL request, as the server that mounts the
// handler authenticated them, and where mutations are audited.
type Caller struct {
	Principal meta.Principal
	// Audit records one mutation (or its refusal); nil records nothing.
	Audit func(ctx context.Context, e AuditEvent)
}

// AuditEvent is one audited mutation, named as its REST twin names it.
type AuditEvent struct {
	Action  string // user.create, ip_group.update, …
	Target  string // the object's id
	Outcome string // meta.OutcomeSuccess, OutcomeFailure, OutcomeDenied
	Detail  string // why it failed or was refused
}

type callerKey struct{}

// WithCaller returns ctx carrying the caller; the handler answers only
// requests whose context has one.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// require returns the caller when they hold perm: the same permission the
// REST route of the same data needs.
func require(ctx context.Context, perm meta.Permission) (Caller, error) {
	c, ok := callerFrom(ctx)
	if !ok {
		return Caller{}, ErrUnauthenticated
	}
	if !c.Principal.Permissions.Has(perm) {
		return c, fmt.Errorf("%w: needs permission %s", ErrForbidden, perm)
	}
	return c, nil
}

func (c Caller) audit(ctx context.Context, e AuditEvent) {
	if c.Audit != nil {
		c.Audit(ctx, e)
	}
}
