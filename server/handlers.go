package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/api/validate"
	"github.com/whospoke/whospoke/store"
)

func (s *Server) test(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.TestResponse{Status: "OK", Message: "whospoke is up and your API key is valid"})
}

func (s *Server) diarize(w http.ResponseWriter, r *http.Request) {
	var req api.DiarizeRequest
	if errs := validate.Body(w, r, &req); errs != nil {
		writeInvalid(w, errs)
		return
	}
	if errs := s.rules().Diarize(&req); errs != nil {
		writeInvalid(w, errs)
		return
	}
	s.submit(w, r, api.KindDiarize, req, req.Webhook, req.WebhookStatusOnly)
}

func (s *Server) voiceprint(w http.ResponseWriter, r *http.Request) {
	var req api.VoiceprintRequest
	if errs := validate.Body(w, r, &req); errs != nil {
		writeInvalid(w, errs)
		return
	}
	if errs := s.rules().Voiceprint(&req); errs != nil {
		writeInvalid(w, errs)
		return
	}
	s.submit(w, r, api.KindVoiceprint, req, req.Webhook, req.WebhookStatusOnly)
}

func (s *Server) identify(w http.ResponseWriter, r *http.Request) {
	var req api.IdentifyRequest
	if errs := validate.Body(w, r, &req); errs != nil {
		writeInvalid(w, errs)
		return
	}
	if errs := s.rules().Identify(&req); errs != nil {
		writeInvalid(w, errs)
		return
	}
	s.submit(w, r, api.KindIdentify, req, req.Webhook, req.WebhookStatusOnly)
}

// submit stores a job and queues it. A job that cannot be queued is marked
// failed rather than left pending forever.
func (s *Server) submit(w http.ResponseWriter, r *http.Request, kind string, req any, hook string, statusOnly bool) {
	body, err := json.Marshal(req)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "could not encode request")
		return
	}
	now := time.Now().UTC()
	j := store.Job{
		ID: newID(), TeamID: authOf(r).key.TeamID, Kind: kind, Status: api.StatusCreated,
		Request: body, Webhook: hook, WebhookStatusOnly: statusOnly, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.store.CreateJob(r.Context(), j); err != nil {
		s.log.Error("create job", "err", err)
		writeError(w, r, http.StatusServiceUnavailable, "Could not store the job; try again")
		return
	}
	if err := s.queue.Publish(r.Context(), j.ID); err != nil {
		s.log.Error("queue job", "job", j.ID, "err", err)
		out, _ := json.Marshal(api.ErrorOutput{Error: "Could not queue the job"})
		if _, err := s.store.FinishJob(r.Context(), j.ID, api.StatusFailed, out, nil); err != nil {
			// The job stays "created" and never runs: worth an alert.
			s.log.Error("mark unqueued job failed", "job", j.ID, "err", err)
		}
		writeError(w, r, http.StatusServiceUnavailable, "Could not queue the job; try again")
		return
	}
	s.metrics.jobsSubmitted.WithLabelValues(kind).Inc()
	writeJSON(w, http.StatusOK, api.JobCreated{JobID: j.ID, Status: api.StatusCreated})
}

// jobView is what a client may see of a job: the output only once finished
// (succeeded, or failed with its error).
func jobView(j store.Job) api.Job {
	v := api.Job{JobID: j.ID, Status: j.Status, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt}
	if j.Status == api.StatusSucceeded || j.Status == api.StatusFailed {
		v.Output = j.Output
	}
	return v
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	j, ok := s.teamJob(w, r)
	if ok {
		writeJSON(w, http.StatusOK, jobView(j))
	}
}

