// Package whisper is whospoke's speech recogniser: OpenAI Whisper (tiny.en,
// base) run through ONNX Runtime, with openai-whisper's own front end,
// greedy decoding rules, long-form seek loop and cross-attention word
// timestamps reimplemented in Go so that its text matches the reference
// decoding of the same ONNX files.
package whisper

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Model file names inside a model folder (docs/MODELS.md).
const (
	EncoderFile = "encoder.int8.onnx"
	DecoderFile = "decoder.int8.onnx"
	// DynEncoderFile and DynDecoderFile are the same network with a
	// variable-length audio axis (tiny.en only). At 3000 frames they are
	// bit-identical to the fixed pair, so New loads them when both are
	// present and short windows become possible.
	DynEncoderFile = "encoder.dyn.int8.onnx"
	DynDecoderFile = "decoder.dyn.int8.onnx"
	TokensFile     = "tokens.txt"
	ConfigFile     = "config.json"
	FiltersFile    = "mel-filters-80x201.f32"
	BPEFile        = "tokenizer.json"
)

// Audio constants of every Whisper model.
const (
	SampleRate    = 16000
	NFFT          = 400
	HopLength     = 160
	NMels         = 80
	ChunkSeconds  = 30
	WindowSamples = ChunkSeconds * SampleRate // 480,000
	WindowFrames  = WindowSamples / HopLength // 3000 mel frames
	AudioCtx      = WindowFrames / 2          // 1500 encoder positions
	TextCtx       = 448                       // decoder positions (cache size)
	// FramesPerSecond is mel frames per second; TokensPerSecond is encoder
	// positions (timestamp steps) per second.
	FramesPerSecond = SampleRate / HopLength
	TokensPerSecond = FramesPerSecond / 2
	// TimePrecision is the step of a timestamp token, in seconds.
	TimePrecision = 0.02
)

// Config says which model to load and how to run it. Build it with
// DefaultConfig and check it with Validate (New does).
type Config struct {
	// Dir is the model folder (encoder, decoder, tokens, config, filters).
	Dir string
	// Threads is the intra-op thread count of both sessions; 0 = all cores.
	Threads int
	// Spin keeps the decoder's idle intra-op threads spinning between
	// operations instead of sleeping. A decoder step is a hundred small
	// operations on one token, and waking a sleeping thread for each costs
	// more than the operation: spinning is faster when the decoder has the
	// cores to itself (one file on the command line) and wastes them when
	// other work shares the cores (the server's jobs and live sessions).
	Spin bool
}

// DefaultConfig is the model in dir with all cores.
func DefaultConfig(dir string) Config { return Config{Dir: dir} }

// WithThreads sets the thread count.
func (c Config) WithThreads(n int) Config { c.Threads = n; return c }

// WithSpin sets Spin.
func (c Config) WithSpin(spin bool) Config { c.Spin = spin; return c }

// Validate checks that the folder holds every file a model needs: the
// variable-length encoder and decoder or the fixed ones, and the rest.
func (c Config) Validate() error {
	if c.Dir == "" {
		return errors.New("whisper: no model folder given")
	}
	if c.Threads < 0 {
		return fmt.Errorf("whisper: threads %d < 0", c.Threads)
	}
	need := []string{EncoderFile, DecoderFile, TokensFile, ConfigFile, FiltersFile}
	if c.variableWindow() {
		need = need[2:]
	}
	for _, f := range need {
		if _, err := os.Stat(filepath.Join(c.Dir, f)); err != nil {
			return fmt.Errorf("whisper: model folder %s lacks %s (install it with `whospoke models install`): %w", c.Dir, f, err)
		}
	}
	return nil
}

// variableWindow reports whether the folder has both variable-length files.
func (c Config) variableWindow() bool {
	for _, f := range []string{DynEncoderFile, DynDecoderFile} {
		if _, err := os.Stat(filepath.Join(c.Dir, f)); err != nil {
			return false
		}
	}
	return true
}

