package admission

import (
	"time"

	"k8s.io/utils/lru"
)

// Cache is a bounded LRU (k8s.io/utils/lru, already in the tree through
// client-go) with a time to live per entry. It is safe for concurrent use:
// the LRU locks itself, and an entry is replaced whole, never mutated.
type Cache[V any] struct {
	max int
	now func() time.Time
	lru *lru.Cache
}

type cacheEntry[V any] struct {
	val     V
	expires time.Time
}

// NewCache holds at most max entries (max < 1 disables caching; the LRU
// itself would read 0 as unbounded).
func NewCache[V any](max int) *Cache[V] {
	c := &Cache[V]{max: max, now: time.Now}
	if max >= 1 {
		c.lru = lru.New(max)
	}
	return c
}

// Get returns the live entry for key.
func (c *Cache[V]) Get(key string) (V, bool) {
	var zero V
	if c == nil || c.lru == nil {
		return zero, false
	}
	v, ok := c.lru.Get(key)
	if !ok {
		return zero, false
	}
	e := v.(cacheEntry[V])
	if !c.now().Before(e.expires) {
		c.lru.Remove(key)
		return zero, false
	}
	return e.val, true
}

// Put stores v for ttl, evicting the least recently used entry when full.
func (c *Cache[V]) Put(key string, v V, ttl time.Duration) {
	if c == nil || c.lru == nil || ttl <= 0 {
		return
	}
	c.lru.Add(key, cacheEntry[V]{val: v, expires: c.now().Add(ttl)})
}

// Len is the number of entries, expired ones included until touched.
func (c *Cache[V]) Len() int {
	if c == nil || c.lru == nil {
		return 0
	}
	return c.lru.Len()
}
