// Package fuzzcheck helps the native Go fuzz targets of the wire and ABI
// decoders: Seed adds a target's seed inputs and can write them out as its
// committed corpus, and the package's test runs every target briefly.
package fuzzcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// MaxInput is the largest input the fuzz targets decode. Larger inputs are
// skipped, so that a target's allocations stay bounded by its input.
const MaxInput = 64 << 10

// WriteEnv names the environment variable that makes Seed write the seeds
// to testdata/fuzz/<target>/ of the package under test, replacing files of
// the same names.
const WriteEnv = "CALLHOST_WRITE_FUZZ_SEEDS"

// Seed adds each input to f's seed corpus. With WriteEnv set to 1 it also
// writes them in the `go test fuzz v1` format, one file per input.
func Seed(f *testing.F, inputs ...[]byte) {
	f.Helper()
	for _, in := range inputs {
		f.Add(in)
	}
	if os.Getenv(WriteEnv) != "1" {
		return
	}
	dir := filepath.Join("testdata", "fuzz", f.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.Fatal(err)
	}
	for i, in := range inputs {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(in)))
		name := filepath.Join(dir, fmt.Sprintf("seed-%02d", i))
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			f.Fatal(err)
		}
	}
}
