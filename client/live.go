// Package client talks to a whospoke server (or any pyannoteAI
// Live-compatible one) the way the vendor's clients do: it creates a live
// stream, sends audio through the WebSocket protocol of docs/API.md §2 and
// hands back every event.
package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/live"
)

// Pace says how fast audio is sent.
type Pace int

const (
	// Realtime sends one 100 ms frame every 100 ms, as a microphone would.
	Realtime Pace = iota
	// Max sends as fast as the connection takes it (the server must allow
	// it: `whospoke serve --live-max-ahead 0`).
	Max
)

// ParsePace reads "realtime" or "max".
func ParsePace(s string) (Pace, error) {
	switch s {
	case "realtime":
		return Realtime, nil
	case "max":
		return Max, nil
	}
	return 0, fmt.Errorf("pace %q: want realtime or max", s)
}

// Client is a server's base URL and an API key.
type Client struct {
	BaseURL string
	Key     string
	HTTP    *http.Client // default http.DefaultClient
}

// APIError is a refusal in the API's error shape.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Message) }

// apiError reads an error response.
func apiError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Message string `json:"message"`
		Errors  []struct {
			Field, Message string
		} `json:"errors"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		msg = e.Message
		for _, f := range e.Errors {
			msg += fmt.Sprintf("; %s: %s", f.Field, f.Message)
		}
	}
	return &APIError{Status: resp.StatusCode, Message: msg}
}

// CreateLive asks for a live stream (POST /v1/live).
func (c *Client) CreateLive(ctx context.Context, req api.LiveRequest) (api.LiveSession, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return api.LiveSession{}, err
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.BaseURL, "/")+"/v1/live", bytes.NewReader(body))
	if err != nil {
		return api.LiveSession{}, err
	}
	r.Header.Set("Authorization", "Bearer "+c.Key)
	r.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(r)
	if err != nil {
		return api.LiveSession{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return api.LiveSession{}, apiError(resp)
	}
	var s api.LiveSession
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return api.LiveSession{}, fmt.Errorf("reading POST /v1/live answer: %w", err)
	}
	return s, nil
}

// Event is one message from the server: Raw exactly as received, and decoded.
type Event struct {
	Raw []byte
	api.LiveEvent
	// Speaker is the decoded data of a speaker start or end.
	Speaker *api.SpeakerEvent
	// Revision is the decoded data of a speaker_revision.
	Revision *api.Revision
	// Transcript is the decoded data of a transcript event.
	Transcript *api.Transcript
}

// Result is how a stream ended.
type Result struct {
	Events      []Event
	CloseCode   websocket.StatusCode // -1 if the connection dropped without a close
	CloseReason string
	Sent        int // audio frames sent
}

// Source gives samples to send: 16 kHz mono, read like io.ReaderAt.
type Source interface {
	Len() int64
	ReadAt(dst []float32, off int64) (int, error)
}

// StreamOptions shape one stream.
type StreamOptions struct {
	Request api.LiveRequest
	Pace    Pace
	// OnEvent, if set, sees each event as it arrives.
	OnEvent func(Event)
	// SkipEndOfStream stops sending without end_of_stream (the server then
	// closes the stream when it has been idle long enough).
	SkipEndOfStream bool
}

// Stream creates a live stream and sends src through it in 100 ms frames
// (the last padded with silence), then end_of_stream, and collects every
// event until the server closes the socket.
func (c *Client) Stream(ctx context.Context, src Source, opt StreamOptions) (Result, error) {
	s, err := c.CreateLive(ctx, opt.Request)
	if err != nil {
		return Result{}, err
	}
	return StreamTo(ctx, s.URL, src, opt)
}

// StreamTo sends src to a stream's WebSocket URL (see Stream).
func StreamTo(ctx context.Context, url string, src Source, opt StreamOptions) (Result, error) {
	conn, resp, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return Result{}, apiError(resp)
		}
		return Result{}, err
	}
	defer conn.CloseNow()
	conn.SetReadLimit(16 << 20) // a revision of a long stream is large

	var res Result
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				res.CloseCode = websocket.CloseStatus(err)
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					res.CloseReason = ce.Reason
				} else {
					res.CloseReason = err.Error()
				}
				return
			}
			ev := Event{Raw: data}
			if err := decodeEvent(data, &ev); err != nil {
				ev.Type, ev.Message = api.EventError, "undecodable event: "+err.Error()
			}
			res.Events = append(res.Events, ev)
			if opt.OnEvent != nil {
				opt.OnEvent(ev)
			}
		}
	}()

	sendErr := send(ctx, conn, src, opt, &res.Sent, done)
	if sendErr == nil && !opt.SkipEndOfStream {
		sendErr = conn.Write(ctx, websocket.MessageText, []byte(`{"type":"`+api.EndOfStream+`"}`))
	}
	select {
	case <-done:
	case <-ctx.Done():
		conn.CloseNow()
		<-done
		return res, ctx.Err()
	}
	if res.CloseCode != websocket.StatusNormalClosure {
		return res, fmt.Errorf("stream closed with %d: %s", res.CloseCode, res.CloseReason)
	}
	if sendErr != nil {
		return res, sendErr
	}
	return res, nil
}

// send writes the audio frames; it stops early if the server closes.
func send(ctx context.Context, conn *websocket.Conn, src Source, opt StreamOptions, sent *int, closed <-chan struct{}) error {
	samples := make([]float32, api.LiveFrameSamples)
	frame := make([]byte, api.LiveFrameBytes)
	start := time.Now()
	for off := int64(0); off < src.Len(); off += api.LiveFrameSamples {
		n, err := src.ReadAt(samples, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		clear(samples[n:])
		for i, v := range samples {
			binary.LittleEndian.PutUint32(frame[4*i:], math.Float32bits(v))
		}
		if opt.Pace == Realtime {
			// Frame k holds audio up to (k+1)×100 ms: it exists only then.
			due := start.Add(time.Duration(*sent+1) * 100 * time.Millisecond)
			select {
			case <-time.After(time.Until(due)):
			case <-closed:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		select {
		case <-closed:
			return nil
		default:
		}
		if err := conn.Write(ctx, websocket.MessageBinary, frame); err != nil {
			select {
			case <-closed: // the server closed first: its reason says why
				return nil
			default:
				return err
			}
		}
		*sent++
	}
	return nil
}

func decodeEvent(data []byte, ev *Event) error {
	var raw struct {
		Type    string          `json:"type"`
		Data    json.RawMessage `json:"data"`
		Message string          `json:"message"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	ev.Type, ev.Message = raw.Type, raw.Message
	switch raw.Type {
	case api.EventSpeakerStart, api.EventSpeakerEnd:
		ev.Speaker = new(api.SpeakerEvent)
		ev.Data = ev.Speaker
		return json.Unmarshal(raw.Data, ev.Speaker)
	case api.EventRevision:
		ev.Revision = new(api.Revision)
		ev.Data = ev.Revision
		return json.Unmarshal(raw.Data, ev.Revision)
	case api.EventTranscript:
		ev.Transcript = new(api.Transcript)
		ev.Data = ev.Transcript
		return json.Unmarshal(raw.Data, ev.Transcript)
	}
	return nil
}

// SpeakerEvents returns the speaker starts and ends among events as the
// engine's events (for live.CheckEvents and live.ToAnnotation).
func SpeakerEvents(events []Event) []live.Event {
	var out []live.Event
	for _, e := range events {
		if e.Speaker == nil {
			continue
		}
		typ := live.Start
		if e.Type == api.EventSpeakerEnd {
			typ = live.End
		}
		out = append(out, live.Event{Type: typ, Speaker: e.Speaker.Speaker, Time: e.Speaker.Timestamp})
	}
	return out
}
