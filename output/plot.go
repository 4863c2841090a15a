package output

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/color"
	"io"
	"math"

	"github.com/whospoke/whospoke/annotation"
)

// Geometry shared by the SVG and PNG timelines, in pixels. Text metrics are
// the PNG font's (5×7 glyphs drawn at glyphScale), which the SVG's 14 px
// monospace also fits.
const (
	plotWidth     = 1200
	marginTop     = 10
	marginSide    = 10 // left of the labels, and the label-to-plot gap
	marginRight   = 30 // room for the last tick label
	laneHeight    = 32
	barHeight     = 22
	axisHeight    = 40
	glyphScale    = 2
	charAdvance   = 6 * glyphScale
	maxLabelChars = 24
)

var (
	background = color.RGBA{0xff, 0xff, 0xff, 0xff}
	gridColor  = color.RGBA{0xe6, 0xe6, 0xe6, 0xff}
	inkColor   = color.RGBA{0x33, 0x33, 0x33, 0xff}
	// palette is Tableau 10: distinct hues that stay apart for colour-blind
	// readers; speakers beyond ten reuse it in order.
	palette = []color.RGBA{
		{0x4e, 0x79, 0xa7, 0xff}, {0xf2, 0x8e, 0x2b, 0xff}, {0xe1, 0x57, 0x59, 0xff},
		{0x76, 0xb7, 0xb2, 0xff}, {0x59, 0xa1, 0x4f, 0xff}, {0xed, 0xc9, 0x48, 0xff},
		{0xb0, 0x7a, 0xa1, 0xff}, {0xff, 0x9d, 0xa7, 0xff}, {0x9c, 0x75, 0x5f, 0xff},
		{0xba, 0xb0, 0xac, 0xff},
	}
)

// timeline is the laid-out picture: one lane per speaker, in order of first
// appearance, above a time axis.
type timeline struct {
	duration    float64
	speakers    []string // lane i's speaker
	lane        map[string]int
	turns       []annotation.Turn
	left, right int // x-range of time 0 and time duration
	height      int
	ticks       []float64
	tickStep    float64
}

func layout(a *annotation.Annotation, duration float64) (*timeline, error) {
	if math.IsNaN(duration) || math.IsInf(duration, 0) || duration < 0 {
		return nil, fmt.Errorf("timeline: bad duration %v", duration)
	}
	t := &timeline{lane: map[string]int{}}
	end := 0.0
	for _, turn := range a.Turns {
		if !finite(turn.Start) || !finite(turn.End) {
			return nil, fmt.Errorf("timeline: turn %v of %s has a non-finite time", turn.Segment, turn.Speaker)
		}
		if turn.Empty() {
			continue
		}
		t.turns = append(t.turns, turn)
		end = math.Max(end, turn.End)
	}
	// Turns running past the stated duration stretch the axis rather than
	// fall off the picture; an empty recording still gets a 1 s axis.
	t.duration = math.Max(duration, end)
	if t.duration == 0 {
		t.duration = 1
	}
	labelChars := 0
	for i, l := range (&annotation.Annotation{Turns: t.turns}).Labels() {
		t.lane[l] = i
		t.speakers = append(t.speakers, l)
		labelChars = max(labelChars, len([]rune(shortLabel(l))))
	}
	t.left = 2*marginSide + labelChars*charAdvance
	t.right = plotWidth - marginRight
	t.height = marginTop + len(t.speakers)*laneHeight + axisHeight
	t.chooseTicks()
	return t, nil
}

// shortLabel cuts a long speaker name so the plot keeps most of its width.
func shortLabel(l string) string {
	if r := []rune(l); len(r) > maxLabelChars {
		return string(r[:maxLabelChars-1]) + "."
	}
	return l
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// x maps seconds to a horizontal pixel position.
func (t *timeline) x(sec float64) float64 {
	return float64(t.left) + math.Max(0, sec)/t.duration*float64(t.right-t.left)
}

// laneTop is the y of lane i's top edge; its bar sits centred in the lane.
func (t *timeline) laneTop(i int) int { return marginTop + i*laneHeight }

func (t *timeline) barTop(i int) int { return t.laneTop(i) + (laneHeight-barHeight)/2 }

// axisY is the y of the axis line, just under the last lane.
func (t *timeline) axisY() int { return marginTop + len(t.speakers)*laneHeight + 4 }

func (t *timeline) color(speaker string) color.RGBA { return palette[t.lane[speaker]%len(palette)] }

// tickSteps are the "round" spacings a reader expects on a time axis.
var tickSteps = []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400}

