package calldelay

import (
	"fmt"
	"strings"
	"time"
)

// plainInterval is how often a row's progress is printed when the display is
// not a terminal.
const plainInterval = 2 * time.Second

// bar shows the progress of one row: a live bar on a terminal, and a plain
// line every plainInterval otherwise.
type bar struct {
	r       *runner
	spec    rowSpec
	tr      *tracker
	start   time.Time
	printed time.Time
}

func (r *runner) newBar(spec rowSpec, tr *tracker) *bar {
	now := time.Now()
	return &bar{r: r, spec: spec, tr: tr, start: now, printed: now}
}

func (b *bar) update() {
	done, errs := b.tr.done.Load(), b.tr.errs.Load()
	elapsed := time.Since(b.start).Round(100 * time.Millisecond)
	frac := float64(done) / float64(b.spec.ops)
	if b.r.cfg.TTY {
		const width = 30
		fill := min(width, int(frac*width))
		fmt.Fprintf(b.r.cfg.Progress, "\r\033[K%-42s [%s%s] %3.0f%% %d/%d errors %d %s",
			b.spec, strings.Repeat("#", fill), strings.Repeat(".", width-fill), frac*100,
			done, b.spec.ops, errs, elapsed)
		return
	}
	if time.Since(b.printed) >= plainInterval {
		b.printed = time.Now()
		fmt.Fprintf(b.r.cfg.Progress, "%s: %d/%d done (%.0f%%), %d errors, %s\n",
			b.spec, done, b.spec.ops, frac*100, errs, elapsed)
	}
}

// finish clears the live bar.
func (b *bar) finish() {
	if b.r.cfg.TTY {
		fmt.Fprint(b.r.cfg.Progress, "\r\033[K")
	}
}
