package host

import (
	"context"
	"strings"
	"testing"
	"time"
)

// BenchmarkTurn runs echo turns of about 100 bytes on the Go test guest, and on the
// tiny hand-written module for the host's own share, in both engine modes.
func BenchmarkTurn(b *testing.B) {
	req := invoke("echo", argStr(strings.Repeat("x", 64)), argInt(1))
	for _, mode := range []struct {
		name string
		cfg  Config
	}{
		{"interruptible", Config{}},
		{"uninterruptible", Config{Uninterruptible: true}},
	} {
		b.Run(mode.name+"/go-guest", func(b *testing.B) {
			_, p := newGuestPool(b, mode.cfg, PoolConfig{Max: 1})
			benchTurns(b, p, req, false)
		})
		b.Run(mode.name+"/go-guest/ctx-timeout", func(b *testing.B) {
			_, p := newGuestPool(b, mode.cfg, PoolConfig{Max: 1})
			benchTurns(b, p, req, true)
		})
		b.Run(mode.name+"/tiny", func(b *testing.B) {
			e := newEngine(b, mode.cfg)
			m, err := e.Compile(context.Background(), "tiny", tinyModule().encode())
			if err != nil {
				b.Fatal(err)
			}
			p, err := m.NewPool(context.Background(), PoolConfig{Max: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close(context.Background())
			benchTurns(b, p, req, false)
		})
	}
}

// benchTurns runs req on one instance; withTimeout adds the context.WithTimeout a
// caller would need per turn if deadlines were timers rather than the watchdog.
func benchTurns(b *testing.B, p *Pool, req []byte, withTimeout bool) {
	i, err := p.Get(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Put(i)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tctx, cancel := ctx, context.CancelFunc(nil)
		if withTimeout {
			tctx, cancel = context.WithTimeout(ctx, time.Minute)
		}
		if _, err := i.Turn(tctx, req, nil); err != nil {
			b.Fatal(err)
		}
		if cancel != nil {
			cancel()
		}
	}
}

// BenchmarkPool measures a checkout and return of an idle instance.
func BenchmarkPool(b *testing.B) {
	e := newEngine(b, Config{})
	m, err := e.Compile(context.Background(), "tiny", tinyModule().encode())
	if err != nil {
		b.Fatal(err)
	}
	p, err := m.NewPool(context.Background(), PoolConfig{Max: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		i, err := p.Get(ctx)
		if err != nil {
			b.Fatal(err)
		}
		p.Put(i)
	}
}

// BenchmarkTurnImports runs turns that make two host imports each (kv_put,
// then kv_get of the same key), to show what an import adds to a turn.
func BenchmarkTurnImports(b *testing.B) {
	req := invoke("kv", argBin([]byte("counter")), argBin([]byte{1}))
	for _, mode := range []struct {
		name string
		cfg  Config
	}{
		{"interruptible", Config{}},
		{"uninterruptible", Config{Uninterruptible: true}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			_, p := newGuestPool(b, mode.cfg, PoolConfig{Max: 1})
			i, err := p.Get(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			defer p.Put(i)
			fx := newTestEffects()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := i.Turn(context.Background(), req, fx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPoolParallel measures checkouts and returns from two goroutines
// per CPU sharing a pool of one instance per CPU, the runtime's default.
func BenchmarkPoolParallel(b *testing.B) {
	e := newEngine(b, Config{})
	m, err := e.Compile(context.Background(), "tiny", tinyModule().encode())
	if err != nil {
		b.Fatal(err)
	}
	p, err := m.NewPool(context.Background(), PoolConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(2)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i, err := p.Get(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			p.Put(i)
		}
	})
}
