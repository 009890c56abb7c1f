package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/flowlake/flowlake/storage/meta"
)

// demoUser is the administrator `flowlake demo` creates so that its
// examples work out of the box.
const demoUser = "demo"

// demoTokenName names the API tokens the demo issues to demoUser.
const demoTokenName = "demo"

// demoCredentials are what the demo prints so that its examples work: an
// API token for curl and a password for the browser (the GraphQL
// playground needs a login session).
type demoCredentials struct {
	Token, Password string
}

// demoLogin returns fresh credentials of the demo administrator, creating
// the user on first run. Secrets are stored hashed and shown once, so every
// start issues new ones and ends the previous ones: the earlier demo tokens
// are revoked and the password replaced (which ends its sessions). Every
// change is audited like `flowlake user add`; the secrets never are.
func (a *app) demoLogin(ctx context.Context) (demoCredentials, error) {
	st, err := a.openMeta(ctx)
	if err != nil {
		return demoCredentials{}, err
	}
	defer st.Close()
	audit := func(action, target, detail string) error {
		_, err := st.AppendAudit(ctx, meta.AuditEntry{Actor: "cli", Action: action, Target: target, Outcome: meta.OutcomeSuccess, Detail: detail})
		return err
	}
	password, err := newDemoPassword()
	if err != nil {
		return demoCredentials{}, err
	}
	exp := time.Now().Add(7 * 24 * time.Hour)
	u, err := st.GetUserByName(ctx, demoUser)
	if errors.Is(err, meta.ErrNotFound) {
		added, err := a.addUser(ctx, st, meta.NewUser{Name: demoUser, Role: meta.RoleAdmin, DisplayName: "flowlake demo", Password: password}, true, meta.NewToken{Name: demoTokenName, ExpiresAt: exp})
		if err != nil {
			return demoCredentials{}, fmt.Errorf("demo user: %w", err)
		}
		return demoCredentials{Token: added.Secret, Password: password}, nil
	}
	if err != nil {
		return demoCredentials{}, fmt.Errorf("demo user: %w", err)
	}
	toks, err := st.ListTokens(ctx, u.ID)
	if err != nil {
		return demoCredentials{}, fmt.Errorf("demo tokens: %w", err)
	}
	for _, t := range toks {
		if t.Name != demoTokenName || !t.RevokedAt.IsZero() {
			continue
		}
		if _, err := st.RevokeToken(ctx, t.ID); err != nil {
			return demoCredentials{}, fmt.Errorf("revoke the previous demo token %s: %w", t.ID, err)
		}
		if err := audit("token.revoke", t.ID, "previous demo token of user "+u.ID); err != nil {
			return demoCredentials{}, err
		}
	}
	if _, err := st.UpdateUser(ctx, u.ID, meta.UserUpdate{Password: &password}); err != nil {
		return demoCredentials{}, fmt.Errorf("demo password: %w", err)
	}
	if err := audit("user.update", u.ID, "new demo password"); err != nil {
		return demoCredentials{}, err
	}
	tok, secret, err := st.CreateToken(ctx, meta.NewToken{UserID: u.ID, Name: demoTokenName, ExpiresAt: exp})
	if err != nil {
		return demoCredentials{}, fmt.Errorf("demo token: %w", err)
	}
	if err := audit("token.create", tok.ID, "demo token of user "+u.ID); err != nil {
		return demoCredentials{}, err
	}
	return demoCredentials{Token: secret, Password: password}, nil
}

// newDemoPassword returns a random password of 16 URL-safe characters
// (96 bits).
func newDemoPassword() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("demo password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
