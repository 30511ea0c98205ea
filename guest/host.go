package guest

// hostImports is the host side of the guest ABI: one method per import of
// module "callhost", with the import's raw results (docs/abi.md). The wasip1
// build implements it with the real imports; tests drive the dispatcher with
// a fake. Byte slices passed in are only read during the call, and dst
// slices are written only up to their length.
type hostImports interface {
	// call records a call envelope and returns its id, or -2 on rejection.
	call(envelope []byte) int64
	// callInts records a call of one step whose arguments are ints, with an
	// optional continuation (cont is "" for none) whose arguments are ints
	// and placeholders, and returns its id, or -2 on rejection. ints holds
	// the step's args arguments and then the continuation's contArgs; bit k
	// of placeholders makes continuation argument k the placeholder.
	callInts(class, id, handler, cont string, ints []int64, args, contArgs int32,
		placeholders, timeoutMS uint64, flags int32) int64
	// kvGet copies the value of key into dst when it fits and returns its
	// length, -1 when the key is absent or -2 on error.
	kvGet(key string, dst []byte) int64
	// kvPut stages a write and returns 0, or -2 on error.
	kvPut(key string, value []byte) int32
	// kvDelete stages a delete and returns 0, or -2 on error.
	kvDelete(key string) int32
	// kvAdd adds delta to the integer under key, stages the sum, stores it
	// in *sum and returns 0, or returns -2 on error.
	kvAdd(key string, delta int64, sum *int64) int32
	// kvList copies one page of pairs into dst when it fits and returns the
	// encoded length, or -2 on error.
	kvList(prefix string, start []byte, limit int32, dst []byte) int64
	// lastError copies the error value of the last failed import into dst
	// when it fits and returns its length.
	lastError(dst []byte) int32
	// log writes one message at an slog level.
	log(level int32, msg []byte)
	// alarmSet stages the alarm of an alarm envelope and returns its id, or
	// -2 on error.
	alarmSet(envelope []byte) int64
	// alarmCancel stages the cancellation of alarm id and returns 1 when the
	// alarm existed, 0 when it did not, or -2 on error.
	alarmCancel(id uint64) int32
	// alarmList copies the object's alarms into dst when they fit and
	// returns the encoded length, or -2 on error.
	alarmList(dst []byte) int64
}
