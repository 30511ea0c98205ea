//go:build wasip1

// Command limitguest is the guest of the tests of the serve flags that limit
// what a guest may store and log.
package main

import (
	"strconv"
	"strings"

	"github.com/callhost/callhost/guest"
)

func main() {}

func init() {
	guest.Expose2("put", put)
	guest.Expose2("logs", logs)
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

// logs writes count info lines of size bytes each through the log import and
// returns count. Line i starts with "line i:" and is padded with x.
func logs(c *guest.Ctx, count, size int) (int, error) {
	for i := range count {
		line := "line " + strconv.Itoa(i) + ":"
		if pad := size - len(line); pad > 0 {
			line += strings.Repeat("x", pad)
		}
		c.Logger().Info(line)
	}
	return count, nil
}
