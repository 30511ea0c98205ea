//go:build wasip1

// Command limitguest is the guest of the tests of the serve flags that limit
// what a guest may store.
package main

import (
	"strings"

	"github.com/callhost/callhost/guest"
)

func main() {}

func init() {
	guest.Expose2("put", put)
}

// put stores a value of valueSize bytes under a key of keySize bytes. A key
// or value over the host's limit fails the call with the kv_put import's
// error.
func put(c *guest.Ctx, keySize, valueSize int) (string, error) {
	if err := c.Put(strings.Repeat("k", keySize), make([]byte, valueSize)); err != nil {
		return "", err
	}
	return "stored", nil
}
