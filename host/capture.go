package host

import "strings"

const (
	captureHead = 1024
	captureTail = 2048
)

// capture keeps the first and the last bytes written to it since its last reset.
// A Go guest prints the reason of a panic first and its stack trace after it, and
// other writers tend to end with the reason, so the two ends are what matters.
type capture struct {
	head  [captureHead]byte
	tail  [captureTail]byte
	nHead int
	nTail int // bytes ever written to tail; the ring position is nTail % captureTail
}

// Write stores p and never fails.
func (c *capture) Write(p []byte) (int, error) {
	n := len(p)
	if c.nHead < captureHead {
		k := copy(c.head[c.nHead:], p)
		c.nHead += k
		p = p[k:]
	}
	if len(p) > captureTail {
		c.nTail += len(p) - captureTail
		p = p[len(p)-captureTail:]
	}
	for len(p) > 0 {
		k := copy(c.tail[c.nTail%captureTail:], p)
		c.nTail += k
		p = p[k:]
	}
	return n, nil
}

func (c *capture) reset() { c.nHead, c.nTail = 0, 0 }

// String returns the kept bytes in order, with a marker where bytes were dropped.
func (c *capture) String() string {
	var b strings.Builder
	b.Write(c.head[:c.nHead])
	if c.nTail > captureTail {
		b.WriteString("\n[...]\n")
		pos := c.nTail % captureTail
		b.Write(c.tail[pos:])
		b.Write(c.tail[:pos])
	} else {
		b.Write(c.tail[:c.nTail])
	}
	return b.String()
}
