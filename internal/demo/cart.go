package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
)

// Item is one line of a cart, as sockshop's carts service has it.
type Item struct {
	ItemID    string  `json:"itemId"`
	Quantity  int     `json:"quantity"`
	UnitPrice float64 `json:"unitPrice"`
}

// Cart is a customer's cart as GET /carts/{customerId} answers it.
type Cart struct {
	CustomerID string  `json:"customerId"`
	Items      []Item  `json:"items"`
	Total      float64 `json:"total"`
}

// Limits of what the service accepts, so that a long demo under load (or a
// hostile client) cannot grow its memory without bound.
const (
	maxItemBody     = 64 << 10
	maxIDLen        = 100
	maxQuantity     = 1000
	maxCarts        = 10000
	maxItemsPerCart = 100
)

// errCartFull and errTooManyCarts are the store's refusals.
var (
	errCartFull     = errors.New("the cart already holds the most distinct items allowed")
	errTooManyCarts = errors.New("the service already holds the most carts allowed")
)

// DecodeItem reads the JSON body of POST /carts/{customerId}/items:
// {"itemId": "...", "quantity": N, "unitPrice": X}. A missing quantity
// means 1, as in sockshop. Unknown fields are ignored, since sockshop's
// front end sends more than carts needs. Errors say which field is wrong
// and what would be right.
func DecodeItem(r io.Reader) (Item, error) {
	var raw struct {
		ItemID    *string  `json:"itemId"`
		Quantity  *int     `json:"quantity"`
		UnitPrice *float64 `json:"unitPrice"`
	}
	dec := json.NewDecoder(io.LimitReader(r, maxItemBody+1))
	if err := dec.Decode(&raw); err != nil {
		return Item{}, fmt.Errorf("decode item: body is not a JSON object {\"itemId\": \"...\", \"quantity\": 1, \"unitPrice\": 9.99}: %w", err)
	}
	if dec.More() {
		return Item{}, errors.New("decode item: body holds more than one JSON value")
	}
	if raw.ItemID == nil || *raw.ItemID == "" {
		return Item{}, errors.New("decode item: \"itemId\" is missing or empty")
	}
	if len(*raw.ItemID) > maxIDLen {
		return Item{}, fmt.Errorf("decode item: \"itemId\" is %d bytes long; at most %d are allowed", len(*raw.ItemID), maxIDLen)
	}
	it := Item{ItemID: *raw.ItemID, Quantity: 1}
	if raw.Quantity != nil {
		if *raw.Quantity < 1 || *raw.Quantity > maxQuantity {
			return Item{}, fmt.Errorf("decode item: \"quantity\" is %d; want 1 to %d", *raw.Quantity, maxQuantity)
		}
		it.Quantity = *raw.Quantity
	}
	if raw.UnitPrice != nil {
		p := *raw.UnitPrice
		if p < 0 || math.IsNaN(p) || math.IsInf(p, 0) || p > 1e9 {
			return Item{}, fmt.Errorf("decode item: \"unitPrice\" is %v; want a number from 0 to 1e9", p)
		}
		it.UnitPrice = p
	}
	return it, nil
}

// cartStore keeps the carts in memory, guarded by one mutex: the demo's
// load is a few dozen requests per second.
type cartStore struct {
	mu    sync.Mutex
	carts map[string][]Item
}

func newCartStore() *cartStore { return &cartStore{carts: map[string][]Item{}} }

// add puts it into customer's cart; an item already there gets its
// quantity raised and takes the new price, as sockshop does. It returns
// the line as now stored.
func (s *cartStore) add(customer string, it Item) (Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	items, ok := s.carts[customer]
	if !ok && len(s.carts) >= maxCarts {
		return Item{}, errTooManyCarts
	}
	for i := range items {
		if items[i].ItemID == it.ItemID {
			items[i].Quantity = min(items[i].Quantity+it.Quantity, maxQuantity)
			items[i].UnitPrice = it.UnitPrice
			return items[i], nil
		}
	}
	if len(items) >= maxItemsPerCart {
		return Item{}, errCartFull
	}
	s.carts[customer] = append(items, it)
	return it, nil
}

// get returns a copy of customer's cart; a customer without one has an
// empty cart, not an error, as in sockshop.
func (s *cartStore) get(customer string) Cart {
	s.mu.Lock()
	items := slices.Clone(s.carts[customer])
	s.mu.Unlock()
	c := Cart{CustomerID: customer, Items: items}
	if c.Items == nil {
		c.Items = []Item{}
	}
	for _, it := range items {
		c.Total += float64(it.Quantity) * it.UnitPrice
	}
	return c
}

// remove deletes customer's cart and reports whether there was one.
func (s *cartStore) remove(customer string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.carts[customer]
	delete(s.carts, customer)
	return ok
}
