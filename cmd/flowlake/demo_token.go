package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flowlake/flowlake/storage/meta"
)

// demoUser is the administrator `flowlake demo` creates so that its
// examples work out of the box.
const demoUser = "demo"

// demoToken returns a fresh API token of the demo administrator, creating
// the user on first run. Every run issues a new token (secrets are shown
// once), valid for a week; both are audited like `flowlake user add`.
func (a *app) demoToken(ctx context.Context) (string, error) {
	st, err := a.openMeta(ctx)
	if err != nil {
		return "", err
	}
	defer st.Close()
	exp := time.Now().Add(7 * 24 * time.Hour)
	u, err := st.GetUserByName(ctx, demoUser)
	if errors.Is(err, meta.ErrNotFound) {
		added, err := a.addUser(ctx, st, meta.NewUser{Name: demoUser, Role: meta.RoleAdmin, DisplayName: "flowlake demo"}, true, "demo", exp)
		if err != nil {
			return "", fmt.Errorf("demo user: %w", err)
		}
		return added.Secret, nil
	}
	if err != nil {
		return "", fmt.Errorf("demo user: %w", err)
	}
	tok, secret, err := st.CreateToken(ctx, meta.NewToken{UserID: u.ID, Name: "demo", ExpiresAt: exp})
	if err != nil {
		return "", fmt.Errorf("demo token: %w", err)
	}
	_, err = st.AppendAudit(ctx, meta.AuditEntry{Actor: "cli", Action: "token.create", Target: tok.ID, Outcome: meta.OutcomeSuccess, Detail: "demo token of user " + u.ID})
	return secret, err
}
