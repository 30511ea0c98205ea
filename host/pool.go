package host

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// PoolConfig sizes a [Pool].
type PoolConfig struct {
	// Max is the most instances the pool keeps, in use and idle. 0 means GOMAXPROCS.
	Max int
	// Warm is how many instances the pool creates up front and keeps alive by
	// replacing broken ones in the background. It is clamped to Max.
	Warm int
}

// PoolStats is a snapshot of a pool's counters.
type PoolStats struct {
	Live      int // instances that exist or are being created, in use or idle
	Idle      int // instances waiting in the pool
	Created   int // instances the pool ever created or adopted
	Discarded int // broken instances the pool closed
}

// Pool hands out instances of one module, at most one goroutine per instance.
// It owns its instances explicitly: every instance it created is closed when it
// breaks or when the pool closes. A Pool is safe for concurrent use.
type Pool struct {
	m         *Module
	max, warm int

	idle    chan *Instance // idle instances, LIFO enough for a warm cache
	freed   chan struct{}  // a slot was freed; wakes waiters to create an instance
	closing chan struct{}
	refill  chan struct{} // wakes the refiller to top the pool up to warm
	bgDone  chan struct{} // closed when the refiller has returned
	bgCtx   context.Context
	bgStop  context.CancelFunc

	mu        sync.Mutex
	closed    bool
	live      int
	created   int
	discarded int
}

// NewPool creates a pool of the module's instances and its Warm instances. The
// first pool of a module adopts the instance Compile made.
func (m *Module) NewPool(ctx context.Context, cfg PoolConfig) (*Pool, error) {
	if cfg.Max < 0 || cfg.Warm < 0 {
		return nil, fmt.Errorf("host: pool for module %q: negative size (max %d, warm %d)",
			m.name, cfg.Max, cfg.Warm)
	}
	if cfg.Max == 0 {
		cfg.Max = runtime.GOMAXPROCS(0)
	}
	p := &Pool{
		m:       m,
		max:     cfg.Max,
		warm:    min(cfg.Warm, cfg.Max),
		idle:    make(chan *Instance, cfg.Max),
		freed:   make(chan struct{}, cfg.Max),
		closing: make(chan struct{}),
		refill:  make(chan struct{}, 1),
		bgDone:  make(chan struct{}),
	}
	p.bgCtx, p.bgStop = context.WithCancel(context.WithoutCancel(ctx))
	if err := m.e.addPool(p); err != nil {
		p.bgStop()
		return nil, err
	}
	go p.refiller()
	if err := p.fill(ctx); err != nil {
		return nil, fmt.Errorf("host: pool for module %q: %w", m.name, err)
	}
	return p, nil
}

// fill adopts the module's spare instance and creates instances up to warm.
func (p *Pool) fill(ctx context.Context) error {
	if spare := p.m.takeSpare(); spare != nil {
		spare.pool = p
		p.mu.Lock()
		p.live++
		p.created++
		p.idle <- spare
		p.mu.Unlock()
	}
	var got []*Instance
	defer func() {
		for _, i := range got {
			p.Put(i)
		}
	}()
	for p.Stats().Live < p.warm {
		i, err := p.Get(ctx)
		if err != nil {
			return errors.Join(err, p.Close(ctx))
		}
		got = append(got, i)
	}
	return nil
}

// Get returns an idle instance, or creates one while the pool holds fewer than
// Max, or else waits until one is put back or ctx is done. It returns ErrClosed
// after Close.
func (p *Pool) Get(ctx context.Context) (*Instance, error) {
	for {
		select {
		case i := <-p.idle:
			return p.checkout(i), nil
		default:
		}
		ok, err := p.reserve()
		if err != nil {
			return nil, err
		}
		if ok {
			return p.create(ctx)
		}
		select {
		case i := <-p.idle:
			return p.checkout(i), nil
		case <-p.freed:
		case <-p.closing:
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (p *Pool) checkout(i *Instance) *Instance {
	i.out.Store(true)
	return i
}

// reserve takes a slot for a new instance if the pool has room.
func (p *Pool) reserve() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false, ErrClosed
	}
	if p.live >= p.max {
		return false, nil
	}
	p.live++
	return true, nil
}

// create instantiates into a reserved slot.
func (p *Pool) create(ctx context.Context) (*Instance, error) {
	i, err := p.m.newInstance(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.live--
		p.signalFreed()
		return nil, err
	}
	p.created++
	i.pool = p
	return p.checkout(i), nil
}

// Put gives back an instance that Get returned. A broken instance is dropped and
// its slot freed; if the pool then holds fewer than Warm, a replacement is created
// in the background. After Close, Put closes the instance. Put panics if i is not
// an instance of this pool that is out of it, which would let two goroutines share
// one instance.
func (p *Pool) Put(i *Instance) {
	if i.pool != p || !i.out.CompareAndSwap(true, false) {
		panic("host: Put of an Instance that this pool did not hand out")
	}
	if i.Broken() {
		p.discard(i)
		return
	}
	p.mu.Lock()
	if !p.closed {
		p.idle <- i // never blocks: idle instances are live, and live <= max = cap(idle)
		p.mu.Unlock()
		return
	}
	p.live--
	p.mu.Unlock()
	i.close(context.Background())
}

func (p *Pool) discard(i *Instance) {
	i.close(context.Background())
	p.mu.Lock()
	p.live--
	p.discarded++
	refill := !p.closed && p.live < p.warm
	p.signalFreed()
	p.mu.Unlock()
	if refill {
		select {
		case p.refill <- struct{}{}:
		default:
		}
	}
}

// signalFreed wakes a waiting Get, if any, to create an instance.
func (p *Pool) signalFreed() {
	select {
	case p.freed <- struct{}{}:
	default:
	}
}

// refiller is the pool's one background goroutine. It replaces broken instances
// while the pool holds fewer than Warm.
func (p *Pool) refiller() {
	defer close(p.bgDone)
	for {
		select {
		case <-p.closing:
			return
		case <-p.refill:
			p.topUp()
		}
	}
}

func (p *Pool) topUp() {
	for {
		p.mu.Lock()
		if p.closed || p.live >= p.warm {
			p.mu.Unlock()
			return
		}
		p.live++
		p.mu.Unlock()
		i, err := p.m.newInstance(p.bgCtx)
		if err != nil {
			p.m.e.log.Warn("host: failed to replace broken instance", "module", p.m.name, "err", err)
			p.mu.Lock()
			p.live--
			p.signalFreed()
			p.mu.Unlock()
			return
		}
		if !p.addIdle(i) {
			i.close(context.Background())
			return
		}
	}
}

// addIdle puts a new instance into the pool, or reports false after Close.
func (p *Pool) addIdle(i *Instance) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		p.live--
		return false
	}
	p.created++
	i.pool = p
	p.idle <- i
	return true
}

// Close closes the idle instances and waits for the background refill to stop,
// or for ctx. Instances in use are closed when they are put back. Get then returns
// ErrClosed.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.closing)
	p.mu.Unlock()
	p.bgStop()
	p.m.e.removePool(p)
	var err error
	select {
	case <-p.bgDone:
	case <-ctx.Done():
		err = fmt.Errorf("host: close pool of module %q: %w", p.m.name, ctx.Err())
	}
	p.drain()
	return err
}

func (p *Pool) drain() {
	for {
		select {
		case i := <-p.idle:
			p.mu.Lock()
			p.live--
			p.mu.Unlock()
			i.close(context.Background())
		default:
			return
		}
	}
}

// Stats returns the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{Live: p.live, Idle: len(p.idle), Created: p.created, Discarded: p.discarded}
}
