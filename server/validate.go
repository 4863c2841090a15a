package server

import (
	"github.com/whospoke/whospoke/api/validate"
	"github.com/whospoke/whospoke/identify"
)

// rules are what request bodies are checked against on this server (read
// at each request: tests swap the transcriber after New).
func (s *Server) rules() validate.Rules {
	r := validate.Rules{
		RemoteURL:         s.checkURL,
		DecodeVoiceprint:  decodeVoiceprint,
		LiveTranscription: s.livetext != nil,
	}
	if s.transcriber != nil {
		r.TranscriptionModel = s.transcriber.CheckModel
	}
	return r
}

func decodeVoiceprint(v string) error {
	_, err := identify.Decode(v)
	return err
}
