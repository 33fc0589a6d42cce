package pgstorer

import (
	"container/list"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// objectCache is a least-recently-used cache of objects read from
// PostgreSQL, bounded in bytes. Objects never change, so entries need no
// invalidation; the key holds the project so that one project can never see
// another project's objects through the cache.
type objectCache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	order *list.List // front: most recently used
	items map[cacheKey]*list.Element
}

type cacheKey struct {
	project string
	hash    plumbing.Hash
}

type cacheEntry struct {
	key cacheKey
	obj plumbing.EncodedObject
}

func newObjectCache(maxBytes int64) *objectCache {
	return &objectCache{max: maxBytes, order: list.New(), items: map[cacheKey]*list.Element{}}
}

func (c *objectCache) get(project string, h plumbing.Hash) (plumbing.EncodedObject, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[cacheKey{project, h}]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).obj, true
}

func (c *objectCache) put(project string, h plumbing.Hash, o plumbing.EncodedObject) {
	if o.Size() > c.max/2 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := cacheKey{project, h}
	if _, ok := c.items[k]; ok {
		return
	}
	c.items[k] = c.order.PushFront(&cacheEntry{key: k, obj: o})
	c.size += o.Size()
	for c.size > c.max {
		el := c.order.Back()
		e := el.Value.(*cacheEntry)
		c.order.Remove(el)
		delete(c.items, e.key)
		c.size -= e.obj.Size()
	}
}

// dropProject forgets a removed project's objects, so a project created
// again under the same name starts from an empty cache.
func (c *objectCache) dropProject(project string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, el := range c.items {
		if k.project == project {
			c.order.Remove(el)
			delete(c.items, k)
			c.size -= el.Value.(*cacheEntry).obj.Size()
		}
	}
}
