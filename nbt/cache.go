package nbt

import (
	"net/netip"
	"sync"
	"time"

	"github.com/netbios-go/netbios/nbns"
)

// DefaultNameCacheTTL is how long a Dialer remembers the called name an
// address accepted, when Dialer.NameCacheTTL is zero.
const DefaultNameCacheTTL = 5 * time.Minute

// maxCacheEntries bounds a name cache; past it, expired entries are swept
// and, if that is not enough, arbitrary ones dropped.
const maxCacheEntries = 4096

// nameCache remembers which called name each session address accepted.
type nameCache struct {
	mu sync.Mutex
	m  map[netip.AddrPort]cacheEntry
}

type cacheEntry struct {
	name    nbns.Name
	expires time.Time
}

// get returns the name addr accepted, if it is remembered and fresh.
func (c *nameCache) get(addr netip.AddrPort, now time.Time) (nbns.Name, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[addr]
	if !ok || !now.Before(e.expires) {
		return nbns.Name{}, false
	}
	return e.name, true
}

// put remembers that addr accepted name.
func (c *nameCache) put(addr netip.AddrPort, name nbns.Name, now time.Time, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[netip.AddrPort]cacheEntry)
	}
	if _, ok := c.m[addr]; !ok && len(c.m) >= maxCacheEntries {
		for a, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, a)
			}
		}
		for a := range c.m {
			if len(c.m) < maxCacheEntries {
				break
			}
			delete(c.m, a)
		}
	}
	c.m[addr] = cacheEntry{name: name, expires: now.Add(ttl)}
}

// forget drops what addr is remembered to accept, if it is name: the host
// has just refused it.
func (c *nameCache) forget(addr netip.AddrPort, name nbns.Name) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[addr]; ok && e.name == name {
		delete(c.m, addr)
	}
}
