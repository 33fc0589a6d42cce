package resource

import (
	"container/list"
	"sync"
)

// contentCache holds what Get read, keyed by project, commit and path.
// What a path holds at a commit never changes (a commit id names its whole
// tree), so an entry is never stale: a new commit is a new key, and Get
// looks the branch head up in the repository on every call, so a commit
// made by another replica is seen at once. Only the content reads are
// saved: the commit, the trees on the path and the blob. Misses (no such
// file at that commit) are kept too, since the evaluator asks for
// sli.yaml at three levels and most of them have none.
type contentCache struct {
	mu       sync.Mutex
	maxBytes int
	bytes    int
	entries  map[contentKey]*list.Element
	lru      list.List // of *contentEntry, most recently used first
}

type contentKey struct {
	project, commit, path string
}

type contentEntry struct {
	key  contentKey
	data []byte // nil for a file that does not exist at the commit
}

// contentOverhead is what an entry costs besides its content, counted so
// that a cache of misses stays bounded too.
const contentOverhead = 256

func newContentCache(maxBytes int) *contentCache {
	return &contentCache{maxBytes: maxBytes, entries: map[contentKey]*list.Element{}}
}

// get returns a copy of the cached content (callers may change what Get
// returns), whether the file exists, and whether the key was cached.
func (c *contentCache) get(k contentKey) (data []byte, exists, ok bool) {
	if c == nil {
		return nil, false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[k]
	if !ok {
		return nil, false, false
	}
	c.lru.MoveToFront(el)
	e := el.Value.(*contentEntry)
	if e.data == nil {
		return nil, false, true
	}
	return append([]byte(nil), e.data...), true, true
}

// put records content (nil: no such file) for k, dropping the least
// recently used entries beyond the cache's size. Content larger than a
// quarter of the cache is not kept.
func (c *contentCache) put(k contentKey, data []byte) {
	size := len(data) + len(k.project) + len(k.commit) + len(k.path) + contentOverhead
	if c == nil || size > c.maxBytes/4 {
		return
	}
	if data != nil {
		data = append(make([]byte, 0, len(data)), data...)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; ok {
		return
	}
	c.entries[k] = c.lru.PushFront(&contentEntry{key: k, data: data})
	c.bytes += size
	for c.bytes > c.maxBytes {
		el := c.lru.Back()
		e := el.Value.(*contentEntry)
		c.lru.Remove(el)
		delete(c.entries, e.key)
		c.bytes -= len(e.data) + len(e.key.project) + len(e.key.commit) + len(e.key.path) + contentOverhead
	}
}
