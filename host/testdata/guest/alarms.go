//go:build wasip1

package main

import "unsafe"

//go:wasmimport callhost alarm_set
func hostAlarmSet(env unsafe.Pointer, n uint32) int64

//go:wasmimport callhost alarm_cancel
func hostAlarmCancel(id int64) int32

//go:wasmimport callhost alarm_list
func hostAlarmList(dst unsafe.Pointer, dstCap uint32) int64

// The same imports, declared with raw addresses for handing the host bad ones.

//go:wasmimport callhost alarm_set
func rawAlarmSet(env, n uint32) int64

//go:wasmimport callhost alarm_list
func rawAlarmList(dst, dstCap uint32) int64

// setAlarm passes env to alarm_set and returns the alarm id.
func setAlarm(env, out []byte) []byte {
	id := hostAlarmSet(ptr(env), uint32(len(env)))
	if id < 0 {
		return failed(out)
	}
	return appendInt(append(out, 0x92, 0), id)
}

// cancelAlarm returns what alarm_cancel returned for id: 1 or 0.
func cancelAlarm(id int64, out []byte) []byte {
	rc := hostAlarmCancel(id)
	if rc < 0 {
		return failed(out)
	}
	return appendInt(append(out, 0x92, 0), int64(rc))
}

// listAlarms returns the alarm_list output. It first calls alarm_list with a
// buffer too small for any list but the empty one and, when cancelID is not 0,
// cancels that alarm before it calls again with a large enough buffer.
func listAlarms(cancelID int64, out []byte) []byte {
	buf := make([]byte, 1)
	n := hostAlarmList(ptr(buf), uint32(len(buf)))
	if n < 0 {
		return failed(out)
	}
	if cancelID != 0 && hostAlarmCancel(cancelID) < 0 {
		return failed(out)
	}
	for int(n) > len(buf) {
		buf = make([]byte, n)
		n = hostAlarmList(ptr(buf), uint32(len(buf)))
		if n < 0 {
			return failed(out)
		}
	}
	return append(append(out, 0x92, 0), buf[:n]...)
}

// badAlarmPointers hands alarm_set and alarm_list addresses outside memory
// and returns [alarm_set result, last_error bytes, alarm_list result,
// last_error bytes].
func badAlarmPointers(out []byte) []byte {
	setRC := rawAlarmSet(badAddr, 16)
	setErr := lastError()
	listRC := rawAlarmList(badAddr, 1<<20)
	listErr := lastError()
	out = appendInt(append(out, 0x92, 0, 0x94), setRC)
	out = appendInt(appendBin(out, setErr), listRC)
	return appendBin(out, listErr)
}
