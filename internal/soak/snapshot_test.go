package soak

import (
	"bytes"
	"os"
	goruntime "runtime"
	"strconv"
)

// snapshot is the state of the test process between phases. Values that grow
// from phase to phase point at a leak.
type snapshot struct {
	Goroutines int `json:"goroutines"`
	// HeapMiB is the live heap right after a garbage collection.
	HeapMiB float64 `json:"heap_live_mib"`
	// RSSMiB is the resident memory of the process, guests' linear memories
	// included; 0 where /proc/self/status is missing.
	RSSMiB float64 `json:"rss_mib"`
	// Pending counts the calls of the runtime that wait for an outcome.
	Pending int `json:"pending_calls"`
	// Active counts the runtime's messages that are queued or running.
	Active int64 `json:"active_messages"`
	// Objects counts the runtime's activated objects.
	Objects int `json:"objects"`
	// Instances counts the guest instances, and Discarded the broken ones
	// closed so far.
	Instances int `json:"instances"`
	Discarded int `json:"instances_discarded"`
	// StoredKeys counts the keys in the memory store.
	StoredKeys int `json:"stored_keys"`
	// Connections counts the connections that the server serves.
	Connections int `json:"connections"`
}

func takeSnapshot(e *env) snapshot {
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	st := e.rt.Stats()
	keys, _ := e.store.Len()
	return snapshot{
		Goroutines:  goruntime.NumGoroutine(),
		HeapMiB:     float64(ms.HeapAlloc) / (1 << 20),
		RSSMiB:      residentMiB(),
		Pending:     st.Pending,
		Active:      st.Active,
		Objects:     st.Objects,
		Instances:   st.Instances,
		Discarded:   st.Discarded,
		StoredKeys:  keys,
		Connections: e.srv.Stats().Connections,
	}
}

// residentMiB returns VmRSS from /proc/self/status in MiB, or 0.
func residentMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) == 0 {
			return 0
		}
		kib, err := strconv.ParseFloat(string(fields[0]), 64)
		if err != nil {
			return 0
		}
		return kib / 1024
	}
	return 0
}
