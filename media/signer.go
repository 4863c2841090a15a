package media

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Signature errors; the handler answers both with 403.
var (
	ErrExpired      = errors.New("media: signed URL has expired")
	ErrBadSignature = errors.New("media: invalid URL signature")
)

// Signer makes and checks whospoke's own pre-signed media URLs. The
// signature binds method, team, key and expiry, so a GET URL cannot be
// used to upload, nor a URL re-pointed at another key or extended.
type Signer struct {
	Secret  []byte
	BaseURL string // public base URL of this server, e.g. https://whospoke.example.com
}

// Sign returns BaseURL/media/<team>/<key>?expires=<unix>&sig=<hex>. Team
// and key must already be valid (ValidTeam, ValidKey): their characters
// are URL-safe, so they appear unescaped.
func (s Signer) Sign(method, team, key string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return strings.TrimRight(s.BaseURL, "/") + "/media/" + team + "/" + key +
		"?expires=" + exp + "&sig=" + hex.EncodeToString(s.mac(method, team, key, exp))
}

// Verify checks a signature taken from a URL's expires and sig parameters.
// The signature is checked before the expiry so an edited expires reads as
// tampering. An empty Secret verifies nothing (fail closed).
func (s Signer) Verify(method, team, key, expiresStr, sig string, now time.Time) error {
	if len(s.Secret) == 0 {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(sig)
	if err != nil || expiresStr == "" {
		return ErrBadSignature
	}
	if !hmac.Equal(got, s.mac(method, team, key, expiresStr)) {
		return ErrBadSignature
	}
	exp, err := strconv.ParseInt(expiresStr, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if now.Unix() > exp {
		return ErrExpired
	}
	return nil
}

func (s Signer) mac(method, team, key, expires string) []byte {
	m := hmac.New(sha256.New, s.Secret)
	// Newline-separated: none of the fields can contain one, so the
	// encoding is unambiguous.
	m.Write([]byte("whospoke-media-v1\n" + strings.ToUpper(method) + "\n" + team + "\n" + key + "\n" + expires))
	return m.Sum(nil)
}
