package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/callhost/callhost"
	"github.com/vmihailenco/msgpack/v5"
)

// parseJSONArgs decodes a JSON array of arguments. Numbers become int64
// when they are whole and fit, uint64 when they are whole and larger, and
// float64 otherwise.
func parseJSONArgs(s string) ([]any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON arguments %q: %v", s, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("invalid JSON arguments %q: data after the array", s)
	}
	args, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("invalid JSON arguments %q: want an array such as [1, \"a\"]", s)
	}
	for i, a := range args {
		args[i] = fromJSON(a)
	}
	return args, nil
}

// fromJSON replaces the json.Number values in v with Go numbers.
func fromJSON(v any) any {
	switch v := v.(type) {
	case json.Number:
		return jsonNumber(v)
	case []any:
		for i, e := range v {
			v[i] = fromJSON(e)
		}
	case map[string]any:
		for k, e := range v {
			v[k] = fromJSON(e)
		}
	}
	return v
}

func jsonNumber(n json.Number) any {
	if i, err := n.Int64(); err == nil {
		return i
	}
	if u, err := strconv.ParseUint(n.String(), 10, 64); err == nil {
		return u
	}
	f, err := n.Float64()
	if err != nil {
		// The decoder accepted the number, so only its size can fail; keep
		// the text.
		return n.String()
	}
	if f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
		return int64(f)
	}
	return f
}

// decodeResult decodes an encoded result into values that encoding/json can
// encode.
func decodeResult(res callhost.Result) (any, error) {
	if len(res) == 0 {
		return nil, nil
	}
	dec := msgpack.NewDecoder(bytes.NewReader(res))
	// Decode every map as map[any]any: the default map[string]any fails on
	// other key types.
	dec.SetMapDecoder(func(d *msgpack.Decoder) (any, error) { return d.DecodeUntypedMap() })
	v, err := dec.DecodeInterface()
	if err != nil {
		return nil, err
	}
	return toJSON(v), nil
}

// toJSON replaces maps with non-string keys by maps keyed by the keys'
// text, at any depth.
func toJSON(v any) any {
	switch v := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = toJSON(e)
		}
		return m
	case map[string]any:
		for k, e := range v {
			v[k] = toJSON(e)
		}
	case []any:
		for i, e := range v {
			v[i] = toJSON(e)
		}
	}
	return v
}
