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
// use and stay loaded; a whisper.Model serves concurrent jobs itself.
type Service struct {
	modelsDir string
	threads   int

	mu     sync.Mutex
	loaded map[string]*whisper.Model
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
	return &Service{modelsDir: modelsDir, threads: threads, loaded: map[string]*whisper.Model{}}
}

// CheckModel refuses names that are unknown or not installed.
func (s *Service) CheckModel(name string) error {
	full, ok := ServiceModels[name]
	if !ok {
		return fmt.Errorf("unknown transcription model %q (available: tiny.en, base)", name)
	}
	if _, err := models.Path(s.modelsDir, full); err != nil {
		// Users see this; the models directory is the server's business
		// (model loading reports it to the log).
		return fmt.Errorf("transcription model %q is not installed on this server", name)
	}
	return nil
}

func (s *Service) model(name string) (*whisper.Model, error) {
	if err := s.CheckModel(name); err != nil {
		return nil, err
	}
	full := ServiceModels[name]
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.loaded[full]; m != nil {
		return m, nil
	}
	dir, err := models.Path(s.modelsDir, full)
	if err != nil {
		return nil, err
	}
	m, err := whisper.New(whisper.DefaultConfig(dir).WithThreads(s.threads))
	if err != nil {
		return nil, err
	}
	s.loaded[full] = m
	return m, nil
}

// Transcribe gives the words of src with the speakers of res.
func (s *Service) Transcribe(ctx context.Context, src diarize.Source, res *diarize.Result, model string) (api.Transcription, error) {
	m, err := s.model(model)
	if err != nil {
		return api.Transcription{}, err
	}
	r, err := Transcribe(ctx, m, src, res.Exclusive, Options{Activity: res.Diarization})
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
	for k, m := range s.loaded {
		if err := m.Close(); err != nil && first == nil {
			first = err
		}
		delete(s.loaded, k)
	}
	return first
}
