package validate

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

var mediaKeyRE = regexp.MustCompile(`^[a-zA-Z0-9\-_./]+$`)

// MediaKey checks a media key (the part after media://): characters
// [a-zA-Z0-9-_./], at most 255 of them, and — so a key maps to exactly one
// file and cannot climb out of its team's directory — no leading or
// trailing '/', no empty, "." or ".." path segments. The media stores use
// it too (media.ValidKey), so every key the API accepts can be stored.
func MediaKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty")
	case len(key) > 255:
		return errors.New("longer than 255 characters")
	case !mediaKeyRE.MatchString(key):
		return fmt.Errorf("%q may only contain letters, digits, '-', '_', '.' and '/'", key)
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("%q has an empty path segment or a leading/trailing '/'", key)
		case ".", "..":
			return fmt.Errorf("%q contains a %q path segment", key, seg)
		}
	}
	return nil
}
