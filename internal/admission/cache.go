package admission

import (
	"container/list"
	"sync"
	"time"
)

// Cache is a bounded LRU with a time to live per entry. It is safe for
// concurrent use.
type Cache[V any] struct {
	mu    sync.Mutex
	max   int
	now   func() time.Time
	ll    *list.List
	items map[string]*list.Element
}

type cacheEntry[V any] struct {
	key     string
	val     V
	expires time.Time
}

// NewCache holds at most max entries (max < 1 disables caching).
func NewCache[V any](max int) *Cache[V] {
	return &Cache[V]{max: max, now: time.Now, ll: list.New(), items: map[string]*list.Element{}}
}

// Get returns the live entry for key.
func (c *Cache[V]) Get(key string) (V, bool) {
	var zero V
	if c == nil || c.max < 1 {
		return zero, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return zero, false
	}
	e := el.Value.(*cacheEntry[V])
	if !c.now().Before(e.expires) {
		c.ll.Remove(el)
		delete(c.items, key)
		return zero, false
	}
	c.ll.MoveToFront(el)
	return e.val, true
}

// Put stores v for ttl, evicting the least recently used entry when full.
func (c *Cache[V]) Put(key string, v V, ttl time.Duration) {
	if c == nil || c.max < 1 || ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	exp := c.now().Add(ttl)
	if el, ok := c.items[key]; ok {
		e := el.Value.(*cacheEntry[V])
		e.val, e.expires = v, exp
		c.ll.MoveToFront(el)
		return
	}
	c.items[key] = c.ll.PushFront(&cacheEntry[V]{key: key, val: v, expires: exp})
	for c.ll.Len() > c.max {
		el := c.ll.Back()
		c.ll.Remove(el)
		delete(c.items, el.Value.(*cacheEntry[V]).key)
	}
}

// Len is the number of entries, expired ones included until touched.
func (c *Cache[V]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
