package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/client"
	"github.com/whospoke/whospoke/live"
)

func init() {
	var (
		url, key, pace, rttm string
		maxSpeakers          int
		revision, transcribe bool
	)
	c := &cobra.Command{
		Use:   "stream FILE",
		Short: "Send a file through a server's live diarization and print the events",
		Long: `Create a live stream on a whospoke (or pyannoteAI Live-compatible) server, send
FILE through the WebSocket protocol in 100 ms frames and print every event the
server sends as one JSON line on standard output. --rttm also writes the turns
the events make. --pace max sends as fast as possible, which a server refuses
unless it runs with --live-max-ahead 0. --transcription asks for the live
transcript too and prints, instead of the events, one line per final turn:
"[SPEAKER_00] 1.24-3.86 text".`,
		Example: `  export WHOSPOKE_API_KEY=…                    # from whospoke keys create
  whospoke stream meeting.wav                  # speaker events as JSON lines
  whospoke stream meeting.wav --transcription  # who said what, as it is said
  whospoke stream meeting.wav --url http://gpu1:8080 --rttm live.rttm --revision`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			url = flagOrEnv(url, "WHOSPOKE_URL")
			if url == "" {
				url = "http://localhost:8080"
			}
			key = flagOrEnv(key, "WHOSPOKE_API_KEY")
			p, err := client.ParsePace(pace)
			if err != nil {
				return err
			}
			if key == "" {
				return errors.New("no API key: pass --key or set WHOSPOKE_API_KEY")
			}
			a, err := openInput(cmd, args[0], -1, 5*time.Hour)
			if err != nil {
				return err
			}
			defer a.Close()
			req := api.LiveRequest{Revision: revision, Transcription: transcribe}
			if maxSpeakers > 0 {
				req.MaxSpeakers = &maxSpeakers
			}
			out := json.NewEncoder(cmd.OutOrStdout())
			cl := &client.Client{BaseURL: url, Key: key}
			start := time.Now()
			onEvent := func(e client.Event) { _ = out.Encode(json.RawMessage(e.Raw)) }
			if transcribe {
				onEvent = func(e client.Event) {
					if t := e.Transcript; t != nil && t.Final {
						fmt.Fprintf(cmd.OutOrStdout(), "[%s] %.2f-%.2f %s\n", t.Speaker, t.Start, t.End, t.Text)
					}
				}
			}
			res, err := cl.Stream(cmd.Context(), a, client.StreamOptions{Request: req, Pace: p, OnEvent: onEvent})
			fmt.Fprintf(os.Stderr, "whospoke stream: %d frames (%.1f s of audio) in %.1f s, %d events, closed %d %q\n",
				res.Sent, float64(res.Sent)/10, time.Since(start).Seconds(), len(res.Events), res.CloseCode, res.CloseReason)
			if err != nil {
				return err
			}
			if rttm != "" {
				return writeEventsRTTM(rttm, fileID(args[0]), res.Events)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&url, "url", "", "server base URL (default $WHOSPOKE_URL, else http://localhost:8080)")
	f.StringVar(&key, "key", "", "API key with stream:write (default $WHOSPOKE_API_KEY)")
	f.StringVar(&pace, "pace", "realtime", "realtime (100 ms per frame) or max")
	f.StringVar(&rttm, "rttm", "", "also write the turns the events make as RTTM to this file")
	f.IntVar(&maxSpeakers, "max-speakers", 0, "most speakers in the stream (default: the server's, 8)")
	f.BoolVar(&transcribe, "transcription", false, "transcribe too, and print the final transcript lines instead of the events")
	f.BoolVar(&revision, "revision", false, "ask for the offline re-diarization of the whole stream at the end (speaker_revision event)")
	rootCmd.AddCommand(c)
}

// writeEventsRTTM turns the speaker events into turns.
func writeEventsRTTM(path, uri string, events []client.Event) error {
	a, err := live.ToAnnotation(uri, client.SpeakerEvents(events))
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := annotation.WriteRTTM(f, a); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
