package eval

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ReadWordsFile reads a dev-set word transcript (.words.tsv: a header line,
// then start, end, speaker and word separated by tabs).
func ReadWordsFile(path string) ([]TimedWord, error) { return readFile(path, ReadWords) }

// ReadWords reads the .words.tsv format of ReadWordsFile.
func ReadWords(r io.Reader) ([]TimedWord, error) {
	var out []TimedWord
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Split(sc.Text(), "\t")
		if n == 1 || len(f) < 4 {
			continue // the header, or a blank line
		}
		w, err := timedWord(f[0], f[1], f[2], f[3])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, w)
	}
	return out, sc.Err()
}

// ReadReferenceFile reads a dev reference transcript by its extension:
// STM (".stm", words with their segment's times) or else .words.tsv.
func ReadReferenceFile(path string) ([]TimedWord, error) {
	if strings.HasSuffix(path, ".stm") {
		return ReadSTMFile(path)
	}
	return ReadWordsFile(path)
}

// ReadSTMFile reads an STM transcript (file channel speaker start end
// words…; ";;" comments) as words carrying their segment's speaker and
// times, since STM has no word times. Tags such as "<o,f0,male>" are not
// words and are left out.
func ReadSTMFile(path string) ([]TimedWord, error) { return readFile(path, ReadSTM) }

// ReadSTM reads the STM format of ReadSTMFile.
func ReadSTM(r io.Reader) ([]TimedWord, error) {
	var out []TimedWord
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) < 6 || strings.HasPrefix(line, ";;") {
			continue
		}
		for _, text := range f[5:] {
			if strings.HasPrefix(text, "<") {
				continue
			}
			w, err := timedWord(f[3], f[4], f[2], text)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			out = append(out, w)
		}
	}
	return out, sc.Err()
}

func timedWord(start, end, speaker, text string) (TimedWord, error) {
	s, err := strconv.ParseFloat(start, 64)
	if err != nil {
		return TimedWord{}, err
	}
	e, err := strconv.ParseFloat(end, 64)
	if err != nil {
		return TimedWord{}, err
	}
	return TimedWord{Start: s, End: e, Speaker: speaker, Text: text}, nil
}
