package bench

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes the report as the diarization section of BENCHMARKS.md.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("## Offline diarization (`whospoke bench`)\n\n")
	p("- Date: %s\n- Machine: %s\n- Command: `%s`\n", r.Date.Format("2006-01-02 15:04 UTC"), r.Machine, r.Command)
	c := r.Config
	p("- Settings: segmentation step %.2gs (fp32 model, batch %d), embedding chunks %.2gs every %.2gs, AHC threshold %.3g, min cluster size %d, refined assignment, chunk labels, mixed speakers split\n\n",
		c.Segmentation.Step, c.Segmentation.BatchSize, c.Embed.ChunkSeconds, c.Embed.HopSeconds, c.Clustering.Threshold, c.Clustering.MinClusterSize)

	p("### DER on the dev set (pooled, %%; md-eval-conformant scorer)\n\n")
	p("| part | collar 0, overlap scored (headline) | collar 0.25 | collar 0, overlap excluded | collar 0.25, overlap excluded | JER | audio | wall | RTF |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, pr := range r.Parts {
		p("| %s | **%.2f** | %.2f | %.2f | %.2f | %.2f | %.0fs | %.1fs | %.4f |\n", Label(pr.Part, pr.Condition), pr.DER0, pr.DER25, pr.DER0NoOv, pr.DER25NoOv, pr.JER, pr.Audio, pr.Wall, pr.Wall/pr.Audio)
	}
	if r.Peer != nil {
		p("\nReference system (sherpa-onnx 1.13.8, same models, threshold 0.5, 2 threads, md-eval), run in the same session:\n\n")
		p("| part | peer collar 0 | peer collar 0.25 | whospoke collar 0 | ratio (target ≤ 0.8) |\n|---|---|---|---|---|\n")
		for _, pr := range r.Parts {
			peer, ok := r.Peer.DER[pr.Part+" c=0"]
			if !ok || Label(pr.Part, pr.Condition) != pr.Part {
				continue // the peer runs on the set's clean files only
			}
			ratio := 0.0
			if peer > 0 {
				ratio = pr.DER0 / peer
			}
			p("| %s | %.2f | %.2f | %.2f | %.2f |\n", pr.Part, peer, r.Peer.DER[pr.Part+" c=0.25"], pr.DER0, ratio)
		}
		p("\nPeer real-time factor on the set: %.4f\n", r.Peer.RTF)
	}

	writeGroups(p, r.Groups)

	p("\n### Per file (collar 0 and 0.25)\n\n")
	p("Speakers: found / reference speakers with ≥ 1 s of speech in the scored region; count error = found − reference. Missed, false alarm and confusion in %% of the file's scored speaker time, collar 0.\n\n")
	p("| part | file | audio | speakers | count error | DER c=0 | missed | false alarm | confusion | DER c=0.25 | wall |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, f := range r.Files {
		c := f.C0
		p("| %s | %s | %.1fs | %d/%d | %+d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2fs |\n", Label(f.Part, f.Condition), f.URI, f.Seconds,
			f.HypSpk, f.RefCounted, f.CountErr(), f.DER0, pct(c.Missed, c.Scored), pct(c.FalseAlarm, c.Scored), pct(c.Confusion, c.Scored), f.DER25, f.Wall)
	}
	if len(r.Long) > 0 {
		p("\n### Long files (the set's files concatenated; child `whospoke diarize` process, models loaded once)\n\n")
		p("| length | wall | RTF (target ≤ 0.02) | peak RSS (target ≤ 1 GB at 4 h) | peer wall (2 threads) | whospoke / peer (target ≤ 0.5) |\n|---|---|---|---|---|---|\n")
		for _, l := range r.Long {
			peer, ratio := "–", "–"
			if l.PeerWall > 0 {
				peer = fmt.Sprintf("%.1fs", l.PeerWall)
				ratio = fmt.Sprintf("%.2f", l.Wall/l.PeerWall)
			}
			p("| %g h | %.1fs | %.4f | %.0f MB | %s | %s |\n", l.Hours, l.Wall, l.RTF, l.PeakRSSMB, peer, ratio)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeGroups writes the pooled scores per condition of each part, each half
// of the real part (Split) and all files, and the speaker-count summary.
func writeGroups(p func(string, ...any), gs []GroupResult) {
	if len(gs) == 0 {
		return
	}
	p("\n### Per condition and half (pooled; halves of real as in bench/split.go)\n\n")
	p("Missed, false alarm and confusion in %% of scored speaker time, collar 0. Count: exact on k of n files; off by more than one on m of the files with ≤ 4 reference speakers (speakers with ≥ 1 s of speech). \"all\" is the set's real and sim files; calls (two-speaker conversations built from the set's single-speaker recordings, bench/calls.go) are pooled on their own.\n\n")
	p("| condition | group | files | DER c=0 | missed | false alarm | confusion | DER c=0.25 | count exact | count off by > 1 (≤ 4 spk) |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, g := range gs {
		c := g.C0
		p("| %s | %s | %d | **%.2f** | %.2f | %.2f | %.2f | %.2f | %d/%d | %d/%d |\n", g.Condition, g.Group, g.Files, g.DER0(),
			pct(c.Missed, c.Scored), pct(c.FalseAlarm, c.Scored), pct(c.Confusion, c.Scored), g.DER25(),
			g.CountExact, g.Files, g.CountFar, g.CountSmall)
	}
	p("\n")
	for _, g := range gs {
		switch g.Group {
		case "all":
			p("- %s: %s\n", g.Condition, g.CountSummary())
		case Calls:
			p("- %s, calls: %s\n", g.Condition, g.CountSummary())
		}
	}
}
