package spec

import (
	"container/list"
	"crypto/sha256"
	"slices"
	"sync"

	"github.com/tendhq/tend/internal/slo"
)

// Cache keeps decoded shipyards and SLO files by their content, so that a
// shipyard read by the API, the problem intake and the remediation loop,
// or an SLO read by every step of an evaluation, is decoded once per
// version instead of on every read. A Git commit pins a file's bytes, so
// keying on a hash of the bytes keys on the version without trusting each
// caller to name it (the store's project record carries no commit id), and
// an edited file is a new entry, never a stale one.
//
// The values returned are shared between callers and must not be
// modified. A Cache is safe for concurrent use; a nil *Cache decodes every
// time, for callers and tests that have none.
type Cache struct {
	mu      sync.Mutex
	size    int
	entries map[cacheKey]*list.Element
	// order holds the entries, the most recently used at the front, so
	// the one to drop when the cache is full is at the back.
	order *list.List
	// decoded counts the decodes by kind: the cache's misses.
	decoded map[Kind]int
}

type cacheKey struct {
	kind Kind
	// name is part of the key because diagnostics name the file.
	name string
	sum  [sha256.Size]byte
}

type cacheEntry struct {
	key   cacheKey
	value any // *Shipyard or *slo.SLO; nil when diags hold an error
	diags Diagnostics
}

// NewCache returns a cache of at most size decoded files (at least 1).
// Shipyards and SLO files are a few kilobytes decoded, so a few thousand
// entries cost a few megabytes.
func NewCache(size int) *Cache {
	return &Cache{size: max(size, 1), entries: map[cacheKey]*list.Element{}, order: list.New(), decoded: map[Kind]int{}}
}

// Shipyard returns DecodeShipyard(name, data), decoding only when this
// content has not been decoded under this name before.
func (c *Cache) Shipyard(name string, data []byte) (*Shipyard, Diagnostics) {
	v, diags := c.get(KindShipyard, name, data, func() (any, Diagnostics) {
		sy, diags := DecodeShipyard(name, data)
		if sy == nil {
			return nil, diags
		}
		return sy, diags
	})
	sy, _ := v.(*Shipyard)
	return sy, diags
}

// SLO returns DecodeSLO(name, data), decoding only when this content has
// not been decoded under this name before.
func (c *Cache) SLO(name string, data []byte) (*slo.SLO, Diagnostics) {
	v, diags := c.get(KindSLO, name, data, func() (any, Diagnostics) {
		s, diags := DecodeSLO(name, data)
		if s == nil {
			return nil, diags
		}
		return s, diags
	})
	s, _ := v.(*slo.SLO)
	return s, diags
}

// Len returns how many decoded files the cache holds.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Decoded returns how many files of kind the cache has decoded, that is
// how often it missed; together with the calls its callers make, this
// shows what decoding once per version saves (tests assert on it).
func (c *Cache) Decoded(kind Kind) int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.decoded[kind]
}

// get returns the cached result for the key of (kind, name, data), or
// decodes and stores it. Decoding runs outside the lock, so a slow decode
// never blocks other readers; two callers that miss the same key at once
// both decode, and the first to finish is kept.
func (c *Cache) get(kind Kind, name string, data []byte, decode func() (any, Diagnostics)) (any, Diagnostics) {
	if c == nil {
		return decode()
	}
	key := cacheKey{kind: kind, name: name, sum: sha256.Sum256(data)}
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		c.order.MoveToFront(el)
		e := el.Value.(*cacheEntry)
		c.mu.Unlock()
		return e.value, slices.Clip(e.diags)
	}
	c.mu.Unlock()

	value, diags := decode()

	c.mu.Lock()
	defer c.mu.Unlock()
	c.decoded[kind]++
	if el, ok := c.entries[key]; ok {
		c.order.MoveToFront(el)
		e := el.Value.(*cacheEntry)
		return e.value, slices.Clip(e.diags)
	}
	c.entries[key] = c.order.PushFront(&cacheEntry{key: key, value: value, diags: diags})
	for c.order.Len() > c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
	// Clipped, so that a caller appending to the diagnostics copies them
	// instead of writing into the cached array.
	return value, slices.Clip(diags)
}