// Dims are the network sizes from config.json.
type Dims struct {
	NMels       int `json:"n_mels"`
	NAudioCtx   int `json:"n_audio_ctx"`
	NAudioState int `json:"n_audio_state"`
	NVocab      int `json:"n_vocab"`
	NTextCtx    int `json:"n_text_ctx"`
	NTextState  int `json:"n_text_state"`
	NTextHead   int `json:"n_text_head"`
	NTextLayer  int `json:"n_text_layer"`
}

// Specials are the ids of the special tokens.
type Specials struct {
	EOT            int            `json:"eot"`
	SOT            int            `json:"sot"`
	Translate      int            `json:"translate"`
	Transcribe     int            `json:"transcribe"`
	SOTLM          int            `json:"sot_lm"`
	SOTPrev        int            `json:"sot_prev"`
	NoSpeech       int            `json:"no_speech"`
	NoTimestamps   int            `json:"no_timestamps"`
	TimestampBegin int            `json:"timestamp_begin"`
	LangIDs        []int          `json:"lang_ids"`
	LangIDByCode   map[string]int `json:"lang_id_by_code"`
}

// ModelConfig is config.json: everything about a model that is not weights.
type ModelConfig struct {
	Dims            Dims     `json:"dims"`
	Special         Specials `json:"special_tokens"`
	Multilingual    bool     `json:"is_multilingual"`
	Language        string   `json:"language"`
	SOTSequence     []int    `json:"sot_sequence"`
	SOTSequenceNoTS []int    `json:"sot_sequence_including_notimestamps"`
	SuppressTokens  []int    `json:"suppress_tokens"`
	SuppressBegin   []int    `json:"suppress_ids_begin"`
	AlwaysSuppress  []int    `json:"always_suppress_also"`
	AlignmentHeads  [][2]int `json:"alignment_heads"`
}

func loadModelConfig(dir string) (*ModelConfig, error) {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("whisper: %w", err)
	}
	var c ModelConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("whisper: %s: %w", ConfigFile, err)
	}
	return &c, c.check()
}

func (c *ModelConfig) check() error {
	d, s := c.Dims, c.Special
	switch {
	case d.NMels != NMels || d.NAudioCtx != AudioCtx || d.NTextCtx != TextCtx:
		return fmt.Errorf("whisper: unsupported dims %+v", d)
	case d.NTextLayer <= 0 || d.NTextState <= 0 || d.NVocab <= s.TimestampBegin:
		return fmt.Errorf("whisper: bad dims %+v", d)
	case len(c.SOTSequence) == 0 || c.SOTSequence[0] != s.SOT:
		return errors.New("whisper: config.json: sot_sequence must start with sot")
	case len(c.AlignmentHeads) == 0:
		return errors.New("whisper: config.json: no alignment_heads")
	}
	for _, h := range c.AlignmentHeads {
		if h[0] < 0 || h[0] >= d.NTextLayer || h[1] < 0 || h[1] >= d.NTextHead {
			return fmt.Errorf("whisper: alignment head %v out of range", h)
		}
	}
	return nil
}

// Languages lists the language codes the model knows, in token order; empty
// for English-only models.
func (c *ModelConfig) Languages() []string {
	if !c.Multilingual {
		return nil
	}
	codes := make([]string, 0, len(c.Special.LangIDByCode))
	for k := range c.Special.LangIDByCode {
		codes = append(codes, k)
	}
	sort.Slice(codes, func(i, j int) bool {
		return c.Special.LangIDByCode[codes[i]] < c.Special.LangIDByCode[codes[j]]
	})
	return codes
}

// sotSequence is the prompt start for a language (multilingual models put
// the language token after sot; English-only models have none).
func (c *ModelConfig) sotSequence(lang string, timestamps bool) ([]int, error) {
	seq := append([]int(nil), c.SOTSequence...)
	if c.Multilingual {
		id, ok := c.Special.LangIDByCode[lang]
		if !ok {
			return nil, fmt.Errorf("whisper: unknown language %q", lang)
		}
		seq[1] = id
	} else if lang != "" && lang != "en" {
		return nil, fmt.Errorf("whisper: this model is English-only; language %q needs a multilingual model (--model base)", lang)
	}
	if !timestamps {
		seq = append(seq, c.Special.NoTimestamps)
	}
	return seq, nil
}
