package whisper

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Tokenizer maps token ids to bytes (tokens.txt) and text to ids (the
// byte-level BPE of tokenizer.json, loaded on first use because only
// prompts need it).
type Tokenizer struct {
	pieces [][]byte // id → bytes; specials hold their text ("<|en|>")
	eot    int      // ids ≥ eot are special
	tsBeg  int      // ids ≥ tsBeg are timestamps

	bpeDir  string
	bpeOnce sync.Once
	bpeErr  error
	vocab   map[string]int // byte-level unicode string → id
	ranks   map[[2]string]int
	cache   sync.Map // word → []int
}

func loadTokenizer(dir string, eot, tsBegin int) (*Tokenizer, error) {
	f, err := os.Open(filepath.Join(dir, TokensFile))
	if err != nil {
		return nil, fmt.Errorf("whisper: %w", err)
	}
	defer f.Close()
	t := &Tokenizer{eot: eot, tsBeg: tsBegin, bpeDir: dir}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := sc.Text()
		// Split at the last space: an empty piece's line is " 50256".
		i := strings.LastIndexByte(s, ' ')
		if i < 0 {
			return nil, fmt.Errorf("whisper: %s:%d: no id", TokensFile, line)
		}
		id, err := strconv.Atoi(s[i+1:])
		if err != nil || id < 0 || id > 1<<20 {
			return nil, fmt.Errorf("whisper: %s:%d: bad id %q", TokensFile, line, s[i+1:])
		}
		b, err := base64.StdEncoding.DecodeString(s[:i])
		if err != nil {
			return nil, fmt.Errorf("whisper: %s:%d: %w", TokensFile, line, err)
		}
		for len(t.pieces) <= id {
			t.pieces = append(t.pieces, nil)
		}
		t.pieces[id] = b
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("whisper: %s: %w", TokensFile, err)
	}
	if len(t.pieces) <= tsBegin {
		return nil, fmt.Errorf("whisper: %s has %d tokens, fewer than the timestamps need", TokensFile, len(t.pieces))
	}
	return t, nil
}

// Size is the number of ids.
func (t *Tokenizer) Size() int { return len(t.pieces) }

// Piece returns the bytes (or, for a special token, the text) of one id.
func (t *Tokenizer) Piece(id int) []byte {
	if id < 0 || id >= len(t.pieces) {
		return nil
	}
	return t.pieces[id]
}

