package audio

// Recorder collects 16 kHz mono samples that arrive over time (a live
// stream) into an Audio: in memory at first, in a temporary file once long,
// with opt.MaxDuration enforced as they arrive. Non-finite samples become
// silence. It is not safe for concurrent use.
type Recorder struct{ s *sink }

// NewRecorder starts an empty recording.
func NewRecorder(opt Options) *Recorder { return &Recorder{s: newSink(opt)} }

// Write appends samples (it may zero non-finite ones in place); ErrTooLong
// past the maximum duration.
func (r *Recorder) Write(x []float32) error { return r.s.write(x) }

// Len is the number of samples recorded so far.
func (r *Recorder) Len() int64 { return r.s.n }

// Finish returns the recording (the caller closes it); the Recorder must
// not be used afterwards.
func (r *Recorder) Finish() (*Audio, error) { return r.s.finish() }

// Discard drops the recording and its temporary file.
func (r *Recorder) Discard() { r.s.abort() }
