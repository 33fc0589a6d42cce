package resource

import (
	"strings"
	"testing"
)

func TestContentCacheBounded(t *testing.T) {
	c := newContentCache(10 * (100 + contentOverhead + 3))
	key := func(i int) contentKey {
		return contentKey{project: "p", commit: strings.Repeat("c", 1), path: string(rune('a' + i))}
	}
	for i := range 20 {
		c.put(key(i), make([]byte, 100))
	}
	if c.bytes > c.maxBytes || len(c.entries) != c.lru.Len() {
		t.Fatalf("%d bytes in %d entries (%d in the list), limit %d", c.bytes, len(c.entries), c.lru.Len(), c.maxBytes)
	}
	if _, _, ok := c.get(key(0)); ok {
		t.Error("the oldest entry is still cached")
	}
	if _, exists, ok := c.get(key(19)); !ok || !exists {
		t.Error("the newest entry is not cached")
	}
	c.put(contentKey{path: "big"}, make([]byte, c.maxBytes))
	if _, _, ok := c.get(contentKey{path: "big"}); ok {
		t.Error("content larger than a quarter of the cache was kept")
	}
	c.put(key(30), nil)
	if data, exists, ok := c.get(key(30)); !ok || exists || data != nil {
		t.Errorf("a miss: data %v, exists %v, cached %v", data, exists, ok)
	}
}
