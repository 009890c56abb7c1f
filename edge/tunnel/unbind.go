package tunnel

import (
	"context"
	"errors"
	"fmt"

	wire "github.com/flowlake/flowlake/tunnel"
)

// Unbind presents the unbinding code the core's administrator issued, on
// the authentication port of the server the tunnel is up on. On success
// the core removes the binding and closes the tunnel, the edge forgets
// its credential, and it must be admitted again; a wrong code is refused
// and changes nothing.
func (c *Client) Unbind(ctx context.Context, code string) error {
	c.mu.Lock()
	hc, base, cred := c.httpc, c.authURL, c.cred
	c.mu.Unlock()
	if hc == nil || cred == "" {
		return errors.New("unbind: the edge is not bound or has never reached a core")
	}
	if _, err := post(ctx, hc, base+wire.PathUnbind, wire.UnbindRequest{Serial: c.cfg.Serial, Credential: cred, Code: code}, nil, "send", "refused"); err != nil {
		return fmt.Errorf("unbind: %w", err)
	}
	c.mu.Lock()
	c.cred = ""
	c.cfg.Enroll = ""
	c.mu.Unlock()
	return nil
}
