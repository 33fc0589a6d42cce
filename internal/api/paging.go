package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/tendhq/tend/internal/store"
)

// page parses pageSize and nextPageKey of a name-ordered list. The key is
// the last name of the previous page, opaque to clients.
func page(r *http.Request) (size int, after string, err error) {
	size = store.DefaultPageSize
	if v := r.URL.Query().Get("pageSize"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 {
			return 0, "", errorf(http.StatusBadRequest, "pageSize %q is invalid: give a whole number from 1 to %d", v, store.MaxPageSize)
		}
		size = min(n, store.MaxPageSize)
	}
	if k := r.URL.Query().Get("nextPageKey"); k != "" {
		b, derr := base64.RawURLEncoding.DecodeString(k)
		if derr != nil || len(b) < 2 || b[0] != 'n' {
			return 0, "", errorf(http.StatusBadRequest, "nextPageKey %q was not handed out by this server: pass the nextPageKey of the previous page unchanged", k)
		}
		after = string(b[1:])
	}
	return size, after, nil
}

// pageOf cuts one page out of names sorted ascending; it returns the
// indexes [from, to) and the next page's key ("" on the last page).
func pageOf(names []string, size int, after string) (int, int, string) {
	from := 0
	if after != "" {
		from = len(names)
		for i, n := range names {
			if n > after {
				from = i
				break
			}
		}
	}
	to := min(from+size, len(names))
	next := ""
	if to < len(names) && to > from {
		next = encodePageName(names[to-1])
	}
	return from, to, next
}

// listPage is one page of a name-ordered list.
type listPage[T any] struct {
	items []T
	next  string // the next page's key, "" on the last page
	size  int    // the page size asked for
	total int    // how many items all pages hold
}

// cutPage cuts the page after the key after out of all, sorted ascending
// by name (pageOf).
func cutPage[T any](all []T, name func(T) string, size int, after string) listPage[T] {
	names := make([]string, len(all))
	for i, v := range all {
		names[i] = name(v)
	}
	from, to, next := pageOf(names, size, after)
	return listPage[T]{items: all[from:to], next: next, size: size, total: len(all)}
}

// answerEach maps every item to its answer; the result is never nil, so an
// empty list is answered as [].
func answerEach[T, A any](ctx context.Context, items []T, answer func(context.Context, T) (A, error)) ([]A, error) {
	out := make([]A, 0, len(items))
	for _, v := range items {
		a, err := answer(ctx, v)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// indexPage pages a list in its own order; the key (opaque to clients, as
// page's) holds the index of the next item.
func indexPage(n, size int, after string) (int, int, string) {
	from := 0
	if after != "" {
		if i, err := strconv.Atoi(after); err == nil && i > 0 {
			from = min(i, n)
		}
	}
	to := min(from+size, n)
	next := ""
	if to < n {
		next = encodePageName(strconv.Itoa(to))
	}
	return from, to, next
}

// encodePageName makes a page key page() reads back as name.
func encodePageName(name string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("n" + name))
}
