package host

import (
	"context"

	"github.com/tetratelabs/wazero/api"
)

// The alarm imports of docs/abi.md: alarm_set, alarm_cancel and alarm_list.

func importAlarmSet(ctx context.Context, _ api.Module, stack []uint64) {
	importEnvelope(ctx, stack, "alarm_set", Effects.SetAlarm)
}

// importAlarmCancel returns 1 when the alarm existed, 0 when it did not, and
// rcError on error.
func importAlarmCancel(ctx context.Context, _ api.Module, stack []uint64) {
	i := instanceOf(ctx)
	if i == nil {
		setI32(stack, rcError)
		return
	}
	i.imports.pending = opNone
	existed, err := i.imports.fx.CancelAlarm(stack[0])
	switch {
	case err != nil:
		i.imports.fromEffects("alarm_cancel", err)
		setI32(stack, rcError)
	case existed:
		setI32(stack, 1)
	default:
		setI32(stack, 0)
	}
}

func importAlarmList(ctx context.Context, _ api.Module, stack []uint64) {
	i := instanceOf(ctx)
	if i == nil {
		setI64(stack, rcError)
		return
	}
	setI64(stack, i.alarmList(stack[0], stack[1]))
}

// alarmList runs ListAlarms, unless the previous import was an alarm_list
// whose output did not fit, and copies the output out.
func (i *Instance) alarmList(dst, dstCap uint64) int64 {
	s := &i.imports
	if s.pending != opAlarms {
		s.pending = opNone
		out, err := s.fx.ListAlarms(s.listBuf[:0])
		if err != nil {
			s.fromEffects("alarm_list", err)
			return rcError
		}
		s.listBuf = out
	}
	n := i.copyOut("alarm_list", s.listBuf, dst, dstCap)
	if n > int64(api.DecodeU32(dstCap)) {
		s.pending = opAlarms
	} else {
		s.pending = opNone
	}
	return n
}