// chooseTicks picks the finest round spacing that keeps the axis to at most
// ten intervals (so five to eleven ticks) with room between the labels.
func (t *timeline) chooseTicks() {
	for i := 0; ; i++ {
		if i < len(tickSteps) {
			t.tickStep = tickSteps[i]
		} else {
			t.tickStep *= 2 // beyond a day: 2, 4, 8… days
		}
		if t.duration/t.tickStep > 10 {
			continue
		}
		t.ticks = t.ticks[:0]
		for k := 0; ; k++ {
			s := float64(k) * t.tickStep
			if s > t.duration*(1+1e-9) {
				break
			}
			t.ticks = append(t.ticks, s)
		}
		last := t.tickLabel(t.ticks[len(t.ticks)-1])
		room := t.x(t.tickStep) - t.x(0)
		if room >= float64((len(last)+2)*charAdvance) {
			return
		}
	}
}

// tickLabel writes a tick time as "0.5s", "30s", "2:30" or "1:02:30", the
// form chosen by the axis length so all labels on one axis agree.
func (t *timeline) tickLabel(sec float64) string {
	switch {
	case t.tickStep < 1:
		return fmt.Sprintf("%.1fs", sec)
	case t.duration < 60:
		return fmt.Sprintf("%.0fs", sec)
	}
	s := int64(math.Round(sec))
	if t.duration < 3600 {
		return fmt.Sprintf("%d:%02d", s/60, s%60)
	}
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}

// labelCenter is where a tick label centred under x goes, pulled in so the
// whole label stays on the picture.
func labelCenter(x float64, label string) float64 {
	half := float64(len(label)*charAdvance) / 2
	return math.Min(math.Max(x, half), plotWidth-half)
}

// WriteSVG draws the annotation as an SVG timeline covering duration seconds
// (stretched to the last turn if that ends later). Each speaker's lane is a
// <g class="lane"> holding its label and one <rect> per turn.
func WriteSVG(w io.Writer, a *annotation.Annotation, duration float64) error {
	t, err := layout(a, duration)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %[1]d %[2]d" font-family="monospace" font-size="14">`+"\n", plotWidth, t.height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="%s"/>`+"\n", plotWidth, t.height, hex(background))
	fmt.Fprintf(&b, `<g class="grid" stroke="%s">`+"\n", hex(gridColor))
	for _, s := range t.ticks {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`+"\n", t.x(s), marginTop, t.x(s), t.axisY())
	}
	b.WriteString("</g>\n")
	for i, speaker := range t.speakers {
		fmt.Fprintf(&b, `<g class="lane" data-speaker="%s" fill="%s">`+"\n", esc(speaker), hex(t.color(speaker)))
		fmt.Fprintf(&b, `<text x="%d" y="%d" dominant-baseline="middle" fill="%s">%s</text>`+"\n",
			marginSide, t.laneTop(i)+laneHeight/2, hex(inkColor), esc(shortLabel(speaker)))
		for _, turn := range t.turns {
			if t.lane[turn.Speaker] != i {
				continue
			}
			x0, x1 := t.x(turn.Start), t.x(turn.End)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d"><title>%s %.3f–%.3f s</title></rect>`+"\n",
				x0, t.barTop(i), math.Max(1, x1-x0), barHeight, esc(turn.Speaker), turn.Start, turn.End)
		}
		b.WriteString("</g>\n")
	}
	y := t.axisY()
	fmt.Fprintf(&b, `<g class="axis" stroke="%s" fill="%[1]s">`+"\n", hex(inkColor))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%[2]d"/>`+"\n", t.left, y, t.right)
	for _, s := range t.ticks {
		x := t.x(s)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`+"\n", x, y, x, y+6)
		label := t.tickLabel(s)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" stroke="none">%s</text>`+"\n", labelCenter(x, label), y+24, label)
	}
	b.WriteString("</g>\n</svg>\n")
	_, err = w.Write(b.Bytes())
	return err
}

func hex(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// esc escapes text and attribute values, replacing characters XML cannot
// hold, so any speaker label gives a well-formed file.
func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s)) // a bytes.Buffer never fails to write
	return b.String()
}
