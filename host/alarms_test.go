package host

import (
	"strings"
	"testing"

	"github.com/callhost/callhost/internal/msgp"
)

// alarmEnvelope is the alarm envelope [1, "h", []]. The host passes it to
// Effects without decoding it.
var alarmEnvelope = []byte{0x93, 0x01, 0xa1, 'h', 0x90}

func TestAlarmSetReachesEffects(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	fx := newTestEffects()
	for want := int64(1); want <= 2; want++ {
		val := turnOK(t, p, invoke("alarm", argBin(alarmEnvelope)), fx)
		r := msgp.NewReader(val)
		if got := mustInt(t, &r); got != want {
			t.Errorf("alarm_set returned %d, want %d", got, want)
		}
	}
	if len(fx.alarms) != 2 {
		t.Fatalf("Effects holds %d alarms, want 2", len(fx.alarms))
	}
	if string(fx.alarms[0].envelope) != string(alarmEnvelope) {
		t.Errorf("SetAlarm got % x, want % x", fx.alarms[0].envelope, alarmEnvelope)
	}
}

func TestAlarmCancelResults(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	fx := newTestEffects()
	if _, err := fx.SetAlarm(alarmEnvelope); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id, want int64
	}{
		{1, 1},         // the alarm existed
		{1, 0},         // already cancelled
		{1<<40 + 3, 0}, // never existed
		{-1, 0},        // the i64 -1 reaches Effects as the uint64 max
	} {
		val := turnOK(t, p, invoke("cancel", argInt(tc.id)), fx)
		r := msgp.NewReader(val)
		if got := mustInt(t, &r); got != tc.want {
			t.Errorf("alarm_cancel(%d) returned %d, want %d", tc.id, got, tc.want)
		}
	}
	want := []uint64{1, 1, 1<<40 + 3, 1<<64 - 1}
	if len(fx.cancels) != len(want) {
		t.Fatalf("CancelAlarm got ids %d, want %d", fx.cancels, want)
	}
	for k := range want {
		if fx.cancels[k] != want[k] {
			t.Errorf("CancelAlarm call %d got id %d, want %d", k, fx.cancels[k], want[k])
		}
	}
}

func TestAlarmListCopyOut(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	fx := newTestEffects()
	for range 3 {
		if _, err := fx.SetAlarm(alarmEnvelope); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := fx.ListAlarms(nil)
	fx.alarmLists = 0

	val := turnOK(t, p, invoke("alarms", argInt(0)), fx)
	if string(val) != string(want) {
		t.Errorf("alarm_list returned % x, want % x", val, want)
	}
	if fx.alarmLists != 1 {
		t.Errorf("ListAlarms ran %d times; the retry with a larger buffer must reuse "+
			"the output", fx.alarmLists)
	}

	// A cancel between the two attempts makes the retry list again.
	val = turnOK(t, p, invoke("alarms", argInt(2)), fx)
	want, _ = fx.ListAlarms(nil)
	if string(val) != string(want) {
		t.Errorf("alarm_list after a cancel returned % x, want % x", val, want)
	}
	if fx.alarmLists != 4 {
		t.Errorf("ListAlarms ran %d times, want 4: twice per turn and once by the test",
			fx.alarmLists)
	}
}

func TestAlarmErrorsReachGuest(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	fx := newTestEffects()
	fx.listErr = &codedError{codeBadRequest, "alarm list unavailable"}
	for _, tc := range []struct {
		req      []byte
		wantCode int64
		wantMsg  string
	}{
		{invoke("alarm", argBin([]byte("fail"))), codeBadRequest,
			"alarm_set: invalid alarm envelope"},
		{invoke("cancel", argInt(999)), 12, "alarm_cancel: alarm storage exploded"},
		{invoke("alarms", argInt(0)), codeBadRequest, "alarm_list: alarm list unavailable"},
	} {
		code, val := decodeResponse(t, turn(t, p, tc.req, fx))
		if code != 7 {
			t.Errorf("want %q: response code %d, want 7 with last_error", tc.wantMsg, code)
			continue
		}
		r := msgp.NewReader(val)
		gotCode, gotMsg := decodeError(t, mustBytes(t, &r))
		if gotCode != tc.wantCode || gotMsg != tc.wantMsg {
			t.Errorf("last_error = [%d, %q], want [%d, %q]", gotCode, gotMsg, tc.wantCode,
				tc.wantMsg)
		}
	}
}

func TestAlarmBadPointers(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	fx := newTestEffects()
	val := turnOK(t, p, invoke("badalarm"), fx)
	r := msgp.NewReader(val)
	if n, err := r.ReadArrayHeader(); n != 4 || err != nil {
		t.Fatalf("badalarm returned % x", val)
	}
	for _, wantPrefix := range []string{"alarm_set: envelope", "alarm_list: dst"} {
		if rc := mustInt(t, &r); rc != rcError {
			t.Errorf("%s outside memory: import returned %d, want %d", wantPrefix, rc, rcError)
		}
		code, msg := decodeError(t, mustBytes(t, &r))
		if code != codeBadRequest || !strings.HasPrefix(msg, wantPrefix) {
			t.Errorf("last_error = [%d, %q], want bad_request starting with %q", code, msg,
				wantPrefix)
		}
	}
	if len(fx.alarms) != 0 {
		t.Errorf("an envelope outside memory reached Effects: %v", fx.alarms)
	}
	turnOK(t, p, invoke("echo"), fx) // the instance still works
}

// decodeError decodes a last_error value [code, message].
func decodeError(tb testing.TB, b []byte) (int64, string) {
	tb.Helper()
	r := msgp.NewReader(b)
	if n, err := r.ReadArrayHeader(); n != 2 || err != nil {
		tb.Fatalf("last_error % x: not a 2-array (%d, %v)", b, n, err)
	}
	code := mustInt(tb, &r)
	msg, err := r.ReadString()
	if err != nil {
		tb.Fatalf("last_error % x: message: %v", b, err)
	}
	return code, msg
}
