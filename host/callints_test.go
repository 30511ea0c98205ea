package host

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
)

// callIntsArgs returns the arguments of the test guest's callints handler.
func callIntsArgs(class, id, handler, cont string, ints []int64, args, contArgs int,
	placeholders uint64, timeoutMS, flags int64) []func([]byte) []byte {
	raw := []byte("bad")
	if ints != nil {
		raw = nil
		for _, v := range ints {
			raw = binary.LittleEndian.AppendUint64(raw, uint64(v))
		}
	}
	return []func([]byte) []byte{
		argBin([]byte(class)), argBin([]byte(id)), argBin([]byte(handler)), argBin([]byte(cont)),
		argBin(raw), argInt(int64(args)), argInt(int64(contArgs)), argInt(int64(placeholders)),
		argInt(timeoutMS), argInt(flags),
	}
}

// checkedEffects is a testEffects that also takes call_ints calls through
// CallChecked. It records each envelope as Call does, and fails the call when
// the view and checks differ from those DecodeCheckedCall gives for it.
type checkedEffects struct {
	*testEffects
	checked int // calls that came through CallChecked
}

func (f *checkedEffects) CallChecked(env []byte, c *abi.CallView, chk *abi.CallChecks) (uint64, error) {
	var want abi.CallView
	var wantChk abi.CallChecks
	if err := abi.DefaultLimits.DecodeCheckedCall(env, &want, &wantChk); err != nil {
		return 0, err
	}
	if fmt.Sprintf("%v", *c) != fmt.Sprintf("%v", want) || *chk != wantChk {
		return 0, fmt.Errorf("view %v and checks %+v, DecodeCheckedCall gives %v and %+v",
			*c, *chk, want, wantChk)
	}
	f.checked++
	return f.Call(env)
}

// TestCallIntsRecordsTheCallEnvelope runs with an Effects that takes calls
// only through Call and with one that takes them through CallChecked.
func TestCallIntsRecordsTheCallEnvelope(t *testing.T) {
	plain := newTestEffects()
	checked := &checkedEffects{testEffects: newTestEffects()}
	for _, fx := range []Effects{plain, checked} {
		testCallIntsRecords(t, fx)
	}
	if checked.checked != 2 {
		t.Errorf("CallChecked took %d calls, want 2", checked.checked)
	}
}

func testCallIntsRecords(t *testing.T, fx Effects) {
	t.Helper()
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	recorded := func() *testEffects {
		if c, ok := fx.(*checkedEffects); ok {
			return c.testEffects
		}
		return fx.(*testEffects)
	}()
	long := strings.Repeat("c", 40)
	for _, tc := range []struct {
		name string
		args []func([]byte) []byte
		want func() ([]byte, error)
	}{
		{
			"continuation with a placeholder",
			callIntsArgs("calc", "t7", "double", "got", []int64{1 << 40, -70000, 0, 3}, 1, 3, 0b010, 0, 0),
			func() ([]byte, error) {
				return abi.AppendCall(nil, callhost.Object("calc", "t7"), callhost.Op("double", 1<<40),
					&abi.Continuation{Handler: "got", Args: []any{-70000, callhost.Placeholder, 3}}, 0, 0)
			},
		},
		{
			"no continuation, long strings, timeout and flags",
			callIntsArgs(long, long, long, "", []int64{}, 0, 0, 0, 1500, abi.FlagForward),
			func() ([]byte, error) {
				return abi.AppendCall(nil, callhost.Object(long, long), callhost.Op(long), nil,
					1500, abi.FlagForward)
			},
		},
	} {
		recorded.calls = nil
		val := turnOK(t, p, invoke("callints", tc.args...), fx)
		r := msgp.NewReader(val)
		if id := mustInt(t, &r); id != 1 {
			t.Errorf("%s: call id %d, want 1", tc.name, id)
		}
		want, err := tc.want()
		if err != nil {
			t.Fatal(err)
		}
		if len(recorded.calls) != 1 || !bytes.Equal(recorded.calls[0], want) {
			t.Errorf("%s, Effects %T: recorded % x, want % x", tc.name, fx, recorded.calls, want)
		}
	}
}

func TestCallIntsRejectsBadArguments(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	fx := newTestEffects()
	many := make([]int64, abi.MaxIntArgs+1)
	huge := strings.Repeat("h", abi.MaxIntCallStrings)
	for _, tc := range []struct {
		name string
		args []func([]byte) []byte
		code int64
		want string
	}{
		{"negative count", callIntsArgs("c", "i", "h", "", nil, -1, 0, 0, 0, 0),
			codeBadRequest, "-1 step"},
		{"too many arguments", callIntsArgs("c", "i", "h", "k", many, 0, abi.MaxIntArgs+1, 0, 0, 0),
			codeBadRequest, "each count must be 0 to 64"},
		{"placeholder past the arguments", callIntsArgs("c", "i", "h", "k", []int64{0}, 0, 1, 0b10, 0, 0),
			codeBadRequest, "placeholder mask 0x2"},
		{"arguments without handler", callIntsArgs("c", "i", "h", "", []int64{5}, 0, 1, 0, 0, 0),
			codeBadRequest, "without a continuation handler"},
		{"ints outside memory", callIntsArgs("c", "i", "h", "", nil, 1, 0, 0, 0, 0),
			codeBadRequest, "ints of 8 bytes"},
		{"strings too long", callIntsArgs("c", "i", huge, "", []int64{}, 0, 0, 0, 0, 0),
			codeTooLarge, "strings of 65538 bytes, over 65536"},
	} {
		resp := turn(t, p, invoke("callints", tc.args...), fx)
		code, val := decodeResponse(t, resp)
		r := msgp.NewReader(val)
		e := msgp.NewReader(mustBytes(t, &r))
		_, _ = e.ReadArrayHeader()
		errCode := mustInt(t, &e)
		msg, _ := e.ReadString()
		if code != 7 || errCode != tc.code || !strings.HasPrefix(msg, "call_ints: ") ||
			!strings.Contains(msg, tc.want) {
			t.Errorf("%s: response code %d, last_error [%d, %q]; want code %d containing %q",
				tc.name, code, errCode, msg, tc.code, tc.want)
		}
	}
	if len(fx.calls) != 0 {
		t.Errorf("rejected calls reached Effects: % x", fx.calls)
	}
}

// TestCallIntsRejectionReadsAsCall checks that a call the Effects reject
// fails with the error the call import would give for its envelope.
func TestCallIntsRejectionReadsAsCall(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	fx := newTestEffects()
	fx.callErr = &codedError{10, "calls to calc are not allowed"}
	resp := turn(t, p, invoke("callints", callIntsArgs("calc", "t", "h", "", []int64{}, 0, 0, 0, 0, 0)...), fx)
	_, val := decodeResponse(t, resp)
	r := msgp.NewReader(val)
	want := abi.AppendError(nil, 10, "call: calls to calc are not allowed")
	if got := mustBytes(t, &r); !bytes.Equal(got, want) {
		t.Errorf("last_error = %q, want %q", got, want)
	}
}
