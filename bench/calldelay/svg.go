package calldelay

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strings"
)

// Layout of the chart: two panels side by side and a legend below.
const (
	panelW, panelH = 440, 300
	marginL        = 70
	marginT        = 40
	marginB        = 50
	gap            = 90
	legendRowH     = 18
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
	"#e377c2", "#17becf", "#7f7f7f", "#bcbd22"}

// series is one line of the chart: a mode and fan-out variant (its color)
// in one engine mode (its dash pattern).
type series struct {
	name   string // mode and fan-out, as the legend shows it
	color  string
	dashed bool         // uninterruptible
	points [][2]float64 // ops, value
}

// chartSVG draws ms per operation and operations per second against the
// number of operations, both on log scales, one line per series.
func chartSVG(rep *Report) string {
	rows := sweepRows(rep.Rows)
	ms, rate := chartSeries(rows, func(r Row) float64 { return r.MSPerOp }),
		chartSeries(rows, func(r Row) float64 { return r.OpsPerSec })
	legend := legendEntries(ms)
	width := marginL + 2*panelW + gap + 20
	height := marginT + panelH + marginB + legendRowH*((len(legend)+1)/2+1) + 20
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" `+
		`font-family="sans-serif" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	drawPanel(&b, marginL, "ms per operation (log)", ms)
	drawPanel(&b, marginL+panelW+gap, "operations per second (log)", rate)
	drawLegend(&b, legend, marginT+panelH+marginB)
	b.WriteString("</svg>\n")
	return b.String()
}

func chartSeries(rows []Row, value func(Row) float64) []series {
	byKey := map[string]*series{}
	var keys []string
	for _, r := range rows {
		v := value(r)
		if v <= 0 || !r.ok() {
			continue
		}
		name := variantName(r.Mode, r.Fanout)
		key := name + "/" + r.Engine
		s := byKey[key]
		if s == nil {
			s = &series{name: name, color: variantColor(r.Mode, r.Fanout),
				dashed: r.Engine == EngineUninterruptible}
			byKey[key] = s
			keys = append(keys, key)
		}
		s.points = append(s.points, [2]float64{float64(r.Ops), v})
	}
	out := make([]series, 0, len(keys))
	for _, k := range keys {
		s := byKey[k]
		sort.Slice(s.points, func(i, j int) bool { return s.points[i][0] < s.points[j][0] })
		out = append(out, *s)
	}
	return out
}

func variantName(m Mode, fanout bool) string {
	if fanout {
		return string(m) + " fan-out"
	}
	return string(m)
}

// variantColor gives each mode and fan-out variant its own color.
func variantColor(m Mode, fanout bool) string {
	i := 0
	for k, x := range AllModes {
		if x == m {
			i = 2 * k
		}
	}
	if fanout {
		i++
	}
	return palette[i%len(palette)]
}

// legendEntries returns one series per color, in order of appearance.
func legendEntries(ss []series) []series {
	seen := map[string]bool{}
	var out []series
	for _, s := range ss {
		if !seen[s.name] {
			seen[s.name] = true
			out = append(out, series{name: s.name, color: s.color})
		}
	}
	return out
}

// logRange returns the decades that enclose every value.
func logRange(ss []series, axis int) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, p := range s.points {
			lo, hi = math.Min(lo, p[axis]), math.Max(hi, p[axis])
		}
	}
	if math.IsInf(lo, 1) {
		return 0, 1
	}
	lo, hi = math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if hi <= lo {
		hi = lo + 1
	}
	return lo, hi
}

func drawPanel(b *strings.Builder, x0 int, title string, ss []series) {
	xlo, xhi := logRange(ss, 0)
	ylo, yhi := logRange(ss, 1)
	px := func(v float64) float64 {
		return float64(x0) + (math.Log10(v)-xlo)/(xhi-xlo)*panelW
	}
	py := func(v float64) float64 {
		return float64(marginT) + (1-(math.Log10(v)-ylo)/(yhi-ylo))*panelH
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="13" font-weight="bold">%s</text>`+"\n",
		x0, marginT-14, html.EscapeString(title))
	drawGrid(b, x0, xlo, xhi, ylo, yhi)
	for _, s := range ss {
		var pts []string
		for _, p := range s.points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p[0]), py(p[1])))
		}
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6,4"`
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.8"%s points="%s"/>`+
			"\n", s.color, dash, strings.Join(pts, " "))
		for _, p := range s.points {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`+"\n",
				px(p[0]), py(p[1]), s.color)
		}
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">operations per batch (log)</text>`+
		"\n", x0+panelW/2, marginT+panelH+36)
}

func drawGrid(b *strings.Builder, x0 int, xlo, xhi, ylo, yhi float64) {
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`+
		"\n", x0, marginT, panelW, panelH)
	for d := xlo; d <= xhi; d++ {
		x := float64(x0) + (d-xlo)/(xhi-xlo)*panelW
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n",
			x, marginT, x, marginT+panelH)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n",
			x, marginT+panelH+16, decade(d))
	}
	for d := ylo; d <= yhi; d++ {
		y := float64(marginT) + (1-(d-ylo)/(yhi-ylo))*panelH
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n",
			x0, y, x0+panelW, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
			x0-6, y+4, decade(d))
	}
}

// decade labels 10^d.
func decade(d float64) string {
	v := math.Pow(10, d)
	switch {
	case d >= 6:
		return fmt.Sprintf("%gM", v/1e6)
	case d >= 3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

func drawLegend(b *strings.Builder, ss []series, y0 int) {
	for i, s := range ss {
		x := marginL + (i%2)*(panelW+gap)
		y := y0 + (i/2)*legendRowH
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+
			"\n", x, y, x+24, y, s.color)
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", x+30, y+4,
			html.EscapeString(s.name))
	}
	y := y0 + ((len(ss)+1)/2)*legendRowH
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444" stroke-width="2"/>`+
		"\n", marginL, y, marginL+24, y)
	fmt.Fprintf(b, `<text x="%d" y="%d">interruptible (the default)</text>`+"\n",
		marginL+30, y+4)
	x := marginL + panelW + gap
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444" stroke-width="2" `+
		`stroke-dasharray="6,4"/>`+"\n", x, y, x+24, y)
	fmt.Fprintf(b, `<text x="%d" y="%d">uninterruptible</text>`+"\n", x+30, y+4)
}
