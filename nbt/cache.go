package nbt

import (
	"net/netip"
	"sync"
	"time"

	"github.com/netbios-go/netbios/nbns"
)

// DefaultNameCacheTTL is how long DefaultNameCache remembers the called
// name an address accepted.
const DefaultNameCacheTTL = 5 * time.Minute

// DefaultNameCache is the cache of Dialers whose Cache is nil, as Windows
// keeps one NetBIOS name cache for the whole system.
var DefaultNameCache = NewNameCache(DefaultNameCacheTTL)

// maxCacheEntries bounds a name cache; past it, expired entries are swept
// and, if that is not enough, arbitrary ones dropped.
const maxCacheEntries = 4096

// A NameCache remembers the called name each session address accepted,
// for TTL, so that the next dial to it asks for that name first, with no
// node status and one connection: two round trips. A name the host then
// refuses with 0x82 or 0x80 is forgotten. It holds at most 4096 addresses.
// A NameCache is safe for concurrent use; a [Dialer] shares its Cache
// among its dials.
type NameCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[netip.AddrPort]cacheEntry
}

// NewNameCache returns an empty cache whose entries live for ttl. A ttl of
// zero or less gives a cache that remembers nothing.
func NewNameCache(ttl time.Duration) *NameCache {
	return &NameCache{ttl: ttl}
}

// Lookup returns the called name addr accepted, if the cache holds it.
func (c *NameCache) Lookup(addr netip.AddrPort) (nbns.Name, bool) {
	return c.get(addr, time.Now())
}

// Flush empties the cache.
func (c *NameCache) Flush() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}

type cacheEntry struct {
	name    nbns.Name
	expires time.Time
}

// get returns the name addr accepted, if it is remembered and fresh.
func (c *NameCache) get(addr netip.AddrPort, now time.Time) (nbns.Name, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[addr]
	if !ok || !now.Before(e.expires) {
		return nbns.Name{}, false
	}
	return e.name, true
}

// put remembers that addr accepted name.
func (c *NameCache) put(addr netip.AddrPort, name nbns.Name, now time.Time) {
	if c.ttl <= 0 {
		return
	}
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
	c.m[addr] = cacheEntry{name: name, expires: now.Add(c.ttl)}
}

// forget drops what addr is remembered to accept, if it is name: the host
// has just refused it.
func (c *NameCache) forget(addr netip.AddrPort, name nbns.Name) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[addr]; ok && e.name == name {
		delete(c.m, addr)
	}
}
