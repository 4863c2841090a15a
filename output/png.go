package output

import (
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"

	"github.com/whospoke/whospoke/annotation"
)

// WritePNG draws the same timeline as WriteSVG as a PNG image, plotWidth
// pixels wide, with labels in the built-in bitmap font.
func WritePNG(w io.Writer, a *annotation.Annotation, duration float64) error {
	t, err := layout(a, duration)
	if err != nil {
		return err
	}
	img := image.NewRGBA(image.Rect(0, 0, plotWidth, t.height))
	fill(img, img.Bounds(), background)
	y := t.axisY()
	for _, s := range t.ticks {
		x := int(math.Round(t.x(s)))
		fill(img, image.Rect(x, marginTop, x+1, y), gridColor)
	}
	for i, speaker := range t.speakers {
		drawText(img, marginSide, t.laneTop(i)+(laneHeight-7*glyphScale)/2, shortLabel(speaker), inkColor)
	}
	for _, turn := range t.turns {
		i := t.lane[turn.Speaker]
		// Round outward so a turn shorter than a pixel still shows.
		x0 := int(math.Floor(t.x(turn.Start)))
		x1 := max(int(math.Ceil(t.x(turn.End))), x0+1)
		fill(img, image.Rect(x0, t.barTop(i), x1, t.barTop(i)+barHeight), t.color(turn.Speaker))
	}
	fill(img, image.Rect(t.left, y, t.right+1, y+1), inkColor)
	for _, s := range t.ticks {
		x := int(math.Round(t.x(s)))
		fill(img, image.Rect(x, y, x+1, y+6), inkColor)
		label := t.tickLabel(s)
		// The last column of a glyph cell is spacing, so centre the inked part.
		lx := int(math.Round(labelCenter(float64(x), label))) - (len(label)*charAdvance-glyphScale)/2
		drawText(img, lx, y+10, label, inkColor)
	}
	return png.Encode(w, img)
}

func fill(img draw.Image, r image.Rectangle, c color.RGBA) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// drawText draws s with its top-left corner at (x, y), each font pixel a
// glyphScale×glyphScale square.
func drawText(img draw.Image, x, y int, s string, c color.RGBA) {
	for _, r := range s {
		g, ok := glyphs[r]
		if !ok {
			g = glyphs['?']
		}
		for row, bits := range g {
			for col := range 5 {
				if bits&(0x10>>col) != 0 {
					px, py := x+col*glyphScale, y+row*glyphScale
					fill(img, image.Rect(px, py, px+glyphScale, py+glyphScale), c)
				}
			}
		}
		x += charAdvance
	}
}
