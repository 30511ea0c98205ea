package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/callhost/callhost"
	"github.com/vmihailenco/msgpack/v5"
)

// parseJSONArgs decodes a JSON array of arguments. Whole numbers become
// int64, or uint64 when they are too large for int64, and other numbers
// become float64. A whole number outside both integer ranges is an error.
func parseJSONArgs(s string) ([]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON arguments %s: %v", quoteArgs(s), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("invalid JSON arguments %s: data after the array", quoteArgs(s))
	}
	args, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("invalid JSON arguments %s: want an array such as [1, \"a\"]",
			quoteArgs(s))
	}
	for i, a := range args {
		converted, err := fromJSON(a)
		if err != nil {
			return nil, fmt.Errorf("invalid JSON arguments: %v", err)
		}
		args[i] = converted
	}
	return args, nil
}

// maxQuotedArgs is the number of bytes of the JSON arguments that an error
// message quotes. Arguments read from stdin may be megabytes long.
const maxQuotedArgs = 64

// quoteArgs quotes s for an error message, cut to maxQuotedArgs bytes.
func quoteArgs(s string) string {
	if len(s) <= maxQuotedArgs {
		return strconv.Quote(s)
	}
	n := maxQuotedArgs
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:n], len(s))
}

// fromJSON replaces the json.Number values in v with Go numbers.
func fromJSON(v any) (any, error) {
	var err error
	switch v := v.(type) {
	case json.Number:
		return jsonNumber(v)
	case []any:
		for i, e := range v {
			if v[i], err = fromJSON(e); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k, e := range v {
			if v[k], err = fromJSON(e); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// jsonNumber converts a JSON number that the decoder accepted to int64 or
// uint64 when it is whole and to float64 otherwise. It decides from the
// decimal digits, not from a float64, whether the number is whole, so
// 1.0000000000000000001 becomes the float64 1 and 1e19 a uint64.
func jsonNumber(n json.Number) (any, error) {
	s := n.String()
	neg, digits, exp := splitDecimal(s)
	if digits == "" {
		return int64(0), nil
	}
	if exp < 0 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("number %s is outside the float64 range", s)
		}
		return f, nil
	}
	// uint64 values have at most 20 digits.
	if int64(len(digits))+exp <= 20 {
		text := digits + strings.Repeat("0", int(exp))
		if neg {
			text = "-" + text
		}
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(text, 10, 64); err == nil {
			return u, nil
		}
	}
	return nil, fmt.Errorf("number %s is whole but outside the int64 and uint64 ranges, "+
		"so it cannot become an integer", s)
}

// splitDecimal splits the text of a valid JSON number into its sign and
// the value digits × 10^exp, where digits has no leading or trailing zeros.
// Zero has empty digits and exp 0.
func splitDecimal(s string) (neg bool, digits string, exp int64) {
	if neg = strings.HasPrefix(s, "-"); neg {
		s = s[1:]
	}
	mantissa, expText, _ := strings.Cut(strings.ToLower(s), "e")
	if expText != "" {
		// An exponent beyond the int32 range comes back as the bound of its
		// sign, which is still far past any value that jsonNumber accepts.
		exp, _ = strconv.ParseInt(expText, 10, 32)
	}
	whole, fraction, _ := strings.Cut(mantissa, ".")
	digits = strings.TrimLeft(whole+fraction, "0")
	exp -= int64(len(fraction))
	trimmed := strings.TrimRight(digits, "0")
	if trimmed == "" {
		return neg, "", 0
	}
	return neg, trimmed, exp + int64(len(digits)-len(trimmed))
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
