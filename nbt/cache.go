package nbt

import (
	"net/netip"
	"sync"
	"time"

	"github.com/netbios-go/netbios/nbns"
)

// DefaultNameCacheTTL is how long DefaultNameCache remembers the called
// name a host accepted.
const DefaultNameCacheTTL = 5 * time.Minute

// DefaultNameCache is the cache of Dialers whose Cache is nil, as Windows
// keeps one NetBIOS name cache for the whole system.
var DefaultNameCache = NewNameCache(DefaultNameCacheTTL)

// maxCacheEntries bounds a name cache; past it, expired entries are swept
// and, if that is not enough, arbitrary ones dropped.
const maxCacheEntries = 4096

// A NameCache remembers, for TTL, the called name that a dial's discovery
// found and the host accepted, so that the next dial to the same host asks
// for that name first, with no node status and one connection: two round
// trips. Its key is what the caller dialed: the host name, if one was
// given, and the session address it resolved to. A dial for one host name
// never gets the name learned for another that shares its address, nor
// for the bare address. A name the caller set (Dialer.CalledName) is not
// learned: it says what the caller wants, not what the host is. A name
// the host then refuses with 0x82 or 0x80 is forgotten. It holds at most
// 4096 entries. A NameCache is safe for concurrent use; a [Dialer] shares
// its Cache among its dials.
type NameCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[cacheKey]cacheEntry
}

// cacheKey is what a dial was for.
type cacheKey struct {
	host string // canonical host name; "" for a dial by address
	addr netip.AddrPort
}

// NewNameCache returns an empty cache whose entries live for ttl. A ttl of
// zero or less gives a cache that remembers nothing.
func NewNameCache(ttl time.Duration) *NameCache {
	return &NameCache{ttl: ttl}
}

// Lookup returns the called name the cache holds for a dial to host at
// addr. host is the host name the dial was given, in any case and with or
// without a final dot, or "" for a dial by address.
func (c *NameCache) Lookup(host string, addr netip.AddrPort) (nbns.Name, bool) {
	return c.get(cacheKey{canonicalHost(host), addr}, time.Now())
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

// get returns the name remembered for k, if it is fresh.
func (c *NameCache) get(k cacheKey, now time.Time) (nbns.Name, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || !now.Before(e.expires) {
		return nbns.Name{}, false
	}
	return e.name, true
}

// put remembers that the host of k accepted name.
func (c *NameCache) put(k cacheKey, name nbns.Name, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[cacheKey]cacheEntry)
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= maxCacheEntries {
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
	c.m[k] = cacheEntry{name: name, expires: now.Add(c.ttl)}
}

// forget drops the name remembered for k, if it is name: the host has
// just refused it.
func (c *NameCache) forget(k cacheKey, name nbns.Name) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok && e.name == name {
		delete(c.m, k)
	}
}
