package abi

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/msgp"
)

func TestAlarmRoundTrip(t *testing.T) {
	env, err := AppendAlarm(nil, 1_700_000_000_123, "ring", []any{"wake", 3})
	if err != nil {
		t.Fatal(err)
	}
	var a Alarm
	if err := DecodeAlarm(env, &a); err != nil {
		t.Fatal(err)
	}
	if a.At != 1_700_000_000_123 {
		t.Errorf("at = %d, want 1700000000123", a.At)
	}
	if a.Handler != "ring" {
		t.Errorf("handler = %q, want ring", a.Handler)
	}
	want, _ := msgp.Marshal([]any{"wake", 3})
	if string(a.Args) != string(want) {
		t.Errorf("args = % x, want % x", a.Args, want)
	}
	if err := CheckAlarmArgs(a.Args); err != nil {
		t.Errorf("check args: %v", err)
	}
}

func TestDecodeAlarmAcceptsLaterFields(t *testing.T) {
	b := msgp.AppendArrayHeader(nil, 4)
	b = msgp.AppendInt(b, -5)
	b = msgp.AppendString(b, "h")
	b = msgp.AppendArrayHeader(b, 0)
	b = msgp.AppendString(b, "a later field")
	var a Alarm
	if err := DecodeAlarm(b, &a); err != nil {
		t.Fatal(err)
	}
	if a.At != -5 || a.Handler != "h" {
		t.Errorf("decoded %+v, want at -5 and handler h", a)
	}
}

func TestDecodeAlarmRejectsShortEnvelope(t *testing.T) {
	b := msgp.AppendArrayHeader(nil, 2)
	b = msgp.AppendInt(b, 1)
	b = msgp.AppendString(b, "h")
	var a Alarm
	err := DecodeAlarm(b, &a)
	if err == nil || !strings.Contains(err.Error(), "2 elements") {
		t.Errorf("DecodeAlarm of a 2-element envelope = %v, want an error", err)
	}
}

func TestCheckAlarmArgsRejectsExtensions(t *testing.T) {
	for name, args := range map[string][]any{
		"placeholder":        {callhost.Placeholder},
		"nested placeholder": {map[string]any{"r": []any{callhost.Placeholder}}},
		"previous result":    {callhost.Prev},
		"nested operation":   {callhost.Op("get")},
	} {
		b, err := msgp.Marshal(args)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		err = CheckAlarmArgs(b)
		var e *callhost.Error
		if !errors.As(err, &e) || e.Code != callhost.CodeBadRequest {
			t.Errorf("%s: CheckAlarmArgs = %v, want bad_request", name, err)
		}
	}
	if err := CheckAlarmArgs(msgp.AppendInt(nil, 1)); err == nil {
		t.Errorf("CheckAlarmArgs accepted an integer, want an array")
	}
	if err := CheckAlarmArgs(append(msgp.AppendArrayHeader(nil, 0), 1)); err == nil {
		t.Errorf("CheckAlarmArgs accepted trailing bytes")
	}
}

func TestAlarmListRoundTrip(t *testing.T) {
	in := []AlarmEntry{{ID: 1, At: 10, Handler: "a"}, {ID: 1 << 40, At: -1, Handler: "b"}}
	out, err := DecodeAlarmList(AppendAlarmList(nil, in))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip = %+v, want %+v", out, in)
	}
	empty, err := DecodeAlarmList(AppendAlarmList(nil, nil))
	if err != nil || len(empty) != 0 {
		t.Errorf("empty list decoded as %v, %v", empty, err)
	}
}
