package pgstorer

import (
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

func TestObjectCache(t *testing.T) {
	obj := func(content string) (plumbing.Hash, plumbing.EncodedObject) {
		o := newObject(plumbing.BlobObject, []byte(content))
		return o.Hash(), o
	}
	ha, a := obj("aaaaaaaaaa")
	hb, b := obj("bbbbbbbbbb")
	hc, c := obj("cccccccccc")

	cases := []struct {
		name    string
		run     func(*objectCache)
		project string
		hash    plumbing.Hash
		want    bool
	}{
		{"hit", func(c *objectCache) { c.put("p", ha, a) }, "p", ha, true},
		{"other project misses", func(c *objectCache) { c.put("p", ha, a) }, "q", ha, false},
		{"oldest evicted", func(cc *objectCache) { cc.put("p", ha, a); cc.put("p", hb, b); cc.put("p", hc, c) }, "p", ha, false},
		{"recently used kept", func(cc *objectCache) {
			cc.put("p", ha, a)
			cc.put("p", hb, b)
			cc.get("p", ha)
			cc.put("p", hc, c)
		}, "p", ha, true},
		{"dropped project", func(c *objectCache) { c.put("p", ha, a); c.dropProject("p") }, "p", ha, false},
		{"too large not cached", func(cc *objectCache) {
			h, big := obj(string(make([]byte, 100)))
			cc.put("p", h, big)
		}, "p", plumbing.ComputeHash(plumbing.BlobObject, make([]byte, 100)), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newObjectCache(25) // room for two 10-byte objects
			tc.run(c)
			if _, ok := c.get(tc.project, tc.hash); ok != tc.want {
				t.Errorf("cached = %v, want %v", ok, tc.want)
			}
			if c.size < 0 || c.size > c.max {
				t.Errorf("size %d outside 0..%d", c.size, c.max)
			}
		})
	}
}
