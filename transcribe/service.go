package transcribe

import (
	"context"
	"fmt"
	"sync"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/models"
	"github.com/whospoke/whospoke/whisper"
)

// Service transcribes diarized recordings for the API. Models load on first
// use and stay loaded; each model decodes one recording at a time (its
// decoder holds per-call cache tensors), so concurrent jobs queue per model.
type Service struct {
	modelsDir string
	threads   int

	mu     sync.Mutex
	loaded map[string]*serviceModel
}

type serviceModel struct {
	mu sync.Mutex
	m  *whisper.Model
}

// ServiceModels maps the names the API accepts in transcriptionConfig.model to
// installed models. "" is the fast English default.
var ServiceModels = map[string]string{
	"":                "whisper-tiny.en",
	"tiny.en":         "whisper-tiny.en",
	"whisper-tiny.en": "whisper-tiny.en",
	"base":            "whisper-base",
	"whisper-base":    "whisper-base",
}

// NewService serves the Whisper models installed in modelsDir.
func NewService(modelsDir string, threads int) *Service {
	return &Service{modelsDir: modelsDir, threads: threads, loaded: map[string]*serviceModel{}}
}

// CheckModel refuses names that are unknown or not installed.
func (s *Service) CheckModel(name string) error {
	full, ok := ServiceModels[name]
	if !ok {
		return fmt.Errorf("unknown transcription model %q (available: tiny.en, base)", name)
	}
	_, err := models.Path(s.modelsDir, full)
	return err
}

func (s *Service) model(name string) (*serviceModel, error) {
	if err := s.CheckModel(name); err != nil {
		return nil, err
	}
	full := ServiceModels[name]
	s.mu.Lock()
	defer s.mu.Unlock()
	if sm := s.loaded[full]; sm != nil {
		return sm, nil
	}
	dir, err := models.Path(s.modelsDir, full)
	if err != nil {
		return nil, err
	}
	m, err := whisper.New(whisper.DefaultConfig(dir).WithThreads(s.threads))
	if err != nil {
		return nil, err
	}
	sm := &serviceModel{m: m}
	s.loaded[full] = sm
	return sm, nil
}

// Transcribe gives the words of src with the speakers of res.
func (s *Service) Transcribe(ctx context.Context, src diarize.Source, res *diarize.Result, model string) (api.Transcription, error) {
	sm, err := s.model(model)
	if err != nil {
		return api.Transcription{}, err
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	r, err := Transcribe(ctx, sm.m, src, res.Exclusive, Options{})
	if err != nil {
		return api.Transcription{}, err
	}
	return r.Transcription(), nil
}

// Close releases the loaded models.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for k, sm := range s.loaded {
		if err := sm.m.Close(); err != nil && first == nil {
			first = err
		}
		delete(s.loaded, k)
	}
	return first
}
