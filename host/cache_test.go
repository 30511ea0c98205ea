package host

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cacheFiles returns the files of the compilation cache in dir.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestDamagedCacheEntryRecompiled compiles a module into an empty cache,
// damages the entry that the compilation wrote, and compiles the module
// again on a new engine.
func TestDamagedCacheEntryRecompiled(t *testing.T) {
	damages := map[string]func([]byte) []byte{
		"garbage": func([]byte) []byte { return []byte("not a cache entry") },
		// The machine code ends 9 bytes before the end of the file, before
		// its checksum, the source map flag and the count of catch tables.
		"flipped-code-byte": func(b []byte) []byte {
			b = bytes.Clone(b)
			b[len(b)-16] ^= 0xff
			return b
		},
		"empty": func([]byte) []byte { return nil },
	}
	wasm := tinyModule().encode()
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			first := newEngine(t, Config{CacheDir: dir})
			if _, err := first.Compile(context.Background(), "tiny", wasm); err != nil {
				t.Fatal(err)
			}
			files := cacheFiles(t, dir)
			if len(files) != 1 {
				t.Fatalf("cache files after the first run = %v, want 1", files)
			}
			good, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			damaged := damage(good)
			if err := os.WriteFile(files[0], damaged, 0o600); err != nil {
				t.Fatal(err)
			}

			var logs logBuffer
			second := newEngine(t, Config{CacheDir: dir, Logger: logs.logger()})
			m, err := second.Compile(context.Background(), "tiny", wasm)
			if err != nil {
				t.Fatalf("Compile with a damaged cache entry: %v", err)
			}
			if _, ok := m.Handler("echo"); !ok {
				t.Errorf("recompiled module lacks its echo handler: %v", m.Handlers())
			}
			if !strings.Contains(logs.String(), "replaced an unreadable compilation cache entry") {
				t.Errorf("no warning about the damaged entry:\n%s", logs.String())
			}
			if files := cacheFiles(t, dir); len(files) != 1 {
				t.Errorf("cache files after the replacement = %v, want 1", files)
			}
			replaced, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(replaced, damaged) {
				t.Error("the damaged cache entry is still in place")
			}

			var quiet logBuffer
			third := newEngine(t, Config{CacheDir: dir, Logger: quiet.logger()})
			if _, err := third.Compile(context.Background(), "tiny", wasm); err != nil {
				t.Fatalf("Compile after the replacement: %v", err)
			}
			if strings.Contains(quiet.String(), "level=WARN") {
				t.Errorf("warning after the replacement:\n%s", quiet.String())
			}
		})
	}
}

func TestInvalidModuleKeepsCacheEntries(t *testing.T) {
	dir := t.TempDir()
	var logs logBuffer
	e := newEngine(t, Config{CacheDir: dir, Logger: logs.logger()})
	_, err := e.Compile(context.Background(), "bad", rawModule([]byte{0}, []byte{0x6a, opEnd}))
	if !errors.Is(err, ErrBadModule) {
		t.Fatalf("Compile error = %v, want ErrBadModule", err)
	}
	if files := cacheFiles(t, dir); len(files) != 0 {
		t.Errorf("cache files after an invalid module = %v, want none", files)
	}
	if strings.Contains(logs.String(), "cache") {
		t.Errorf("an invalid module logged about the cache:\n%s", logs.String())
	}
}
