package main

import (
	"github.com/callhost/callhost"
	"github.com/vmihailenco/msgpack/v5"
)

func marshalMsgpack(v any) (callhost.Result, error) {
	b, err := msgpack.Marshal(v)
	return callhost.Result(b), err
}
