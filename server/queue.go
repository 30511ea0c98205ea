package server

import "sync"

// maxKeptQueue is the largest backing array, in frames, that a frame queue
// keeps once it is empty. A larger one, grown by a burst, is released.
const maxKeptQueue = 256

// frameQueue is the queue of outgoing frames of one connection, oldest
// first. Its backing array grows with the frames queued, so a connection
// does not allocate room for Options.WriteQueue frames up front. With the
// default of 8192 frames, a channel of that capacity costs 192 KiB per
// connection.
type frameQueue struct {
	mu     sync.Mutex
	frames [][]byte
	head   int
	// ready contains a token once a frame has been pushed that the writer
	// may not have seen. A push never blocks on it.
	ready chan struct{}
}

func newFrameQueue() *frameQueue {
	return &frameQueue{ready: make(chan struct{}, 1)}
}

// len returns the number of frames in the queue.
func (q *frameQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.frames) - q.head
}

// push appends frame, which may be nil, and wakes the writer.
func (q *frameQueue) push(frame []byte) {
	q.mu.Lock()
	q.frames = append(q.frames, frame)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop removes and returns the oldest frame, or reports false when the queue
// is empty.
func (q *frameQueue) pop() ([]byte, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.frames) {
		return nil, false
	}
	frame := q.frames[q.head]
	q.frames[q.head] = nil
	q.head++
	if q.head == len(q.frames) {
		q.head = 0
		q.frames = q.frames[:0]
		if cap(q.frames) > maxKeptQueue {
			q.frames = nil
		}
	}
	return frame, true
}
