package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config locates an S3-compatible bucket (AWS, MinIO, …).
type S3Config struct {
	Endpoint  string // host[:port], no scheme
	Bucket    string
	AccessKey string
	SecretKey string
	UseSSL    bool
	Region    string // optional
}

// String hides the secret key so configs can be logged.
func (c S3Config) String() string {
	secret := ""
	if c.SecretKey != "" {
		secret = "***"
	}
	return fmt.Sprintf("s3://%s:%s@%s/%s?ssl=%t&region=%s", c.AccessKey, secret, c.Endpoint, c.Bucket, c.UseSSL, c.Region)
}

// ParseS3 parses "s3://ACCESS:SECRET@host[:port]/bucket?ssl=false&region=R".
// ssl defaults to true. Characters such as '/' or '@' in the secret must be
// percent-encoded. Unknown parameters are refused so typos do not pass
// silently.
func ParseS3(s string) (S3Config, error) {
	u, err := url.Parse(s)
	if err != nil {
		return S3Config{}, fmt.Errorf("media: invalid S3 URL: %w", redactParseErr(err))
	}
	if u.Scheme != "s3" {
		return S3Config{}, fmt.Errorf("media: S3 URL must start with s3://, got scheme %q", u.Scheme)
	}
	cfg := S3Config{Endpoint: u.Host, UseSSL: true}
	if cfg.Endpoint == "" {
		return S3Config{}, errors.New("media: S3 URL has no host")
	}
	if u.User != nil {
		cfg.AccessKey = u.User.Username()
		cfg.SecretKey, _ = u.User.Password()
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return S3Config{}, errors.New("media: S3 URL needs ACCESS:SECRET@ credentials")
	}
	cfg.Bucket = strings.Trim(u.Path, "/")
	if cfg.Bucket == "" || strings.Contains(cfg.Bucket, "/") {
		return S3Config{}, fmt.Errorf("media: S3 URL path must be exactly one bucket name, got %q", u.Path)
	}
	for k, v := range u.Query() {
		switch k {
		case "ssl":
			b, err := strconv.ParseBool(v[0])
			if err != nil {
				return S3Config{}, fmt.Errorf("media: S3 URL: ssl=%q is not a boolean", v[0])
			}
			cfg.UseSSL = b
		case "region":
			cfg.Region = v[0]
		default:
			return S3Config{}, fmt.Errorf("media: S3 URL: unknown parameter %q (known: ssl, region)", k)
		}
	}
	return cfg, nil
}

// redactParseErr drops the echoed URL, which may contain the secret.
func redactParseErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// S3 is a Store on an S3-compatible bucket; objects are named team/key and
// the object's LastModified is its age for retention.
type S3 struct {
	c      *minio.Client
	bucket string
}

// partSize bounds memory: uploads of unknown length are buffered one part
// at a time.
const partSize = 16 << 20

// NewS3 connects to the bucket, creating it if it does not exist.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.UseSSL,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("media: S3 client for %s: %w", cfg.Endpoint, err)
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("media: S3 bucket %q at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	if !ok {
		if err := c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
			return nil, fmt.Errorf("media: create S3 bucket %q: %w", cfg.Bucket, err)
		}
	}
	return &S3{c: c, bucket: cfg.Bucket}, nil
}

func objectName(team, key string) string { return team + "/" + key }

func isNoSuchKey(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == minio.NoSuchKey || code == "NotFound"
}

// Put implements Store. An oversize or failed upload is aborted by the
// client, so no partial object remains.
func (s *S3) Put(ctx context.Context, team, key string, r io.Reader, maxBytes int64) (int64, error) {
	if err := validate(team, key); err != nil {
		return 0, err
	}
	lr := newLimitReader(ctx, r, maxBytes)
	info, err := s.c.PutObject(ctx, s.bucket, objectName(team, key), lr, -1, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		PartSize:    partSize,
	})
	if lr.over {
		return 0, fmt.Errorf("%w (more than %d bytes)", ErrTooLarge, maxBytes)
	}
	if err != nil {
		return 0, fmt.Errorf("media: S3 put %s/%s: %w", team, key, err)
	}
	return info.Size, nil
}

// Open implements Store.
func (s *S3) Open(ctx context.Context, team, key string) (io.ReadCloser, int64, error) {
	if err := validate(team, key); err != nil {
		return nil, 0, err
	}
	obj, err := s.c.GetObject(ctx, s.bucket, objectName(team, key), minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("media: S3 get %s/%s: %w", team, key, err)
	}
	// GetObject is lazy; Stat makes the request and surfaces NoSuchKey.
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		if isNoSuchKey(err) {
			return nil, 0, fmt.Errorf("%w: %s/%s", ErrNotFound, team, key)
		}
		return nil, 0, fmt.Errorf("media: S3 get %s/%s: %w", team, key, err)
	}
	return obj, st.Size, nil
}

// Delete implements Store. S3 deletes are idempotent, so existence is
// checked first to report ErrNotFound like Dir does.
func (s *S3) Delete(ctx context.Context, team, key string) error {
	if err := validate(team, key); err != nil {
		return err
	}
	name := objectName(team, key)
	if _, err := s.c.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{}); err != nil {
		if isNoSuchKey(err) {
			return fmt.Errorf("%w: %s/%s", ErrNotFound, team, key)
		}
		return fmt.Errorf("media: S3 stat %s/%s: %w", team, key, err)
	}
	if err := s.c.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("media: S3 delete %s/%s: %w", team, key, err)
	}
	return nil
}

// Usage implements Store.
func (s *S3) Usage(ctx context.Context, team string) (int64, error) {
	if err := ValidTeam(team); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine if we return early
	var total int64
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: team + "/", Recursive: true}) {
		if obj.Err != nil {
			return 0, fmt.Errorf("media: S3 list %q: %w", s.bucket, obj.Err)
		}
		total += obj.Size
	}
	return total, nil
}

// DeleteOlderThan implements Store.
func (s *S3) DeleteOlderThan(ctx context.Context, t time.Time) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine if we return early
	removed := 0
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			return removed, fmt.Errorf("media: S3 list %q: %w", s.bucket, obj.Err)
		}
		if !obj.LastModified.Before(t) {
			continue
		}
		if err := s.c.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			return removed, fmt.Errorf("media: S3 delete %s: %w", obj.Key, err)
		}
		removed++
	}
	return removed, ctx.Err()
}
