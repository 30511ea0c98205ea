package server

import "testing"

func TestMaxQueuedBytesDefaults(t *testing.T) {
	cases := []struct {
		name string
		in   Options
		want int
	}{
		{"zero", Options{}, DefaultMaxQueuedBytes},
		{"set", Options{MaxQueuedBytes: 4 << 20}, 4 << 20},
		{"below the frame size", Options{MaxFrameSize: 2 << 20, MaxQueuedBytes: 1 << 20}, 2 << 20},
		{"default below the frame size", Options{MaxFrameSize: 32 << 20}, 32 << 20},
	}
	for _, tc := range cases {
		if got := tc.in.withDefaults().MaxQueuedBytes; got != tc.want {
			t.Errorf("%s: MaxQueuedBytes %d, want %d", tc.name, got, tc.want)
		}
	}
}
