package api

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/flowlake/flowlake/storage/meta"
)

// tokenCacheTTL is how long a bearer token's principal is reused without
// asking the metadata store again: a revoked token, a disabled user or a
// changed role takes effect within it on every replica. It only removes the
// store's round trip from dashboards polling with the same token.
const tokenCacheTTL = 2 * time.Second

// tokenCacheMax bounds the cache; when full it starts over.
const tokenCacheMax = 10_000

// tokenCache remembers recently authenticated bearer tokens by the SHA-256
// of their secret (the secret itself is never kept).
type tokenCache struct {
	mu      sync.Mutex
	entries map[[32]byte]cachedPrincipal
}

type cachedPrincipal struct {
	p     meta.Principal
	until time.Time
}

func (c *tokenCache) get(secret string, now time.Time) (meta.Principal, bool) {
	k := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || now.After(e.until) {
		return meta.Principal{}, false
	}
	return e.p, true
}

func (c *tokenCache) put(secret string, p meta.Principal, now time.Time) {
	k := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= tokenCacheMax {
		c.entries = make(map[[32]byte]cachedPrincipal)
	}
	c.entries[k] = cachedPrincipal{p: p, until: now.Add(tokenCacheTTL)}
}

// clear forgets every cached token.
func (c *tokenCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
}