// Decode returns the text of the ordinary tokens in ids (specials and
// timestamps are left out), with invalid UTF-8 replaced by U+FFFD.
func (t *Tokenizer) Decode(ids []int) string {
	var b []byte
	for _, id := range ids {
		if id >= 0 && id < t.eot {
			b = append(b, t.pieces[id]...)
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// decodeAll also spells specials, as openai's decode_with_timestamps does.
func (t *Tokenizer) decodeAll(ids []int) string {
	var b []byte
	for _, id := range ids {
		b = append(b, t.Piece(id)...)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// splitWords groups tokens into words as openai's split_to_word_tokens
// does: first into pieces that decode to whole UTF-8 characters, then, for
// languages that use spaces, a new word at every leading space, punctuation
// or special token.
func (t *Tokenizer) splitWords(ids []int, spaceless bool) (words []string, groups [][]int) {
	var cur []int
	var buf []byte
	for _, id := range ids {
		cur = append(cur, id)
		buf = append(buf, t.Piece(id)...)
		if utf8.Valid(buf) || id >= t.eot {
			words = append(words, string(buf))
			groups = append(groups, cur)
			cur, buf = nil, nil
		}
	}
	if len(cur) > 0 {
		words = append(words, strings.ToValidUTF8(string(buf), "\uFFFD"))
		groups = append(groups, cur)
	}
	if spaceless {
		return words, groups
	}
	var ws []string
	var gs [][]int
	for i, w := range words {
		special := groups[i][0] >= t.eot
		space := strings.HasPrefix(w, " ")
		punct := isASCIIPunct(strings.TrimSpace(w))
		if special || space || punct || len(ws) == 0 {
			ws = append(ws, w)
			gs = append(gs, append([]int(nil), groups[i]...))
		} else {
			ws[len(ws)-1] += w
			gs[len(gs)-1] = append(gs[len(gs)-1], groups[i]...)
		}
	}
	return ws, gs
}

// isASCIIPunct reports whether s is one character of Python's
// string.punctuation.
func isASCIIPunct(s string) bool {
	return len(s) == 1 && strings.ContainsRune("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", rune(s[0]))
}

// Encode turns text into ordinary token ids with GPT-2's byte-level BPE
// (the pre-tokeniser and merges tiktoken uses for Whisper).
func (t *Tokenizer) Encode(text string) ([]int, error) {
	t.bpeOnce.Do(t.loadBPE)
	if t.bpeErr != nil {
		return nil, t.bpeErr
	}
	var ids []int
	for _, w := range pretokenize(text) {
		if c, ok := t.cache.Load(w); ok {
			ids = append(ids, c.([]int)...)
			continue
		}
		got, err := t.bpe(w)
		if err != nil {
			return nil, err
		}
		t.cache.Store(w, got)
		ids = append(ids, got...)
	}
	return ids, nil
}

func (t *Tokenizer) loadBPE() {
	b, err := os.ReadFile(filepath.Join(t.bpeDir, BPEFile))
	if err != nil {
		t.bpeErr = fmt.Errorf("whisper: encoding text needs %s: %w", BPEFile, err)
		return
	}
	var hf struct {
		Model struct {
			Vocab  map[string]int    `json:"vocab"`
			Merges []json.RawMessage `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(b, &hf); err != nil {
		t.bpeErr = fmt.Errorf("whisper: %s: %w", BPEFile, err)
		return
	}
	t.vocab = hf.Model.Vocab
	t.ranks = make(map[[2]string]int, len(hf.Model.Merges))
	for i, raw := range hf.Model.Merges {
		// Merges are ["a","b"] pairs in newer files, "a b" strings in older.
		var pair [2]string
		var s string
		if json.Unmarshal(raw, &pair) != nil {
			if err := json.Unmarshal(raw, &s); err != nil {
				t.bpeErr = fmt.Errorf("whisper: %s: merge %d: %w", BPEFile, i, err)
				return
			}
			a, b, ok := strings.Cut(s, " ")
			if !ok {
				t.bpeErr = fmt.Errorf("whisper: %s: merge %d: %q", BPEFile, i, s)
				return
			}
			pair = [2]string{a, b}
		}
		t.ranks[pair] = i
	}
}

// byteRune is GPT-2's reversible map from bytes to printable runes.
var byteRune = func() (m [256]rune) {
	n := 0
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			m[b] = rune(b)
		} else {
			m[b] = rune(256 + n)
			n++
		}
	}
	return
}()

// bpe merges the byte-level symbols of one pre-token by rank.
func (t *Tokenizer) bpe(word string) ([]int, error) {
	syms := make([]string, 0, len(word))
	for i := 0; i < len(word); i++ {
		syms = append(syms, string(byteRune[word[i]]))
	}
	for len(syms) > 1 {
		best, at := -1, -1
		for i := 0; i+1 < len(syms); i++ {
			if r, ok := t.ranks[[2]string{syms[i], syms[i+1]}]; ok && (best < 0 || r < best) {
				best, at = r, i
			}
		}
		if at < 0 {
			break
		}
		merged := syms[at] + syms[at+1]
		next := syms[:at:at]
		next = append(next, merged)
		syms = append(next, syms[at+2:]...)
	}
	ids := make([]int, len(syms))
	for i, s := range syms {
		id, ok := t.vocab[s]
		if !ok {
			return nil, fmt.Errorf("whisper: BPE symbol %q not in vocabulary", s)
		}
		ids[i] = id
	}
	return ids, nil
}

// pretokenize splits text like GPT-2's pattern
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (hand-written: Go's regexp has no look-ahead).
func pretokenize(text string) []string {
	rs := []rune(text)
	var out []string
	isL := func(r rune) bool { return unicode.IsLetter(r) }
	isN := func(r rune) bool { return unicode.IsNumber(r) }
	isS := unicode.IsSpace
	for i := 0; i < len(rs); {
		// Contractions.
		if rs[i] == '\'' {
			matched := false
			for _, c := range []string{"s", "t", "re", "ve", "m", "ll", "d"} {
				cr := []rune(c)
				if i+1+len(cr) <= len(rs) && string(rs[i+1:i+1+len(cr)]) == c {
					out = append(out, string(rs[i:i+1+len(cr)]))
					i += 1 + len(cr)
					matched = true
					break
				}
			}
			if matched {
				continue
			}
		}
		j := i
		if rs[j] == ' ' && j+1 < len(rs) && !isS(rs[j+1]) {
			j++ // optional leading space before a letter/number/symbol run
		}
		switch {
		case isL(rs[j]):
			for j < len(rs) && isL(rs[j]) {
				j++
			}
		case isN(rs[j]):
			for j < len(rs) && isN(rs[j]) {
				j++
			}
		case !isS(rs[j]):
			for j < len(rs) && !isS(rs[j]) && !isL(rs[j]) && !isN(rs[j]) {
				j++
			}
		default:
			// A whitespace run: leave its last space to start the next
			// word (\s+(?!\S)), unless it ends the text.
			k := j
			for k < len(rs) && isS(rs[k]) {
				k++
			}
			if k < len(rs) && k-j > 1 {
				k--
			}
			j = k
		}
		out = append(out, string(rs[i:j]))
		i = j
	}
	return out
}