// teamJob loads the path's job for the caller's team; another team's job is
// "not found", never "forbidden", so IDs leak nothing.
func (s *Server) teamJob(w http.ResponseWriter, r *http.Request) (store.Job, bool) {
	id := r.PathValue("jobId")
	j, err := s.store.Job(r.Context(), authOf(r).key.TeamID, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, r, http.StatusNotFound, fmt.Sprintf("Job %s not found", clip(id)))
		return j, false
	case err != nil:
		s.log.Error("get job", "err", err)
		writeError(w, r, http.StatusServiceUnavailable, "Job store unavailable")
		return j, false
	}
	return j, true
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	j, ok := s.teamJob(w, r)
	if !ok {
		return
	}
	if api.Terminal(j.Status) {
		writeError(w, r, http.StatusConflict, fmt.Sprintf("Job %s already %s", j.ID, j.Status))
		return
	}
	j, err := s.store.FinishJob(r.Context(), j.ID, api.StatusCanceled, nil, s.delivery(j, api.StatusCanceled, nil))
	switch {
	case errors.Is(err, store.ErrTerminal):
		j, _ = s.store.Job(r.Context(), "", j.ID)
		writeError(w, r, http.StatusConflict, fmt.Sprintf("Job %s already %s", j.ID, j.Status))
		return
	case err != nil:
		s.log.Error("cancel job", "err", err)
		writeError(w, r, http.StatusServiceUnavailable, "Job store unavailable")
		return
	}
	s.stopLocal(j.ID)
	s.metrics.jobsFinished.WithLabelValues(api.StatusCanceled).Inc()
	writeJSON(w, http.StatusOK, jobView(j))
}

var listStatuses = []string{api.StatusPending, api.StatusCreated, api.StatusRunning, api.StatusSucceeded, api.StatusFailed, api.StatusCanceled}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opt := store.ListOptions{Limit: 10, Cursor: q.Get("cursor"), Status: q.Get("status")}
	var errs []api.FieldError
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			errs = append(errs, api.FieldError{Field: "limit", Message: "must be an integer from 1 to 100"})
		}
		opt.Limit = n
	}
	if opt.Status != "" && !slices.Contains(listStatuses, opt.Status) {
		errs = append(errs, api.FieldError{Field: "status", Message: "must be one of " + strings.Join(listStatuses, ", ")})
	}
	if errs != nil {
		writeInvalid(w, errs)
		return
	}
	jobs, next, err := s.store.ListJobs(r.Context(), authOf(r).key.TeamID, opt)
	if errors.Is(err, store.ErrInvalidCursor) {
		writeInvalid(w, []api.FieldError{{Field: "cursor", Message: "invalid cursor"}})
		return
	}
	if err != nil {
		s.log.Error("list jobs", "err", err)
		writeError(w, r, http.StatusServiceUnavailable, "Job store unavailable")
		return
	}
	out := api.JobList{Items: make([]api.JobSummary, len(jobs))}
	for i, j := range jobs {
		out.Items[i] = api.JobSummary{ID: j.ID, Status: j.Status, CreatedAt: j.CreatedAt}
	}
	if next != "" {
		out.NextCursor = &next
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) mediaInput(w http.ResponseWriter, r *http.Request)  { s.presign(w, r, http.MethodPut) }
func (s *Server) mediaOutput(w http.ResponseWriter, r *http.Request) { s.presign(w, r, http.MethodGet) }

// presign answers 201 with a pre-signed URL served by this server.
func (s *Server) presign(w http.ResponseWriter, r *http.Request, method string) {
	var req api.MediaRequest
	if errs := validate.Body(w, r, &req); errs != nil {
		writeInvalid(w, errs)
		return
	}
	if !strings.HasPrefix(req.URL, "media://") {
		writeInvalid(w, []api.FieldError{{Field: "url", Message: "must be a media:// URL"}})
		return
	}
	if fe := s.rules().InputURL("url", req.URL); fe != nil {
		writeInvalid(w, []api.FieldError{*fe})
		return
	}
	key := strings.TrimPrefix(req.URL, "media://")
	u := s.signer.Sign(method, authOf(r).key.TeamID, key, time.Now().Add(s.cfg.MediaURLTTL))
	writeJSON(w, http.StatusCreated, api.MediaURL{URL: u})
}
